"""The report as CSV: one row per result, the columns listed (and documented in docs/REPORTS.md) in COLUMNS.

`delegate` names what produced the row's timings: the delegate, or "CPU fallback (gpu failed)" / "CPU fallback
(gpu partial)" when a requested accelerator did not take the whole graph; `requested_delegate` what was asked for.

Numbers are written at full precision (Python's shortest round-trip form), a missing value as an empty cell,
booleans as True/False, so `pandas.read_csv` gives back the same values. Text cells pass through `csv_text`:
control characters become visible escapes and a leading = + - @ gets a `'` (no spreadsheet formulas).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from mai_bench.gpu.labels import gpu_cost
from mai_bench.report.escape import csv_text
from mai_bench.report.merge import Report, Row, runtime_kind
from mai_bench.results.label import timings_label
from mai_bench.stats.config import device_id

COLUMNS = (
    "created_at", "model", "model_sha256", "model_size_bytes", "input_shape", "device", "device_serial",
    "device_backend", "soc", "profile", "emulated", "delegate", "requested_delegate", "status", "threads",
    "runtime_kind",
    "init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "std_ms", "min_ms", "max_ms", "median_ms", "p5_ms", "p95_ms",
    "count", "peak_mb", "nodes_delegated", "nodes_total", "binary", "binary_sha256",
    "psnr", "ssim", "fidelity_count", "score", "score_runtime", "score_comparable", "score_note",
    "gpu_vs_cpu_max_abs_error", "gpu_vs_cpu_psnr_db", "warnings",
)


def row_values(row: Row) -> dict[str, Any]:
    """One result as CSV values (before text escaping): None for anything unknown."""
    r, lat, fid, scored = row.result, row.result.latency_ms, row.fidelity, row.scored
    cost = gpu_cost(r)
    shape = r.model.input_shape
    return {
        "created_at": r.created_at, "model": r.model.name, "model_sha256": r.model.sha256,
        "model_size_bytes": r.model.size_bytes, "input_shape": None if shape is None else "x".join(map(str, shape)),
        "device": device_id(r.device), "device_serial": r.device.serial, "device_backend": r.device.backend,
        "soc": r.device.soc, "profile": r.device.profile, "emulated": r.device.emulated,
        "delegate": timings_label(r), "requested_delegate": r.delegate,
        "status": r.status, "threads": r.threads, "runtime_kind": runtime_kind(r),
        "init_ms": lat.init, "first_ms": lat.first, "warmup_avg_ms": lat.warmup_avg, "avg_ms": lat.avg,
        "std_ms": lat.std, "min_ms": lat.min, "max_ms": lat.max, "median_ms": lat.median, "p5_ms": lat.p5,
        "p95_ms": lat.p95, "count": lat.count,
        "peak_mb": r.memory_mb.peak if r.memory_mb.peak is not None else r.memory_mb.overall,
        "nodes_delegated": r.delegation.nodes_delegated, "nodes_total": r.delegation.nodes_total,
        "binary": r.binary.name, "binary_sha256": r.binary.sha256,
        "psnr": fid.psnr if fid else None, "ssim": fid.ssim if fid else None,
        "fidelity_count": fid.count if fid else None,
        "score": scored.score, "score_runtime": scored.basis,
        "score_comparable": None if scored.score is None else scored.not_comparable is None,
        "score_note": scored.not_comparable,
        "gpu_vs_cpu_max_abs_error": cost["max_abs_error"] if cost else None,
        "gpu_vs_cpu_psnr_db": cost.get("psnr_db") if cost else None,
        "warnings": "; ".join([a.message for a in row.advice] + list(r.warnings)) or None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return csv_text(str(value))


def render(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        values = row_values(row)
        writer.writerow([_cell(values[column]) for column in COLUMNS])
    return buffer.getvalue()
