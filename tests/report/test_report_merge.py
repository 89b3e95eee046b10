"""Merging rules on results built from plain values: which runtimes a score may be set beside Table 1 with,
which fidelity document wins, and inputs that are not reports' documents."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mai_bench.errors import UsageError
from mai_bench.report.inputs import Fidelity, load_inputs
from mai_bench.report.merge import build_report, comparability
from mai_bench.results.schema import (BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result,
                                      ResultFormatError)
from mai_bench.score import challenge_score

SHA = "5" * 64


def phone(**device) -> Result:
    return Result(
        status="ok",
        model=ModelRef(path="/m/isp.tflite", name="isp", sha256=SHA, size_bytes=1, input_shape=(1, 544, 960, 4),
                       output_shape=(1, 1088, 1920, 3)),
        device=DeviceRef(**{"serial": "R5CT1", "backend": "adb", "soc": "SM8450", "profile": "sm8450", **device}),
        delegate="gpu", settings={}, argv=(), binary=BinaryRef(name="benchmark_model", sha256="6" * 64),
        latency_ms=Latency(avg=20.0, median=19.5, std=0.4, count=50), memory_mb=Memory(),
        delegation=Delegation(requested="gpu", names=("GPU",), full=True), raw_log="", tool_version="0.1.0",
        created_at="2025-01-01T00:00:00+00:00")


def fidelity(psnr: float, created: str = "2025-01-01T00:00:00+00:00", source: str = "f.json") -> Fidelity:
    return Fidelity(model_sha256=SHA, model_name="isp", psnr=psnr, ssim=0.85, count=4, created_at=created,
                    source=source)


def test_an_sm8450_phone_gpu_run_at_full_hd_is_comparable() -> None:
    result = phone()
    assert comparability(result) is None
    (config,) = build_report([result], [fidelity(23.87)]).configs
    assert config.scored.not_comparable is None and config.scored.basis == "median"
    assert config.scored.score == pytest.approx(challenge_score(23.87, 19.5))


@pytest.mark.parametrize("change, reason", [
    (lambda r: replace(r, device=replace(r.device, backend="host", serial="local")), "host CPU"),
    (lambda r: replace(r, device=replace(r.device, emulated=True, profile="loopback-sm8450")), "emulated"),
    (lambda r: replace(r, delegate="nnapi"), "nnapi delegate"),
    (lambda r: replace(r, device=replace(r.device, profile="sm8550")), "GPU of sm8550"),
    (lambda r: replace(r, device=replace(r.device, profile=None)), "unknown SoC"),
    (lambda r: replace(r, status="delegate-fallback"), "status delegate-fallback"),
    (lambda r: replace(r, model=replace(r.model, input_shape=(1, 256, 256, 4))), "input 1x256x256x4"),
])
def test_every_other_runtime_says_why_it_is_not_comparable(change, reason) -> None:
    assert reason in comparability(change(phone()))


def test_the_latest_fidelity_document_wins_and_implausible_psnr_is_not_scored() -> None:
    report = build_report([phone()], [fidelity(22.0, "2025-01-02T00:00:00+00:00"), fidelity(23.0)])
    assert report.configs[0].fidelity.psnr == 22.0
    assert any("latest" in note for note in report.notes)
    (config,) = build_report([phone()], [fidelity(600.0)]).configs
    assert config.scored.score is None and "outside" in config.scored.not_comparable


def test_a_report_without_fidelity_says_how_to_get_it() -> None:
    report = build_report([phone()])
    assert report.configs[0].scored.score is None
    assert any("mai-bench eval" in note for note in report.notes)


def test_inputs_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no .json"):
        load_inputs([empty])
    with pytest.raises(UsageError, match="does not exist"):
        load_inputs([tmp_path / "missing.json"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "mai-bench/fidelity/1", "model": {"sha256": "xyz"}, "psnr": 20}))
    with pytest.raises(ResultFormatError, match="64 lowercase hex"):
        load_inputs([bad])
    bad.write_text(json.dumps({"schema": "mai-bench/fidelity/1", "model": {"sha256": SHA}, "psnr": "high"}))
    with pytest.raises(ResultFormatError, match="psnr"):
        load_inputs([bad])
    lines = tmp_path / "mixed.jsonl"
    doc = {"schema": "mai-bench/fidelity/1", "model": {"sha256": SHA, "name": "isp"}, "psnr": 23.0, "ssim": 0.8}
    lines.write_text(json.dumps(phone().to_dict()) + "\n" + json.dumps(doc) + "\n")
    inputs = load_inputs([lines])
    assert len(inputs.results) == 1 and inputs.fidelity[0].psnr == 23.0 and inputs.fidelity[0].count is None
