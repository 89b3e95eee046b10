"""A farm's summary never shows a fallback's latency under the delegate's name: results built from real phone logs
(a GPU that could not be created, an NNAPI delegate that took part of the graph, a GPU that took it all)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from mai_bench.console import make_console
from mai_bench.farm.summary import markdown, table
from mai_bench.farm.thresholds import Thresholds, evaluate
from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef, Result
from mai_bench.session import RawRun

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def logged(log_name: str, delegate: str, serial: str) -> Result:
    log = (LOGS / log_name).read_text(encoding="utf-8", errors="replace")
    result = build_result(
        plan=RunPlan(delegate=delegate, allow_fallback=True), raw=RawRun(("benchmark_model",), log, 0, 9.0),
        parsed=parse_log(log),
        model=ModelRef(path="/m/candidate.tflite", name="candidate", sha256="c" * 64, size_bytes=100,
                       input_shape=(1, 544, 960, 4), output_shape=None),
        device=DeviceRef(serial=serial, backend="adb", server="127.0.0.1:5037"),
        binary=BinaryRef(name="benchmark_model", sha256="9" * 64))
    return replace(result, extra={**result.extra, "job_id": f"candidate/{delegate}@{serial}"})


def test_summary_labels_fallback_latencies_cpu_fallback() -> None:
    gpu_failed = logged("035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-partial.txt", "gpu", "pi4")
    nnapi_partial = logged("025_benchmarkapp-logcat-nnapi-partial-44kernels-truncated.txt", "nnapi", "tab")
    gpu_full = logged("017_pocox3-gpu-full-opprofile.txt", "gpu", "poco")
    # The logs' own averages (none prints a median): CPU, CPU + NNAPI, GPU.
    assert [r.latency_ms.avg for r in (gpu_failed, nnapi_partial, gpu_full)] == [74.4816, 12.1676, 8.68033]
    thresholds = Thresholds(max_latency_ms=100.0)
    verdicts = evaluate([gpu_failed, nnapi_partial, gpu_full], thresholds, allow_fallback=True)

    text = markdown(verdicts, thresholds, name="nightly", code=1)
    rows = {serial: line for line in text.splitlines() for serial in ("pi4", "tab", "poco")
            if line.startswith(f"| `127.0.0.1:5037/{serial}`")}
    assert "| CPU fallback (gpu failed) |" in rows["pi4"] and "| 74.48 |" in rows["pi4"]
    assert "| CPU fallback (nnapi partial) |" in rows["tab"] and "| 12.17 |" in rows["tab"]
    assert "| gpu |" in rows["poco"] and "| 8.68 |" in rows["poco"]
    assert "| gpu |" not in rows["pi4"] and "| nnapi |" not in rows["tab"]

    out = io.StringIO()
    make_console(out, color_system=None, force_terminal=False).print(table(verdicts, thresholds, name="nightly"))
    lines = out.getvalue().splitlines()
    (pi4,) = [line for line in lines if "74.48" in line]
    (tab,) = [line for line in lines if "12.17" in line]
    (poco,) = [line for line in lines if "8.68" in line]
    assert "CPU fallback (gpu failed)" in pi4 and "CPU fallback (nnapi partial)" in tab
    assert "CPU fallback" not in poco and " gpu " in poco
