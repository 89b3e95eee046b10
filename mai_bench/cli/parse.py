"""`mai-bench parse LOG [--json]`: what a saved benchmark_model output says about its run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from mai_bench.cli.console import console, print_json
from mai_bench.errors import UsageError
from mai_bench.parse import ParsedRun, parse_log

_FIX = "pass the path of a saved benchmark_model output (stdout and stderr together), or - to read standard input"
_STATUS_STYLE = {"ok": "green", "truncated": "yellow", "delegate-fallback": "yellow"}  # any other status: red
# fallback_verdict -> how much of the graph stayed on the CPU ("full" is the delegate's word, not the CPU's).
_CPU_FALLBACK = {"full": "none (the delegate runs the whole graph)", "partial": "partial (some ops run on the CPU)",
                 "none": "all (the delegate runs nothing)"}


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


@dataclass(frozen=True)
class Verdict:
    """What `mai-bench run` would conclude from this log: the same classification, the delegate the log asked for."""

    status: str
    requested: str | None
    threads: int
    ignored_flags: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"status": self.status, "requested_delegate": self.requested, "threads": self.threads,
                "ignored_flags": list(self.ignored_flags)}


def judge(run: ParsedRun) -> Verdict:
    """Classify a saved log the way a live run is classified (results.build.classify_run)."""
    from mai_bench.results.build import classify_run, requested_delegate
    from mai_bench.results.flags import effective_threads, ignored_flag_warnings

    requested = requested_delegate(run)
    status, _ = classify_run(requested, run)
    ignored = tuple(run.unconsumed_flags)
    return Verdict(status=status, requested=requested, threads=effective_threads(None, run.num_threads, ignored),
                   ignored_flags=ignored, warnings=tuple(ignored_flag_warnings(ignored)))


def _render(run: ParsedRun, verdict: Verdict, source: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"benchmark_model log: {escape(source)}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    style = _STATUS_STYLE.get(verdict.status, "red")
    table.add_row("status", f"[{style}]{verdict.status}[/]"
                  + ("" if verdict.status == run.status else f" (the log itself: {run.status})"))
    table.add_row("requested delegate", escape(verdict.requested or "- (the log does not say)"))
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
    table.add_row("CPU fallback", _CPU_FALLBACK.get(run.fallback_verdict or "", "-"))
    table.add_row("delegate failed", "[red]yes[/]" if run.delegate_failed else "no")
    table.add_row("memory init / overall / peak",
                  " / ".join("-" if v is None else f"{v:g} MB"
                             for v in (run.memory_init_mb, run.memory_overall_mb, run.peak_mb)))
    table.add_row("CPU threads", str(verdict.threads))
    if run.unsupported_ops:
        table.add_row("unsupported ops", escape(", ".join(run.unsupported_ops)))
    if verdict.ignored_flags:
        table.add_row("ignored flags", escape(" ".join(verdict.ignored_flags)))
    for warning in verdict.warnings:
        table.add_row("warning", escape(warning))
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
    verdict = judge(run)
    if as_json:
        # The parsed values, with the status `mai-bench run` gives the same log; the parser's own word is log_status.
        print_json({**run.to_dict(), "log_status": run.status, **verdict.to_dict()})
    else:
        _render(run, verdict, "stdin" if log == "-" else log)
