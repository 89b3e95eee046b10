"""`mai-bench parse LOG [--json]`: what a saved benchmark_model output says about its run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mai_bench.cli.console import console, print_json
from mai_bench.errors import UsageError
from mai_bench.parse import ParsedRun, parse_log

_FIX = "pass the path of a saved benchmark_model output (stdout and stderr together), or - to read standard input"
_STATUS_STYLE = {"ok": "green", "truncated": "yellow", "failed": "red", "crashed": "red", "unparsed": "red"}


def _read(log: str) -> str:
    """The log's text; bytes that are not UTF-8 (a binary cut mid-write) become U+FFFD, never an error."""
    if log == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(log)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"log file not found: {log}", fix=_FIX) from None
        except IsADirectoryError:
            raise UsageError(f"{log} is a directory, not a log file", fix=_FIX) from None
        except OSError as error:
            raise UsageError(f"cannot read log file {log}: {error.strerror or error}",
                             fix="check that the file is readable by you") from None
    return data.decode("utf-8", errors="replace")


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:,.3f} ms"


def _value(value: object) -> str:
    return "-" if value is None else str(value)


def _render(run: ParsedRun, source: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"benchmark_model log: {escape(source)}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    style = _STATUS_STYLE[run.status]
    table.add_row("status", f"[{style}]{run.status}[/]")
    table.add_row("inference avg", _us(run.inference_avg_us))
    table.add_row("runs", _value(run.count))
    table.add_row("std / min / max", " / ".join(_us(v) for v in (run.std_us, run.min_us, run.max_us)))
    table.add_row("p5 / median / p95", " / ".join(_us(v) for v in (run.p5_us, run.median_us, run.p95_us)))
    table.add_row("init", _us(run.init_us))
    table.add_row("first inference", _us(run.first_us))
    table.add_row("warm-up avg", f"{_us(run.warmup_avg_us)} ({_value(run.warmup_count)} runs)")
    table.add_row("delegates", escape(", ".join(run.delegate_names) or "-"))
    table.add_row("nodes delegated",
                  "-" if run.nodes_delegated is None else f"{run.nodes_delegated}/{_value(run.nodes_total)}")
    table.add_row("CPU fallback", _value(run.fallback_verdict))
    table.add_row("delegate failed", "[red]yes[/]" if run.delegate_failed else "no")
    table.add_row("memory init / overall / peak",
                  " / ".join("-" if v is None else f"{v:g} MB"
                             for v in (run.memory_init_mb, run.memory_overall_mb, run.peak_mb)))
    if run.unsupported_ops:
        table.add_row("unsupported ops", escape(", ".join(run.unsupported_ops)))
    for reason in run.failure_reasons:
        table.add_row("reason", escape(reason))
    if run.units_note:
        table.add_row("note", escape(run.units_note))
    console().print(table)
    if run.status == "unparsed":
        console().print("[yellow]No benchmark_model output recognised in this log.[/]")


@click.command(name="parse")
@click.argument("log", metavar="LOG")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed run as one JSON object.")
def command(log: str, as_json: bool) -> None:
    """Parse a saved benchmark_model LOG (a path, or - for stdin) into timings, delegation and memory."""
    run = parse_log(_read(log))
    if as_json:
        print_json(run.to_dict())
    else:
        _render(run, "stdin" if log == "-" else log)
