"""How numbers and statuses read in every report format (missing values are "-", never 0)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mai_bench.stats.summary import Summary

_WARN_STATUSES = {"delegate-fallback", "truncated", "unparsed"}  # numbers exist but are not the whole story
_MARKS = {"ok": "✅", "warn": "⚠️", "bad": "❌"}


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def fmt_interval(summary: Summary) -> str:
    """"3.05 (2.90-3.21)": the centre and its 95% interval, or the centre alone without one; "mean" marks a
    centre that is a mean (logs without a median)."""
    centre = fmt_ms(summary.center_ms) + (" mean" if summary.statistic == "avg" else "")
    if not summary.has_interval:
        return centre
    return f"{centre} ({fmt_ms(summary.ci_low_ms)}–{fmt_ms(summary.ci_high_ms)})"


def fmt_score(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value >= 0.01 else f"{value:.2g}"


def fmt_psnr(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ssim(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def status_level(status: str) -> str:
    """"ok", "warn" or "bad" for a status; several statuses (a configuration's rounds) take the worst."""
    levels = {"ok" if s == "ok" else "warn" if s in _WARN_STATUSES else "bad"
              for s in (part.strip() for part in status.split(","))}
    return "bad" if "bad" in levels else "warn" if "warn" in levels else "ok"


def status_mark(status: str) -> str:
    """An emoji for a status (Markdown): ✅ ok, ⚠️ numbers with a caveat, ❌ no valid numbers."""
    return _MARKS[status_level(status)]
