"""`mai-bench report RESULTS... [--format table|md|html|csv|json] [-o FILE]`: render result files (or folders
of them), merged with fidelity documents by model sha256."""

from __future__ import annotations

from pathlib import Path

import click

_SUFFIXES = {".txt": "table", ".md": "md", ".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "md", "html", "csv", "json"]), default=None,
              help="Output format. Default: from the -o file's suffix, else table.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to this file (atomically) instead of stdout.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def command(paths: tuple[Path, ...], fmt: str | None, output: Path | None, as_json: bool) -> None:
    """Show result files (or folders of them) with their fidelity documents, as a table, Markdown, one
    self-contained HTML file with charts, CSV or JSON."""
    import sys

    from mai_bench.cli.console import console, err_console
    from mai_bench.errors import UsageError
    from mai_bench.report import render
    from mai_bench.report.inputs import load_inputs
    from mai_bench.report.merge import build_report
    from mai_bench.results.store import write_atomic

    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} contradict each other", "pass only one of them")
    if as_json:
        fmt = "json"
    elif fmt is None:
        fmt = _SUFFIXES.get(output.suffix.lower(), "table") if output is not None else "table"
    inputs = load_inputs(paths)
    report = build_report(inputs.results, inputs.fidelity)
    if output is not None:
        write_atomic(output, render(report, fmt))
        err_console().print(f"wrote {output}", markup=False, highlight=False)
    elif fmt == "table":
        from mai_bench.report.terminal import print_report

        print_report(console(), report)
    else:
        sys.stdout.write(render(report, fmt))
        sys.stdout.flush()
