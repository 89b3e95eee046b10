"""Schema 2: the flags the binary ignored and the CPU threads it used, in every result; version 1 documents upgraded
from their own settings and raw log; a run whose binary ignored the delegate or precision flag is never compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mai_bench.parse import parse_log
from mai_bench.plan import DEFAULT_CPU_THREADS, RunPlan
from mai_bench.results.build import build_result, infra_result
from mai_bench.results.flags import effective_threads, ignored_flag_warnings
from mai_bench.results.schema import (SCHEMA, SCHEMA_V1, BinaryRef, DeviceRef, ModelRef, ResultFormatError,
                                      result_from_dict)
from mai_bench.session import RawRun
from mai_bench.stats.compare import NOT_COMPARABLE, compare

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
MODEL = ModelRef("m.tflite", "m", "a" * 64, 10, (1, 544, 960, 4), (1, 1088, 1920, 3))
DEVICE = DeviceRef(serial="abc", backend="adb", soc="SM8450")
BINARY = BinaryRef("benchmark_model", "b" * 64)


def _log(prefix: str) -> str:
    (path,) = LOGS.glob(prefix + "_*.txt")
    return path.read_text(encoding="utf-8")


def _result(text: str, plan: RunPlan, exit_code: int = 0):
    return build_result(plan=plan, raw=RawRun(("benchmark_model",), text, exit_code, 1.0), parsed=parse_log(text),
                        model=MODEL, device=DEVICE, binary=BINARY)


def _ignoring(flag: str, prefix: str = "038") -> str:
    return _log(prefix).replace("INFO: STARTING!", f"INFO: STARTING!\nWARN: Unconsumed cmdline flags: {flag}")


def test_default_threads_are_recorded_and_said() -> None:
    result = _result(_log("038"), RunPlan(delegate="gpu"))
    assert result.threads == DEFAULT_CPU_THREADS == 1
    assert any(note.startswith("no --threads: benchmark_model ran the CPU kernels") and "--threads N" in note
               for note in result.warnings)
    assert result.to_dict()["threads"] == 1 and result.to_dict()["ignored_flags"] == []


def test_threads_asked_for_are_recorded_without_the_note() -> None:
    result = _result(_log("038"), RunPlan(delegate="gpu", threads=4))
    assert result.threads == 4
    assert not any("no --threads" in note for note in result.warnings)


def test_ignored_num_threads_is_never_reported_as_applied() -> None:
    result = _result(_ignoring("--num_threads=4"), RunPlan(delegate="gpu", threads=4))
    assert result.status == "ok"
    assert (result.threads, result.ignored_flags) == (DEFAULT_CPU_THREADS, ("--num_threads=4",))
    assert any("'--num_threads=4'" in w and "threads setting was not applied" in w for w in result.warnings)


def test_ignored_precision_flag_makes_the_result_not_comparable() -> None:
    plan = RunPlan(delegate="gpu", precision="fp32")
    flagged = _result(_ignoring("--gpu_precision_loss_allowed=false"), plan)
    assert flagged.status == "flag-ignored" and not flagged.measured
    assert any("precision setting was not applied" in w and "drop --benchmark-binary" in w for w in flagged.warnings)
    assert any("ignored --gpu_precision_loss_allowed=false" in r for r in flagged.delegation.reasons)
    clean = _result(_log("038"), plan)
    (pair,) = compare([clean], [flagged]).pairs
    assert pair.outcome == NOT_COMPARABLE
    assert pair.reasons[0].startswith("B: the binary ignored the delegate or precision flag")


def test_effective_threads() -> None:
    assert effective_threads(None, None, ()) == 1
    assert effective_threads(4, None, ()) == 4
    assert effective_threads(None, 6, ()) == 6  # the binary's own echo wins
    assert effective_threads(4, 4, ("--num_threads=4",)) == 1
    assert effective_threads(4, None, ("--use_gpu=true",)) == 4


def test_warnings_name_each_ignored_flag() -> None:
    notes = ignored_flag_warnings(("--use_nnapi=true", "-use-gpu=true"))
    assert "delegate setting was not applied" in notes[0] and "status flag-ignored" in notes[0]
    assert notes[1] == "benchmark_model ignored '-use-gpu=true' (\"Unconsumed cmdline flags\") and ran without it"


def test_infra_results_record_threads_too() -> None:
    result = infra_result(plan=RunPlan(threads=3), error=RuntimeError("device went away"), model=MODEL, device=DEVICE)
    assert result.threads == 3 and result.ignored_flags == ()


def test_round_trip_keeps_the_new_fields() -> None:
    result = _result(_ignoring("--use_gpu=true"), RunPlan(delegate="gpu"))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema"] == SCHEMA
    assert result_from_dict(data) == result


def _as_v1(result) -> dict:
    data = result.to_dict()
    del data["threads"], data["ignored_flags"]
    return {**data, "schema": SCHEMA_V1}


@pytest.mark.parametrize("prefix, plan_threads, threads, ignored", [
    ("038", None, 1, ()),
    ("039", None, 2, ()),  # "Num threads: [2]" in its raw log
    ("035", 4, 4, ("--allow_fp16",)),
])
def test_version_1_documents_load_upgraded_from_their_raw_log(prefix, plan_threads, threads, ignored) -> None:
    result = _result(_log(prefix), RunPlan(delegate="gpu", threads=plan_threads))
    upgraded = result_from_dict(_as_v1(result))
    assert upgraded.schema == SCHEMA
    assert (upgraded.threads, upgraded.ignored_flags) == (threads, ignored)
    assert upgraded.latency_ms == result.latency_ms and upgraded.status == result.status


def test_version_1_document_with_a_broken_raw_log_is_a_format_error() -> None:
    data = _as_v1(_result(_log("038"), RunPlan(delegate="gpu")))
    data["raw_log"] = 42
    with pytest.raises(ResultFormatError):
        result_from_dict(data)


@pytest.mark.parametrize("field, value", [("threads", 0), ("threads", True), ("threads", "4"),
                                          ("ignored_flags", [1])])
def test_impossible_new_fields_are_rejected(field, value) -> None:
    data = _result(_log("038"), RunPlan(delegate="gpu")).to_dict()
    data[field] = value
    with pytest.raises(ResultFormatError):
        result_from_dict(data)
