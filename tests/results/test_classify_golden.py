"""Real phone logs through the same result-building code as a live run: fallback is never acceleration."""

from __future__ import annotations

from pathlib import Path

import pytest

from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result, classify
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef, result_from_dict
from mai_bench.session import RawRun

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"

# log prefix -> (requested delegate, expected status, expected delegated/total or None, fallback)
CASES = {
    "001": ("cpu", "ok", None, False),
    "005": ("nnapi", "delegate-failed", None, True),
    "006": ("nnapi", "delegate-failed", None, True),
    "009": ("nnapi", "ok", (31, 31), False),
    "011": ("xnnpack", "ok", (2168, 2168), False),
    "013": ("xnnpack", "ok", (2136, 2168), True),
    "017": ("gpu", "ok", None, False),
    "019": ("hexagon", "delegate-failed", (125, 125), True),
    "021": ("cpu", "crashed", None, False),
    "025": ("nnapi", "delegate-fallback", None, True),
    # A GPU run whose log never shows the GPU delegate: the numbers are the CPU's.
    "011-as-gpu": ("gpu", "delegate-failed", None, True),
    "009-as-gpu": ("gpu", "delegate-failed", None, True),
    "033": ("xnnpack", "ok", (1, 1), False),
    # The binary ignored --allow_fp16 (a precision flag): another configuration than asked, whatever the GPU did.
    "035": ("gpu", "flag-ignored", None, True),
    "036": ("gpu", "delegate-failed", None, True),  # the GPU's OpenCL program did not build
    "037": ("xnnpack", "ok", None, False),
    "038": ("gpu", "ok", None, False),
    # GPU took all 49 nodes; NNAPI, applied after it, took none: a failure of NNAPI's, not of the GPU's.
    "039": ("gpu", "ok", (49, 49), False),
    "039-as-nnapi": ("nnapi", "delegate-failed", None, True),
}


def _log(prefix: str) -> str:
    (path,) = LOGS.glob(prefix.split("-")[0] + "_*.txt")
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixture_log_classification(case: str) -> None:
    delegate, status, counts, fallback = CASES[case]
    got_status, delegation = classify(RunPlan(delegate=delegate), parse_log(_log(case)), RawRun((), "", 0, 1.0))
    assert got_status == status
    assert delegation.fallback is fallback
    if counts is not None:
        assert (delegation.nodes_delegated, delegation.nodes_total) == counts
    if status.startswith("delegate-"):
        assert delegation.reasons, "a fallback must say why"


def test_gpu_log_with_unsupported_ops_is_a_fallback() -> None:
    log = _log("011").replace(
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "INFO: Created TensorFlow Lite delegate for GPU.\n"
        "ERROR: Following operations are not supported by GPU delegate:\n"
        "TOPK_V2: Operation is not supported.\n"
        "63 operations will run on the GPU, and the remaining 1 operations will run on the CPU.\n"
        "VERBOSE: Replacing 63 out of 64 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions "
        "for subgraph 0.",
    )
    status, delegation = classify(RunPlan(delegate="gpu"), parse_log(log), RawRun((), "", 0, 1.0))
    assert status == "delegate-fallback"
    assert (delegation.nodes_delegated, delegation.nodes_total, delegation.full) == (63, 64, False)
    assert any("63 of 64" in r for r in delegation.reasons)


def test_timeout_and_exit_code_decide_over_a_clean_log() -> None:
    parsed = parse_log(_log("011"))
    assert classify(RunPlan(), parsed, RawRun((), "", None, 9.0, timed_out=True))[0] == "timeout"
    assert classify(RunPlan(), parsed, RawRun((), "", 1, 9.0))[0] == "failed"


def test_result_from_a_real_log_round_trips_through_json() -> None:
    text = _log("019")
    plan = RunPlan(delegate="hexagon")
    result = build_result(
        plan=plan, raw=RawRun(("benchmark_model", "--use_hexagon=true"), text, 1, 2.5), parsed=parse_log(text),
        model=ModelRef("m.tflite", "m", "a" * 64, 10, (1, 544, 960, 4), (1, 1088, 1920, 3)),
        device=DeviceRef(serial="abc", backend="adb", soc="SM8250"), binary=BinaryRef("benchmark_model", "b" * 64))
    assert result.status == "delegate-failed"
    assert result.raw_log == text
    again = result_from_dict(result.to_dict())
    assert again == result


def test_zero_of_n_nodes_is_a_failed_delegate_even_when_the_log_is_cut() -> None:
    text = ("INFO: STARTING!\nINFO: Use gpu: [1]\nINFO: Created TensorFlow Lite delegate for GPU.\n"
            "VERBOSE: Replacing 0 out of 64 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 0 partitions "
            "for subgraph 0.\n")
    status, delegation = classify(RunPlan(delegate="gpu"), parse_log(text), RawRun((), text, None, 1.0))
    assert status == "delegate-failed"
    assert (delegation.nodes_delegated, delegation.nodes_total, delegation.failed) == (0, 64, True)
    assert any("0 of 64" in reason for reason in delegation.reasons)


@pytest.mark.parametrize("flag, status", [
    ("--use_gpu=true", "flag-ignored"),
    ("--gpu_precision_loss_allowed=false", "flag-ignored"),
    ("--num_threads=4", "ok"),  # a warning and the default thread count, but the delegate and precision held
    ("--output_filepath=/data/local/tmp/o.bin", "ok"),
])
def test_an_ignored_delegate_or_precision_flag_is_never_ok(flag, status) -> None:
    text = _log("038").replace("INFO: STARTING!", f"INFO: STARTING!\nWARN: Unconsumed cmdline flags: {flag}")
    assert classify(RunPlan(delegate="gpu"), parse_log(text), RawRun((), text, 0, 1.0))[0] == status
