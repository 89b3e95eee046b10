"""`mai-bench report RESULTS... [--format table|md|html|csv|json] [-o FILE]`: render result files (or folders
of them), merged with fidelity documents by model sha256."""

from __future__ import annotations

from pathlib import Path

import click

_ALIASES = {".htm": "html", ".markdown": "md"}  # other spellings of the formats' own suffixes


def _suffixes() -> dict[str, str]:
    """File suffix -> the report format that writes it: each format's own suffix (mai_bench.report.FORMATS) and
    its other spellings."""
    from mai_bench.report import FORMATS

    own = {suffix: fmt for fmt, (_, suffix) in FORMATS.items()}
    return {**own, **{suffix: fmt for suffix, fmt in _ALIASES.items() if fmt in FORMATS}}


def output_format(output: Path, fmt: str | None) -> str:
    """The format to write `output` in: `fmt`, else the one its suffix names. A suffix no format writes (`.pdf`)
    or one that names another format than `fmt` is a usage error: a file is never written under a name that
    says it is something else."""
    from mai_bench.errors import UsageError

    suffixes = _suffixes()
    suffix = output.suffix.lower()
    known = ", ".join(f"{s} ({f})" for s, f in suffixes.items())
    if suffix and suffix not in suffixes:
        raise UsageError(f"-o {output}: no report format writes {suffix} files",
                         f"use one of: {known}; e.g. -o {output.with_suffix('.html').name}")
    if fmt is None:
        return suffixes.get(suffix, "table")
    if suffix and suffixes[suffix] != fmt:
        raise UsageError(f"-o {output} has the suffix of the {suffixes[suffix]} format, but --format is {fmt}",
                         f"name the file {output.with_suffix(_own_suffix(fmt)).name}, or drop --format")
    return fmt


def _own_suffix(fmt: str) -> str:
    from mai_bench.report import FORMATS

    return FORMATS[fmt][1]


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "md", "html", "csv", "json"]), default=None,
              help="Output format. Default: from the -o file's suffix, else table.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to this file (atomically) instead of stdout; its suffix picks the format "
                   "(.txt, .md, .html, .csv, .json), another suffix is refused.")
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
    if output is not None:
        fmt = output_format(output, fmt)  # before reading anything: a wrong name fails at once
    elif fmt is None:
        fmt = "table"
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
