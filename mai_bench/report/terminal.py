"""Results as rich tables on the terminal. Every string that came from a file or a device is shown as plain
text (never interpreted as markup)."""

from __future__ import annotations

from typing import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mai_bench.results.schema import Result

_STATUS_STYLE = {"ok": "green", "delegate-fallback": "yellow", "delegate-failed": "red"}


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def delegation_text(result: Result) -> str:
    d = result.delegation
    names = ", ".join(d.names) if d.names else "-"
    if d.nodes_delegated is not None and d.nodes_total is not None:
        return f"{names} {d.nodes_delegated}/{d.nodes_total}"
    if d.full:
        return f"{names} (full)"
    return names


_NUMERIC = {"init", "first", "warm-up", "avg", "median", "p5", "p95", "std", "runs", "peak MB"}


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in _NUMERIC else "left", overflow="fold")
    return table


def latency_table(results: Iterable[Result]) -> Table:
    """Timed-run statistics: what the runtime of each result is."""
    table = _table("Latency (ms)", ("model", "delegate", "status", "avg", "median", "p5", "p95", "std", "runs"))
    for r in results:
        lat = r.latency_ms
        table.add_row(Text(r.model.name), Text(r.delegate), Text(r.status, style=_STATUS_STYLE.get(r.status, "red")),
                      fmt_ms(lat.avg), fmt_ms(lat.median), fmt_ms(lat.p5), fmt_ms(lat.p95), fmt_ms(lat.std),
                      "-" if lat.count is None else str(lat.count))
    return table


def setup_table(results: Iterable[Result]) -> Table:
    """Where and how each result ran: device, start-up costs, delegation and memory."""
    table = _table("Run details", ("model", "device", "init", "first", "warm-up", "delegation", "peak MB"))
    for r in results:
        lat = r.latency_ms
        device = r.device.serial + (" (emulated)" if r.device.emulated else "")
        peak = r.memory_mb.peak if r.memory_mb.peak is not None else r.memory_mb.overall
        table.add_row(Text(r.model.name), Text(device), fmt_ms(lat.init), fmt_ms(lat.first), fmt_ms(lat.warmup_avg),
                      Text(delegation_text(r)), "-" if peak is None else f"{peak:.0f}")
    return table


def print_results(console: Console, results: list[Result]) -> None:
    console.print(latency_table(results))
    console.print(setup_table(results))
    for r in results:
        for line in _notes(r):
            console.print(Text(f"{r.model.name}: {line}", style="yellow"))


def _notes(result: Result) -> list[str]:
    notes = []
    if result.status != "ok":
        reasons = "; ".join(result.delegation.reasons) or _log_tail(result.raw_log)
        notes.append(f"status {result.status}: {reasons}")
    notes.extend(result.warnings)
    if result.model.name in _REFERENCE_MODELS:
        notes.append("a runtime reference (random weights, same structure as the published model): its latency is "
                     "meaningful, its image quality is not")
    return notes


def _log_tail(log: str, lines: int = 3) -> str:
    tail = [line.strip() for line in log.strip().splitlines()[-lines:] if line.strip()]
    return " | ".join(tail) if tail else "the run printed nothing"


_REFERENCE_MODELS = {"microisp_1_0", "microisp_0_5", "pynet_v2_mobile"}
