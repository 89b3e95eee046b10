"""A farm's summary: one row per job (device, model, delegate, status, latency, ratios, verdict), the reasons of
every failure and error, and the thresholds that were not checked. As Markdown (a file, and the GitHub Actions
step summary when $GITHUB_STEP_SUMMARY is set) and as a rich table for the terminal. A job whose requested
accelerator fell back shows "CPU fallback (gpu failed)" (or "partial") as its delegate: its latency is not the
delegate's."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK
from mai_bench.farm.thresholds import ERROR, FAILED, PASSED, Thresholds, Verdict, device_key, latency_of
from mai_bench.results.label import timings_label

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
HEADLINE = {EXIT_OK: "passed", EXIT_CHECK_FAILED: "FAILED", EXIT_INFRA: "INFRASTRUCTURE ERROR"}
_MARK = {PASSED: "✅ passed", FAILED: "❌ failed", ERROR: "⚠️ error"}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _ratio_cells(verdict: Verdict, thresholds: Thresholds) -> list[str]:
    cells = []
    for limit in thresholds.max_ratio_vs:
        check = next((c for c in verdict.checks if c.name == f"max_ratio_vs {limit.reference}"), None)
        cells.append("–" if check is None or check.outcome in ("n/a", "not-checked")
                     else check.detail.split(" ", 1)[0] + ("" if check.outcome == "pass" else " ❌"))
    return cells


def _counts(verdicts: Sequence[Verdict]) -> str:
    passed = sum(v.outcome == PASSED for v in verdicts)
    failed = sum(v.outcome == FAILED for v in verdicts)
    errors = sum(v.outcome == ERROR for v in verdicts)
    devices = len({device_key(v.result) for v in verdicts})
    return (f"{len(verdicts)} job(s) on {devices} device(s): {passed} passed, {failed} failed, "
            f"{errors} infrastructure error(s)")


def not_checked(verdicts: Sequence[Verdict]) -> list[str]:
    """Thresholds that were set but could not be judged, once per distinct reason."""
    seen: dict[str, None] = {}
    for v in verdicts:
        for c in v.checks:
            if c.outcome == "not-checked" and not c.detail.startswith("nothing measured"):
                seen.setdefault(f"{c.name}: not checked ({c.detail})")
    return list(seen)


def markdown(verdicts: Sequence[Verdict], thresholds: Thresholds, *, name: str, code: int,
             wall_s: float | None = None, skipped: int = 0) -> str:
    """The Markdown summary of a farm."""
    stat = thresholds.statistic
    ratio_heads = [f"vs {r.reference}" for r in thresholds.max_ratio_vs]
    lines = [f"## mai-bench farm `{name}`: {HEADLINE.get(code, str(code))} (exit {code})", ""]
    extra = []
    if wall_s is not None:
        extra.append(f"wall time {wall_s:.0f} s")
    if skipped:
        extra.append(f"{skipped} job(s) resumed from earlier results")
    lines += [_counts(verdicts) + (f"; {', '.join(extra)}" if extra else "") + ".", ""]
    head = ["device", "model", "delegate", "status", f"{stat} ms", *ratio_heads, "verdict"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in verdicts:
        r = v.result
        value, _ = latency_of(r, stat)
        row = [f"`{device_key(r)}`", r.model.name + (" (reference)" if r.extra.get("job_role") == "reference"
                                                      else ""),
               timings_label(r), r.status, _ms(value), *_ratio_cells(v, thresholds), _MARK[v.outcome]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    problems = [v for v in verdicts if v.outcome != PASSED]
    if problems:
        lines += ["", "### Failures and errors", ""]
        for v in problems:
            r = v.result
            lines.append(f"- **{r.model.name}/{r.delegate}** on `{device_key(r)}` ({v.outcome}):")
            lines += [f"  - {reason.splitlines()[0]}" for reason in v.reasons]
    unchecked = not_checked(verdicts)
    if unchecked:
        lines += ["", "### Not checked", ""] + [f"- {item}" for item in unchecked]
    return "\n".join(lines) + "\n"


def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append to the GitHub Actions step summary file when $GITHUB_STEP_SUMMARY names one; returns its path."""
    target = (os.environ if environ is None else environ).get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path


def device_labels(verdicts: Sequence[Verdict]) -> dict[str, str]:
    """A short name per device: its serial, or SERVER/SERIAL where one serial is on several servers."""
    keys = {device_key(v.result): v.result.device.serial for v in verdicts}
    serials = list(keys.values())
    return {key: serial if serials.count(serial) == 1 else key for key, serial in keys.items()}


def table(verdicts: Sequence[Verdict], thresholds: Thresholds, *, name: str) -> Table:
    """The terminal table of a farm's jobs."""
    stat = thresholds.statistic
    labels = device_labels(verdicts)
    out = Table(title=f"Farm {escape(name)}: {_counts(verdicts)}", title_justify="left")
    out.add_column("device", no_wrap=True)
    for column in ("model", "delegate", "status"):
        out.add_column(column, overflow="fold")
    out.add_column(f"{stat} ms", justify="right")
    for limit in thresholds.max_ratio_vs:
        out.add_column(f"vs {escape(limit.reference)}", justify="right")
    out.add_column("verdict")
    style = {PASSED: "green", FAILED: "red", ERROR: "yellow"}
    for v in verdicts:
        r = v.result
        value, _ = latency_of(r, stat)
        role = " (ref)" if r.extra.get("job_role") == "reference" else ""
        out.add_row(escape(labels[device_key(r)]), escape(r.model.name + role), escape(timings_label(r)),
                    escape(r.status),
                    _ms(value), *(escape(c) for c in _ratio_cells(v, thresholds)),
                    f"[{style[v.outcome]}]{v.outcome}[/]")
    return out
