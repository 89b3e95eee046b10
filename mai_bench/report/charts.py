"""The HTML report's charts, drawn by matplotlib (Agg, no display) as SVG strings to inline in the page.

Text is drawn as paths (`svg.fonttype: path`), so no string from a result ends up as SVG text or markup, and
every label passes through `chart_text` (no control characters, no mathtext). Each chart gets its own hash
salt so the ids of several inline SVGs never collide.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: never open a window, never need a display

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from mai_bench.baselines import table1  # noqa: E402
from mai_bench.report.escape import chart_text  # noqa: E402
from mai_bench.report.merge import Config, Report, Row  # noqa: E402
from mai_bench.results.label import timings_label  # noqa: E402
from mai_bench.results.schema import Result  # noqa: E402
from mai_bench.score import equal_score_psnr  # noqa: E402
from mai_bench.stats.config import device_id  # noqa: E402

EQUAL_SCORES = (0.1, 0.3, 1, 3, 10, 30)
SUBMISSION_COLOUR = "#4c72b0"
BASELINE_COLOUR = "#dd8452"
USER_COLOUR = "#c44e52"
DEVICE_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _svg(fig: Figure, salt: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML declaration and doctype: the SVG sits inside HTML


def _label(config: Config) -> str:
    first = config.first
    return chart_text(f"{first.model.name} ({first.delegate}, {device_id(first.device)})", 60)


def scored_configs(report: Report) -> list[Config]:
    """Configurations the PSNR-runtime chart can place: a PSNR and a runtime are known."""
    return [c for c in report.configs if c.fidelity and c.fidelity.psnr is not None and c.summary.center_ms]


def pareto_svg(report: Report) -> str:
    """PSNR against runtime (log x): Table 1's submissions and baselines (SM8450 GPU), the user's models where
    a PSNR is known (hollow when their runtime is not comparable), and lines of equal challenge score."""
    fig = Figure(figsize=(9.5, 6.0))
    ax = fig.add_subplot()
    entries = table1()
    mine = scored_configs(report)
    xs = [e.gpu_ms for e in entries] + [c.summary.center_ms for c in mine]
    ys = [e.psnr for e in entries] + [c.fidelity.psnr for c in mine]
    x_lo, x_hi = min(xs) / 1.6, max(xs) * 1.6
    y_lo, y_hi = min(ys) - 0.6, max(ys) + 0.6
    grid = [x_lo * (x_hi / x_lo) ** (i / 100) for i in range(101)]
    for score in EQUAL_SCORES:
        ax.plot(grid, [equal_score_psnr(score, x) for x in grid], color="#999999", lw=0.8, ls="--", zorder=1)
        x_text = next((x for x in reversed(grid) if y_lo <= equal_score_psnr(score, x) <= y_hi), None)
        if x_text is not None:
            ax.annotate(f"score {score:g}", (x_text, equal_score_psnr(score, x_text)), fontsize=7, color="#777777",
                        ha="right", va="bottom")
    for entry in entries:
        colour, marker = (BASELINE_COLOUR, "s") if entry.baseline else (SUBMISSION_COLOUR, "o")
        ax.scatter([entry.gpu_ms], [entry.psnr], color=colour, marker=marker, s=36, zorder=3)
        ax.annotate(chart_text(entry.label), (entry.gpu_ms, entry.psnr), fontsize=7, xytext=(4, 3),
                    textcoords="offset points", color=colour)
    for config in mine:
        comparable = config.scored.not_comparable is None
        ax.scatter([config.summary.center_ms], [config.fidelity.psnr], marker="*", s=160, zorder=4,
                   color=USER_COLOUR if comparable else "none", edgecolors=USER_COLOUR, linewidths=1.4)
        ax.annotate(_label(config), (config.summary.center_ms, config.fidelity.psnr), fontsize=8, xytext=(6, -10),
                    textcoords="offset points", color=USER_COLOUR)
    ax.set_xscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("runtime, ms (log scale; Table 1: SM8450 GPU delegate, Full HD)")
    ax.set_ylabel("PSNR, dB")
    ax.set_title("PSNR versus runtime, with lines of equal challenge score")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(handles=[
        Line2D([], [], color=SUBMISSION_COLOUR, marker="o", ls="", label="MAI 2022 submissions (Table 1)"),
        Line2D([], [], color=BASELINE_COLOUR, marker="s", ls="", label="baselines (Table 1)"),
        Line2D([], [], color=USER_COLOUR, marker="*", ms=11, ls="", label="your models: SM8450 GPU runtime"),
        Line2D([], [], markerfacecolor="none", markeredgecolor=USER_COLOUR, marker="*", ms=11, ls="",
               label="your models: runtime not comparable"),
        Line2D([], [], color="#999999", ls="--", label="equal score 2^(2·PSNR) / (2^40·ms)"),
    ], fontsize=7, loc="lower right")
    return _svg(fig, "pareto")


def _distribution_stats(row: Row) -> dict | None:
    lat = row.result.latency_ms
    median = lat.median if lat.median is not None else lat.avg
    if median is None:
        return None
    low = next((v for v in (lat.p5, lat.min) if v is not None), median)
    high = next((v for v in (lat.p95, lat.max) if v is not None), median)
    return {"med": median, "q1": min(low, median), "q3": max(high, median),
            "whislo": min(lat.min if lat.min is not None else low, low, median),
            "whishi": max(lat.max if lat.max is not None else high, high, median)}


def result_label(index: int, result: Result) -> str:
    """A result's name on the latency chart: number, model, what produced the timings, device. Each part is cut
    on its own, so a long model name never cuts off a "CPU fallback" label."""
    parts = (result.model.name, timings_label(result), device_id(result.device))
    return f"{index}. " + " / ".join(chart_text(part, 30) for part in parts)


def latency_svg(rows: Sequence[Row]) -> str | None:
    """Per result: the box spans p5 to p95 around the median, whiskers min to max (None: nothing measured). A
    requested accelerator that did not take the whole graph is labelled CPU fallback, not with its name."""
    items = [(row, stats) for row in rows if (stats := _distribution_stats(row)) is not None]
    if not items:
        return None
    fig = Figure(figsize=(9.5, 1.2 + 0.42 * len(items)))
    ax = fig.add_subplot()
    stats = []
    for i, (row, item) in enumerate(items, 1):
        stats.append({**item, "label": result_label(i, row.result)})
    box = ax.bxp(stats, orientation="horizontal", showfliers=False, patch_artist=True, widths=0.55)
    for patch, (row, _) in zip(box["boxes"], items):
        patch.set_facecolor("#a1c9f4" if row.result.measured else "#f4a1a1")
    ax.invert_yaxis()
    lows, highs = [s["whislo"] for s in stats], [s["whishi"] for s in stats]
    if min(lows) > 0 and max(highs) / min(lows) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("latency, ms (box: p5 to p95 around the median; whiskers: min to max; red: status not ok)")
    ax.set_title("Latency distribution per result")
    ax.grid(True, axis="x", lw=0.3, alpha=0.5)
    ax.tick_params(axis="y", labelsize=8)
    return _svg(fig, "latency")


def devices_svg(report: Report) -> str | None:
    """Grouped bars, one group per model and delegate, one bar per device (median with its interval); None
    with fewer than two devices."""
    devices = report.devices
    if len(devices) < 2:
        return None
    groups = list(dict.fromkeys((c.first.model.name, c.first.delegate) for c in report.configs))
    fig = Figure(figsize=(9.5, 4.8))
    ax = fig.add_subplot()
    width = 0.8 / len(devices)
    for d, device in enumerate(devices):
        xs, heights, errors = [], [], [[], []]
        for g, group in enumerate(groups):
            config = next((c for c in report.configs if (c.first.model.name, c.first.delegate) == group
                           and device_id(c.first.device) == device and c.summary.center_ms), None)
            if config is None:
                continue
            s = config.summary
            xs.append(g + (d - (len(devices) - 1) / 2) * width)
            heights.append(s.center_ms)
            errors[0].append(s.center_ms - s.ci_low_ms if s.has_interval else 0.0)
            errors[1].append(s.ci_high_ms - s.center_ms if s.has_interval else 0.0)
        ax.bar(xs, heights, width=width * 0.95, yerr=errors, capsize=3, label=chart_text(device, 50),
               color=DEVICE_COLOURS[d % len(DEVICE_COLOURS)])
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([chart_text(f"{name} / {delegate}", 30) for name, delegate in groups], rotation=20,
                       ha="right", fontsize=8)
    heights_all = [c.summary.center_ms for c in report.configs if c.summary.center_ms]
    if heights_all and min(heights_all) > 0 and max(heights_all) / min(heights_all) > 20:
        ax.set_yscale("log")
    ax.set_ylabel("median latency, ms (error bars: 95% interval)")
    ax.set_title("Latency per device")
    ax.legend(fontsize=7)
    return _svg(fig, "devices")

