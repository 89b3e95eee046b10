"""The results journal: complete lines only, a torn last line skipped and cut off, one writer at a time, and a
writer SIGKILLed mid-stream never leaves a journal --resume cannot read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mai_bench.errors import UsageError
from mai_bench.farm.journal import Journal, read_journal
from mai_bench.results.schema import (
    BinaryRef,
    Delegation,
    DeviceRef,
    Latency,
    Memory,
    ModelRef,
    Result,
    ResultFormatError,
)


def result(index: int, log: str = "INFO: ok") -> Result:
    return Result(
        status="ok", model=ModelRef("/m/a.tflite", "a", "a" * 64, 10, (1, 4, 4, 4), None),
        device=DeviceRef(serial="dev", backend="adb"), delegate="cpu", settings={}, argv=("x",),
        binary=BinaryRef("x", None), latency_ms=Latency(median=float(index)), memory_mb=Memory(),
        delegation=Delegation(requested="cpu"), raw_log=log, tool_version="0", created_at="2026-01-01T00:00:00",
        extra={"job_id": f"job{index}"})


def test_appended_results_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    with Journal.open(path) as journal:
        for i in range(3):
            journal.append(result(i))
    assert [r.extra["job_id"] for r in read_journal(path)] == ["job0", "job1", "job2"]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line)["schema"] == "mai-bench/result/2" for line in lines[:-1])
    assert read_journal(tmp_path / "none.jsonl") == []


def test_a_torn_last_line_is_skipped_then_cut_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with Journal.open(path) as journal:
        journal.append(result(0))
    whole = json.dumps(result(1).to_dict())
    with open(path, "a") as handle:
        handle.write(whole[: len(whole) // 2])  # what a kill in the middle of a write leaves
    assert [r.extra["job_id"] for r in read_journal(path)] == ["job0"]
    with Journal.open(path) as journal:
        journal.append(result(2))
    assert [r.extra["job_id"] for r in read_journal(path)] == ["job0", "job2"]
    assert path.read_text().count("\n") == 2


def test_a_journal_that_is_all_torn_becomes_empty(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"schema": "mai-bench/res')
    assert read_journal(path) == []
    with Journal.open(path) as journal:
        journal.append(result(5))
    assert [r.extra["job_id"] for r in read_journal(path)] == ["job5"]


def test_a_damaged_line_inside_the_journal_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(result(0).to_dict()) + "\nnot json\n" + json.dumps(result(1).to_dict()) + "\n")
    with pytest.raises(ResultFormatError, match="line 2"):
        read_journal(path)


def test_two_writers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with Journal.open(path):
        with pytest.raises(UsageError, match="another mai-bench farm"):
            Journal.open(path)
    Journal.open(path).close()


WRITER = """
import sys
from mai_bench.farm.journal import Journal
from mai_bench.results.schema import *
big = "x" * 200_000
r = Result(status="ok", model=ModelRef("/m/a.tflite", "a", "a" * 64, 10, (1, 4, 4, 4), None),
           device=DeviceRef(serial="dev", backend="adb"), delegate="cpu", settings={}, argv=("x",),
           binary=BinaryRef("x", None), latency_ms=Latency(), memory_mb=Memory(), delegation=Delegation("cpu"),
           raw_log=big, tool_version="0", created_at="2026-01-01T00:00:00")
with Journal.open(sys.argv[1]) as journal:
    print("open", flush=True)
    while True:
        journal.append(r)
"""


def test_a_writer_killed_mid_stream_leaves_a_journal_that_resumes(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == b"open"
        deadline = time.monotonic() + 60
        while path.stat().st_size < 2_000_000 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    kept = read_journal(path)
    assert len(kept) >= 5 and all(r.raw_log == "x" * 200_000 for r in kept)
    with Journal.open(path) as journal:
        journal.append(result(9))
    again = read_journal(path)
    assert len(again) == len(kept) + 1 and again[-1].extra["job_id"] == "job9"
