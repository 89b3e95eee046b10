"""Results as rich tables on the terminal. Every string that came from a file or a device is shown as plain
text: never interpreted as markup, its control characters (terminal escape sequences) shown as escapes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mai_bench.baselines import REFERENCE_MODELS
from mai_bench.report.escape import safe_text
from mai_bench.report.layout import fit
from mai_bench.report.numbers import fmt_interval, fmt_ms, fmt_psnr, fmt_score, fmt_ssim
from mai_bench.results.label import timings_label
from mai_bench.results.schema import Result
from mai_bench.stats.config import device_id

if TYPE_CHECKING:
    from mai_bench.report.merge import Report

__all__ = ["fmt_ms", "latency_table", "print_report", "print_results", "render", "setup_table"]

_STATUS_STYLE = {"ok": "green", "delegate-fallback": "yellow", "delegate-failed": "red"}
# Leading columns that name a row when a table too wide for the terminal is shown as stacked rows.
SUMMARY_KEYS, LATENCY_KEYS, SETUP_KEYS, VERSUS_KEYS = 4, 3, 2, 3


def _t(value: object, style: str = "") -> Text:
    return Text(safe_text(value), style=style)


def delegation_text(result: Result) -> str:
    d = result.delegation
    names = ", ".join(d.names) if d.names else "-"
    if d.nodes_delegated is not None and d.nodes_total is not None:
        return f"{names} {d.nodes_delegated}/{d.nodes_total}"
    if d.full:
        return f"{names} (full)"
    if d.failed:
        return f"{names} (failed)"
    if d.fallback:
        return f"{names} (partial)"
    return names


_NUMERIC = {"init", "first", "warm-up", "avg", "median", "p5", "p95", "std", "runs", "peak MB", "rounds",
            "median (95% CI)", "PSNR", "SSIM", "score", "model ms", "baseline ms", "ratio (95% CI)",
            "SM8450 GPU ms, projected"}


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in _NUMERIC else "left", overflow="fold")
    return table


def _status(status: str) -> Text:
    return _t(status, _STATUS_STYLE.get(status, "red"))


def latency_table(results: Iterable[Result]) -> Table:
    """Timed-run statistics: what the runtime of each result is, under the name of what produced it (a requested
    accelerator that fell back shows "CPU fallback", never its own name)."""
    table = _table("Latency (ms)", ("model", "delegate", "status", "avg", "median", "p5", "p95", "std", "runs"))
    for r in results:
        lat = r.latency_ms
        table.add_row(_t(r.model.name), _t(timings_label(r)), _status(r.status), fmt_ms(lat.avg),
                      fmt_ms(lat.median), fmt_ms(lat.p5), fmt_ms(lat.p95), fmt_ms(lat.std),
                      "-" if lat.count is None else str(lat.count))
    return table


def setup_table(results: Iterable[Result]) -> Table:
    """Where and how each result ran: device, start-up costs, delegation and memory."""
    table = _table("Run details", ("model", "device", "init", "first", "warm-up", "delegation", "peak MB"))
    for r in results:
        lat = r.latency_ms
        device = r.device.serial + (" (emulated)" if r.device.emulated else "") + _software_gpu_text(r)
        peak = r.memory_mb.peak if r.memory_mb.peak is not None else r.memory_mb.overall
        table.add_row(_t(r.model.name), _t(device), fmt_ms(lat.init), fmt_ms(lat.first), fmt_ms(lat.warmup_avg),
                      _t(delegation_text(r)), "-" if peak is None else f"{peak:.0f}")
    return table


def _software_gpu_text(result: Result) -> str:
    from mai_bench.gpu.labels import software_gpu

    label = software_gpu(result.device) if result.delegate == "gpu" else None
    return f" ({label})" if label else ""


def published_line(result: Result) -> str | None:
    """The published runtimes of the reference models for this result's device profile, beside its own median."""
    from mai_bench.device.profiles import get_profile
    from mai_bench.errors import MaiBenchError

    if not result.device.profile:
        return None
    try:
        profile = get_profile(result.device.profile)
        anchor = get_profile(profile.emulates) if profile.emulates else profile
    except MaiBenchError:  # a profile this installation does not ship: nothing published to show
        return None
    delegate = result.delegate if any(b.delegate == result.delegate for b in anchor.baselines) else "gpu"
    shown = [b for b in anchor.baselines if b.delegate == delegate]
    if not shown:
        return None
    mine = result.latency_ms.median if result.latency_ms.median is not None else result.latency_ms.avg
    line = (f"published on {anchor.display_name} ({delegate}): "
            + ", ".join(f"{b.model} {b.runtime_ms:g} ms" for b in shown)
            + f"; {result.model.name}: {fmt_ms(mine)} ms ({timings_label(result)})")
    if result.device.emulated or delegate != result.delegate or not result.measured:
        why = ("emulated device: a host CPU runtime" if result.device.emulated else
               f"status {result.status}" if not result.measured else f"{result.delegate} is not {delegate}")
        line += f" - not comparable: {why}"
    return line + f" [{shown[0].source}]"


def print_results(console: Console, results: list[Result]) -> None:
    console.print(fit(console, latency_table(results), LATENCY_KEYS))
    console.print(fit(console, setup_table(results), SETUP_KEYS))
    for line in dict.fromkeys(filter(None, map(published_line, results))):
        console.print(_t(line, "cyan"))
    for r in results:
        for line in _notes(r):
            console.print(_t(f"{r.model.name}: {line}", "yellow"))


def configs_table(report: Report) -> Table:
    """One line per configuration: rounds merged into a median with its interval, quality and score."""
    table = _table("Summary (ms; 95% confidence interval)",
                   ("model", "device", "delegate", "status", "rounds", "median (95% CI)", "interval", "PSNR",
                    "SSIM", "score"))
    for c in report.configs:
        first, s = c.first, c.summary
        score = fmt_score(c.scored.score) + (" *" if c.scored.not_comparable else "")
        table.add_row(_t(first.model.name), _t(device_id(first.device)), _t(first.delegate), _status(c.status),
                      str(s.rounds), fmt_interval(s), _t(s.method),
                      fmt_psnr(c.fidelity.psnr if c.fidelity else None),
                      fmt_ssim(c.fidelity.ssim if c.fidelity else None), score)
    return table


def print_report(console: Console, report: Report) -> None:
    """The summary, the per-result tables, then warnings (each with its fix) and notes."""
    if report.configs:
        console.print(fit(console, configs_table(report), SUMMARY_KEYS))
        results = [row.result for row in report.rows]
        console.print(fit(console, latency_table(results), LATENCY_KEYS))
        console.print(fit(console, setup_table(results), SETUP_KEYS))
    for c in report.configs:
        label = f"{c.first.model.name} / {c.first.delegate} / {device_id(c.first.device)}"
        for advice in c.summary.warnings:
            console.print(_t(f"warning: {label}: {advice.message}", "yellow"))
            console.print(_t(f"  fix: {advice.fix}", "yellow"))
        if c.scored.not_comparable:
            console.print(_t(f"* {label}: score not comparable with Table 1: {c.scored.not_comparable}", "yellow"))
    for row in report.rows:
        for line in _notes(row.result, reference_note=False):
            console.print(_t(f"{row.result.model.name}: {line}", "yellow"))
    for doc in report.unmatched_fidelity:
        console.print(_t(f"fidelity without a runtime result: {doc.model_name or doc.model_sha256[:12]} "
                         f"PSNR {fmt_psnr(doc.psnr)} SSIM {fmt_ssim(doc.ssim)} ({doc.source})"))
    for note in report.notes:
        console.print(_t(f"note: {note}", "dim"))


def render(report: Report) -> str:
    """The terminal report as plain text (no colours), for a file: the full tables, a row per line, nothing
    wrapped."""
    from mai_bench.console import make_console

    buffer = io.StringIO()
    print_report(make_console(file=buffer, color_system=None, force_terminal=False), report)
    return buffer.getvalue()


def _notes(result: Result, reference_note: bool = True) -> list[str]:
    notes = []
    if result.status != "ok":
        reasons = "; ".join(result.delegation.reasons) or _log_tail(result.raw_log)
        notes.append(f"status {result.status}: {reasons}")
    notes.extend(result.warnings)
    if reference_note and result.model.name in REFERENCE_MODELS:
        notes.append("a runtime reference (random weights, same structure as the published model): its latency is "
                     "meaningful, its image quality is not")
    return notes


def _log_tail(log: str, lines: int = 3) -> str:
    tail = [line.strip() for line in log.strip().splitlines()[-lines:] if line.strip()]
    return " | ".join(tail) if tail else "the run printed nothing"


def print_versus(console: Console, rows) -> None:
    """`run --with-baselines`: the candidate/baseline runtime ratios, and projected SM8450 GPU runtimes."""
    table = _table("Against the baselines (same device, delegate and binary; interleaved rounds)",
                   ("model", "baseline", "delegate", "model ms", "baseline ms", "ratio (95% CI)",
                    "SM8450 GPU ms, projected"))
    for row in rows:
        interval = "" if row.ratio_low is None else f" ({row.ratio_low:.2f}-{row.ratio_high:.2f})"
        projected = "measured there" if row.projected_sm8450_gpu_ms is None else _projection(row.projected_sm8450_gpu_ms)
        table.add_row(_t(row.candidate), _t(row.baseline), _t(row.delegate), fmt_ms(row.candidate_ms),
                      fmt_ms(row.baseline_ms), "-" if row.ratio is None else f"{row.ratio:.2f}x{interval}", projected)
    console.print(fit(console, table, VERSUS_KEYS))
    notes = {row.note for row in rows if row.projected_sm8450_gpu_ms is not None}
    for note in sorted(notes):
        console.print(_t(f"projection: {note}", "yellow"))


def _projection(value: tuple) -> str:
    estimate, low, high = value
    return f"~{estimate:.1f}" + ("" if low is None else f" ({low:.1f}-{high:.1f})") + " (estimate)"
