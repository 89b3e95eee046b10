"""Result documents with known latencies, for tests that must not depend on how fast this machine is right now:
a benchmark_model log written from given per-run times, read by the real parser and turned into a result by the
real builder, exactly as a host run's would be (on sys.path through pytest's `pythonpath` setting)."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Sequence

from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef, Result
from mai_bench.session import RawRun

MODEL_SHA = "5e" * 32
RUNNER_SHA = "7a" * 32


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def benchmark_log(runs_ms: Sequence[float], *, first_ms: float, warmup_ms: float, init_ms: float = 4.0,
                  input_shape: Sequence[int] = (1, 384, 384, 4)) -> str:
    """benchmark_model's output (XNNPACK on the host CPU) for timed runs that took `runs_ms` each."""
    us = sorted(round(ms * 1000) for ms in runs_ms)
    avg, std = statistics.fmean(us), statistics.pstdev(us)
    stats = (f"count={len(us)} first={round(first_ms * 1000)} curr={round(runs_ms[-1] * 1000)} min={us[0]} "
             f"max={us[-1]} avg={avg:g} std={std:.0f} p5={_percentile(us, 0.05)} "
             f"median={statistics.median_low(us)} p95={_percentile(us, 0.95)}")
    return "\n".join([
        "INFO: STARTING!",
        f"INFO: Input shapes: [{','.join(map(str, input_shape))}]",
        "INFO: #threads used for CPU inference: [1]",
        "INFO: Use xnnpack: [1]",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "VERBOSE: Replacing 12 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions "
        "for subgraph 0.",
        "INFO: Explicitly applied XNNPACK delegate, and the model graph will be completely executed by the delegate.",
        f"INFO: Initialized session in {init_ms}ms.",
        f"INFO: Running benchmark for at least {len(us)} iterations and at least 0 seconds but terminate if "
        "exceeding 150 seconds.",
        f"INFO: {stats}",
        "",
        f"INFO: Inference timings in us: Init: {round(init_ms * 1000)}, First inference: {round(first_ms * 1000)}, "
        f"Warmup (avg): {warmup_ms * 1000:g}, Inference (avg): {avg:g}",
        "INFO: Overall peak memory footprint (MB) via periodic monitoring: 66.5",
        "",
    ])


def host_result(runs_ms: Sequence[float], *, created: str, name: str = "tiny_isp", sha256: str = MODEL_SHA,
                input_shape: tuple[int, ...] = (1, 384, 384, 4), serial: str = "local") -> Result:
    """The result of an XNNPACK run on the host CPU, one thread, whose timed runs took `runs_ms`."""
    plan = RunPlan(delegate="xnnpack", threads=1, runs=len(runs_ms), warmup=2, min_secs=0, input_shape=input_shape)
    log = benchmark_log(runs_ms, first_ms=runs_ms[0] * 1.5, warmup_ms=runs_ms[0] * 1.1, input_shape=input_shape)
    result = build_result(
        plan=plan, raw=RawRun(("mai-bench-runner", f"--graph=/models/{name}.tflite"), log, 0, 1.0),
        parsed=parse_log(log),
        model=ModelRef(path=f"/models/{name}.tflite", name=name, sha256=sha256, size_bytes=5892,
                       input_shape=input_shape, output_shape=(1, input_shape[1] * 2, input_shape[2] * 2, 3)),
        device=DeviceRef(serial=serial, backend="host", soc="x86_64 CPU", properties={"cores": "2"}),
        binary=BinaryRef(name="mai-bench-runner", sha256=RUNNER_SHA, version="mai-bench test"))
    return replace(result, created_at=created)
