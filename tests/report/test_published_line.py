"""The terminal's line comparing a run with the published runtimes of its device's profile."""

from __future__ import annotations

from mai_bench.report.terminal import published_line
from mai_bench.results.schema import (BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result)


def result(profile: str | None, delegate: str = "gpu", emulated: bool = False, status: str = "ok") -> Result:
    return Result(
        status=status, model=ModelRef("m.tflite", "candidate", "a" * 64, 100, (1, 544, 960, 4), (1, 1088, 1920, 3)),
        device=DeviceRef(serial="R5CT", backend="adb", profile=profile, emulated=emulated), delegate=delegate,
        settings={}, argv=(), binary=BinaryRef("benchmark_model", "b" * 64), latency_ms=Latency(median=18.5, count=3),
        memory_mb=Memory(), delegation=Delegation(requested=delegate), raw_log="", tool_version="0",
        created_at="2026-11-25T00:00:00+00:00")


def test_sm8450_gpu_run_is_set_beside_table_1() -> None:
    line = published_line(result("sm8450"))
    assert "MicroISP 1.0 23.1 ms" in line and "PyNET-V2 Mobile 194 ms" in line and "18.5 ms" in line
    assert "not comparable" not in line and "Table 1" in line


def test_cpu_run_gets_the_published_cpu_runtimes() -> None:
    assert "MicroISP 1.0 973 ms" in published_line(result("sm8450", delegate="cpu"))


def test_emulated_failed_and_other_delegate_runs_say_why_not_comparable() -> None:
    assert "emulated device" in published_line(result("loopback-sm8450", delegate="xnnpack", emulated=True))
    assert "status delegate-failed" in published_line(result("sm8450", status="delegate-failed"))
    assert "nnapi is not gpu" in published_line(result("sm8450", delegate="nnapi"))


def test_profiles_without_published_numbers_show_nothing() -> None:
    assert published_line(result("sm8550")) is None
    assert published_line(result(None)) is None
    assert published_line(result("no-such-profile")) is None
