"""`mai-bench compare A B [--fail-on slower] [--threshold 0.05] [--json]`: old results A against new results B,
one outcome per configuration pair (see mai_bench.stats.compare)."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_OK

_STYLE = {"slower": "red", "new failure": "red", "faster": "green", "fixed": "green", "not significant": "",
          "not comparable": "yellow"}


@click.command("compare")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--fail-on", "fail_on", type=click.Choice(["slower", "new-failure"]), multiple=True,
              help="Exit 1 when any pair has this outcome; repeat for several.")
@click.option("--threshold", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Smallest change that counts, as a fraction (0.05 = 5%), on top of non-overlapping intervals.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
def command(old: Path, new: Path, fail_on: tuple[str, ...], threshold: float, as_json: bool) -> int:
    """Compare result files (or folders) OLD and NEW: faster, slower, not significant, new failure, fixed or
    not comparable, for each pair of configurations."""
    from mai_bench.cli.console import console, print_json
    from mai_bench.stats.compare import compare

    comparison = compare(_results(old), _results(new), threshold=threshold)
    if as_json:
        print_json(comparison.to_dict())
    else:
        _print(console(), comparison)
    failing = {outcome.replace("-", " ") for outcome in fail_on}
    return EXIT_CHECK_FAILED if any(comparison.has(outcome) for outcome in failing) else EXIT_OK


def _results(path: Path):
    """The results in a file or folder; fidelity documents there are skipped (they hold no runtime)."""
    from mai_bench.errors import UsageError
    from mai_bench.report.inputs import load_inputs

    results = load_inputs([path]).results
    if not results:
        raise UsageError(f"{path} holds no runtime results", "pass files written by `mai-bench run --out`")
    return results


def _print(out, comparison) -> None:
    from rich.table import Table
    from rich.text import Text

    from mai_bench.report.escape import safe_text
    from mai_bench.report.layout import fit
    from mai_bench.report.numbers import fmt_interval, fmt_ratio

    table = Table(title=f"B against A (threshold {comparison.threshold:.0%}; ms, 95% intervals)",
                  title_justify="left")
    for column in ("outcome", "benchmark", "A", "B", "B/A (95% CI)"):
        numeric = column in ("A", "B", "B/A (95% CI)")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column == "outcome",
                         overflow="fold")
    for pair in comparison.pairs:
        ratio = "-"
        if pair.ratio is not None:
            ratio = fmt_ratio(pair.ratio.value)
            if pair.ratio.low is not None:
                ratio += f" ({fmt_ratio(pair.ratio.low)}–{fmt_ratio(pair.ratio.high)})"
        table.add_row(Text(pair.outcome, style=_STYLE[pair.outcome]), Text(safe_text(pair.label)),
                      "-" if pair.a is None else fmt_interval(pair.a.summary),
                      "-" if pair.b is None else fmt_interval(pair.b.summary), ratio)
    out.print(fit(out, table, key_columns=2))  # the outcome and the benchmark name a stacked row
    for pair in comparison.pairs:
        for reason in pair.reasons:
            out.print(Text(safe_text(f"{pair.label}: {reason}"), style="dim"))
    counts = ", ".join(f"{n} {outcome}" for outcome, n in comparison.counts().items())
    out.print(Text(counts or "nothing to compare"))
