"""A run stopped for falling back says why; "CPU fallback" labels; a partial delegation refused by
--require_full_delegation is a fallback, not a failed delegate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result, infra_result
from mai_bench.results.label import timings_label
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef, Result
from mai_bench.session import RawRun

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
MODEL = ModelRef(path="/m/isp.tflite", name="isp", sha256="a" * 64, size_bytes=10, input_shape=(1, 544, 960, 4),
                 output_shape=(1, 1088, 1920, 3))
DEVICE = DeviceRef(serial="R5CT", backend="adb", soc="SM8450", profile="sm8450")


def built(log: str, plan: RunPlan, exit_code: int | None = 0) -> Result:
    return build_result(plan=plan, raw=RawRun(("benchmark_model",), log, exit_code, 1.0), parsed=parse_log(log),
                        model=MODEL, device=DEVICE, binary=BinaryRef("benchmark_model", "b" * 64))


def fixture(name: str) -> str:
    return (LOGS / name).read_text(encoding="utf-8", errors="replace")


# The current tool's order (benchmark_tflite_model.cc): the partition line, then the refusal, before any verdict.
REFUSED_PARTIAL = "\n".join([
    "INFO: STARTING!", "INFO: Use gpu: [1]", "INFO: Require full delegation: [1]",
    "INFO: Created TensorFlow Lite delegate for GPU.",
    "INFO: Replacing 40 out of 50 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 3 partitions for "
    "subgraph 0.",
    "ERROR: Disallowed CPU fallback detected.", "ERROR: Benchmarking failed."])


def test_a_partial_delegation_refused_by_the_binary_is_a_fallback_stopped_before_timing() -> None:
    result = built(REFUSED_PARTIAL, RunPlan(delegate="gpu"), exit_code=1)
    assert result.status == "delegate-fallback"
    d = result.delegation
    assert (d.nodes_delegated, d.nodes_total, d.full, d.failed, d.fallback) == (40, 50, False, False, True)
    assert any("40 of 50 nodes" in reason and "refused" in reason for reason in d.reasons)
    assert result.extra["delegate_stop"] == {"by": "benchmark_model --require_full_delegation",
                                             "line": "Disallowed CPU fallback detected."}
    assert any(w.startswith("stopped before the timed runs") for w in result.warnings)
    assert result.latency_ms.avg is None
    assert timings_label(result) == "CPU fallback (gpu partial)"


def test_a_delegate_that_was_never_created_and_refused_is_a_failed_delegate() -> None:
    log = "\n".join(["INFO: STARTING!", "WARN: GPU acceleration is unsupported on this platform.",
                     "ERROR: Disallowed CPU fallback detected.", "ERROR: Benchmarking failed."])
    result = built(log, RunPlan(delegate="gpu"), exit_code=1)
    assert result.status == "delegate-failed" and result.delegation.failed
    assert result.extra["delegate_stop"]["by"] == "benchmark_model --require_full_delegation"


def test_the_guard_line_names_the_line_that_decided() -> None:
    head = fixture("035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-partial.txt").splitlines()[:21]
    log = "\n".join([*head, "mai-bench delegate guard: stopped benchmark_model at log line 15: the requested "
                            "delegate does not run the whole graph, and a CPU fallback is not timed in its place"])
    result = built(log, RunPlan(delegate="gpu"), exit_code=143)
    assert result.extra["delegate_stop"] == {"by": "mai-bench's delegate guard",
                                             "line": "GPU acceleration is unsupported on this platform."}
    assert result.latency_ms.avg is None and result.delegation.failed
    # With --allow-fallback nothing stops a run, so nothing claims to have: the same text is not a stop.
    assert "delegate_stop" not in built(log, RunPlan(delegate="gpu", allow_fallback=True)).extra


@pytest.mark.parametrize("log_name, delegate, label", [
    ("017_pocox3-gpu-full-opprofile.txt", "gpu", "gpu"),
    ("035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-partial.txt", "gpu", "CPU fallback (gpu failed)"),
    ("011_android-xnnpack-full-fp32-p5median-count1000.txt", "gpu", "CPU fallback (gpu failed)"),
    ("025_benchmarkapp-logcat-nnapi-partial-44kernels-truncated.txt", "nnapi", "CPU fallback (nnapi partial)"),
    ("019_umi-sd865-hexagon-125of125-then-failed.txt", "hexagon", "CPU fallback (hexagon failed)"),
    # XNNPACK that took part of the graph is still the CPU's own kernels, timed as asked.
    ("013_android-xnnpack-partial-int4.txt", "xnnpack", "xnnpack"),
], ids=["017", "035", "011-as-gpu", "025", "019", "013"])
def test_timings_label_names_a_delegate_only_for_its_own_numbers(log_name, delegate, label) -> None:
    result = built(fixture(log_name), RunPlan(delegate=delegate, allow_fallback=True))
    assert timings_label(result) == label


def test_an_infrastructure_error_keeps_the_delegate_name() -> None:
    error = infra_result(plan=RunPlan(delegate="gpu"), error=RuntimeError("device lost"), model=MODEL, device=DEVICE)
    assert timings_label(error) == "gpu"
    failed = replace(error, status="delegate-failed")  # a version 1 document may carry the status alone
    assert timings_label(failed) == "CPU fallback (gpu failed)"
