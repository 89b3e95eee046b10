"""`mai-bench report RESULTS...`: render result files (or folders of them)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the merged results as JSON.")
def command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Show result files (or folders of result files) as a table."""
    from mai_bench.cli.console import console, print_json
    from mai_bench.report.terminal import print_results
    from mai_bench.results.store import collect_results

    results = collect_results(paths)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        print_results(console(), results)
