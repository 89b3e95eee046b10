from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mai_bench.results.schema import (SCHEMA, BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result,
                                      ResultFormatError, result_from_dict)
from mai_bench.results.store import collect_results, load_results, save_result, write_atomic


def make_result(**changes) -> Result:
    base = dict(
        status="ok", model=ModelRef("m.tflite", "m", "a" * 64, 100, (1, 544, 960, 4), (1, 1088, 1920, 3)),
        device=DeviceRef(serial="local", backend="host"), delegate="xnnpack", settings={"runs": 3},
        argv=("runner", "--graph=m.tflite"), binary=BinaryRef("mai-bench-runner", "b" * 64),
        latency_ms=Latency(avg=10.0, min=9.0, max=11.0, median=10.0, count=3), memory_mb=Memory(peak=50.0),
        delegation=Delegation(requested="xnnpack"), raw_log="log", tool_version="0.1.0",
        created_at="2026-11-25T12:00:00+00:00")
    base.update(changes)
    return Result(**base)


def test_round_trip_and_schema_first() -> None:
    result = make_result()
    data = result.to_dict()
    assert list(data)[0] == "schema" and data["schema"] == SCHEMA
    assert result_from_dict(json.loads(json.dumps(data))) == result


@pytest.mark.parametrize("bad", [
    lambda: Latency(avg=-1.0),
    lambda: Latency(min=5.0, max=1.0),
    lambda: Latency(avg=float("nan")),
    lambda: make_result(status="fast"),
    lambda: ModelRef("m", "m", "short", 1, None, None),
])
def test_impossible_values_are_rejected(bad) -> None:
    with pytest.raises(ResultFormatError):
        bad()


@pytest.mark.parametrize("data", [
    None, [], "text", {"schema": "mai-bench/result/999"}, {"schema": SCHEMA},
    {**make_result().to_dict(), "latency_ms": {"avg": "fast"}},
    {**make_result().to_dict(), "model": {"path": "m"}},
    {**make_result().to_dict(), "latency_ms": {"bogus": 1}},
    {**make_result().to_dict(), "argv": "not a list"},
])
def test_malformed_documents_raise_the_projects_error(data) -> None:
    with pytest.raises(ResultFormatError):
        result_from_dict(data)


def test_save_is_atomic_and_loads_back(tmp_path: Path) -> None:
    result = make_result()
    path = save_result(result, tmp_path / "out")
    assert path.parent == tmp_path / "out"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name], "no temp file left behind"
    assert load_results(path) == [result]
    assert collect_results([tmp_path / "out"]) == [result]


def test_failed_write_leaves_the_old_file_intact(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "r.json"
    write_atomic(target, "old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_json_lines_and_lists_load(tmp_path: Path) -> None:
    a, b = make_result(), make_result(delegate="cpu", delegation=Delegation(requested="cpu"))
    lines = tmp_path / "r.jsonl"
    lines.write_text(json.dumps(a.to_dict()) + "\n" + json.dumps(b.to_dict()) + "\n")
    assert load_results(lines) == [a, b]
    listing = tmp_path / "r.json"
    listing.write_text(json.dumps([a.to_dict(), b.to_dict()]))
    assert load_results(listing) == [a, b]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ResultFormatError):
        load_results(broken)


def test_a_torn_last_json_line_is_left_out(tmp_path: Path) -> None:
    a = make_result()
    lines = tmp_path / "results.jsonl"
    lines.write_text(json.dumps(a.to_dict()) + "\n" + json.dumps(a.to_dict())[:40])
    assert load_results(lines) == [a]
    lines.write_text(json.dumps(a.to_dict()) + "\n{broken}\n" + json.dumps(a.to_dict()) + "\n")
    with pytest.raises(ResultFormatError):
        load_results(lines)
