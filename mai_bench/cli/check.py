"""`mai-bench check MODEL`: pre-submission checks. Exit 0 pass, 1 a check failed, 2 not a model."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.console import console, print_json
from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_OK

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@click.command("check")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--gpu-probe/--no-gpu-probe", default=True, show_default=True,
              help="Also ask LiteRT's real GPU accelerator (compile only) on this host's Vulkan device.")
def command(model: Path, as_json: bool, gpu_probe: bool) -> int:
    """Check MODEL against the challenge's rules: one float32 [1,544,960,4] input (or resizable to it), a
    [1,1088,1920,3] output, builtin ops only, every op supported by the GPU delegate (the phone delegate's op
    list decides; LiteRT's GPU accelerator on this host is asked too, and each finding names who said it)."""
    from mai_bench.model.checks import check_model

    report = check_model(model, gpu_probe=gpu_probe)
    if as_json:
        print_json(report.to_dict())
    else:
        _render(report)
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def _render(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Checks for {escape(str(report.model.path))}", title_justify="left")
    table.add_column("severity")
    table.add_column("check")
    table.add_column("finding")
    table.add_column("fix")
    for f in report.findings:
        style = _STYLE[f.severity]
        table.add_row(f"[{style}]{f.severity}[/]", f.code, escape(f.message), escape(f.fix or ""))
    out = console()
    out.print(table)
    if report.passed:
        out.print("[bold green]PASS[/]: ready for the GPU delegate at Full HD")
    else:
        out.print(f"[bold red]FAIL[/]: {len(report.errors)} error(s)")
