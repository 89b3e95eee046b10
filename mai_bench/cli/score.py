"""`mai-bench score --psnr P --runtime-ms T [--json]`: the challenge's Final Score and its rank in Table 1."""

from __future__ import annotations

import click


@click.command("score")
@click.option("--psnr", type=float, required=True, help="PSNR in dB on the challenge's test set.")
@click.option("--runtime-ms", type=float, required=True, help="Runtime in ms (SM8450 GPU delegate, Full HD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def command(psnr: float, runtime_ms: float, as_json: bool) -> None:
    """Compute 2^(2*PSNR) / (2^40 * runtime_ms) and where it would rank among Table 1's 15 entries."""
    from mai_bench.cli.console import console, print_json
    from mai_bench.report.numbers import fmt_score
    from mai_bench.score import FORMULA, place

    placement = place(psnr, runtime_ms)
    if as_json:
        print_json(placement.to_dict())
        return
    out = console()
    out.print(f"score {fmt_score(placement.score)}  ({FORMULA})", markup=False)
    out.print(f"rank {placement.rank} of {placement.of} among Table 1 of the MAI 2022 Learned Smartphone ISP "
              "challenge", markup=False)
    if placement.above is not None:
        out.print(f"  behind {placement.above.label}: {placement.above.score:.{placement.above.score_decimals}f}",
                  markup=False)
    if placement.below is not None:
        out.print(f"  ahead of {placement.below.label}: {placement.below.score:.{placement.below.score_decimals}f}",
                  markup=False)
    out.print("Meaningful only for a runtime measured with the GPU delegate on an SM8450 (Snapdragon 8 Gen 1) "
              "phone at Full HD.", markup=False, style="dim")
