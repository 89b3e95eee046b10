"""`mai-bench baselines [--json]`: the Mobile AI 2022 Learned Smartphone ISP challenge's published results."""

from __future__ import annotations

import click


@click.command("baselines")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
def command(as_json: bool) -> None:
    """Show Table 1 of the MAI 2022 Learned Smartphone ISP challenge (SM8450 GPU) with Table 2's MOS."""
    from mai_bench.baselines import DELEGATE, PLATFORM, PROFILE, SOURCE, table1
    from mai_bench.cli.console import console, print_json

    entries = table1()
    if as_json:
        print_json({"profile": PROFILE, "delegate": DELEGATE, "platform": PLATFORM, "source": SOURCE,
                    "entries": [e.to_dict() for e in entries]})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"MAI 2022 Learned Smartphone ISP, Table 1 ({PROFILE.upper()} GPU)", title_justify="left")
    table.add_column("team")
    for column in ("MB", "PSNR", "SSIM", "CPU ms", "GPU ms", "score", "MOS"):
        table.add_column(column, justify="right", no_wrap=True)
    for e in entries:
        table.add_row(Text(e.team + (" *" if e.note else ""), style="bold" if e.baseline else ""), f"{e.size_mb:g}",
                      f"{e.psnr:g}", f"{e.ssim:g}", f"{e.cpu_ms:g}", f"{e.gpu_ms:g}",
                      f"{e.score:.{e.score_decimals}f}", "-" if e.mos is None else f"{e.mos:g}")
    out = console()
    out.print(table)
    for e in entries:
        if e.note:
            out.print(Text(f"* {e.team}: {e.note}"))
    out.print(Text(f"{PLATFORM}. Baselines in bold; authors and frameworks with --json.", style="dim"))
    out.print(Text(f"Source: {SOURCE}.", style="dim"))
