"""Orchestration with a job function injected: one worker per device in parallel, a device's jobs in turn,
results in the journal the moment they finish, a lost device's jobs recorded as infrastructure errors while the
others carry on, resume, and a bug surfacing as an exception. No adb here; the loopback tests run it for real."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mai_bench.device.discovery import DeviceInfo
from mai_bench.device.errors import DeviceLost
from mai_bench.errors import UsageError
from mai_bench.farm.journal import read_journal
from mai_bench.farm.plan import Job, ModelSpec
from mai_bench.farm.runner import Silent, run_farm
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef
from mai_bench.session import RawRun

LOG = ("INFO: count=3 first=1000 curr=1000 min=1000 max=1000 avg=1000 std=0 p5=1000 median=1000 p95=1000\n"
       "INFO: Inference timings in us: Init: 10, First inference: 1000, Warmup (avg): 1000, Inference (avg): 1000\n")


def jobs(devices: int = 3, per_device: int = 3) -> list[Job]:
    model = ModelSpec(Path("/m/a.tflite"), "a.tflite", "a" * 64)
    out = []
    for d in range(devices):
        target = DeviceInfo("127.0.0.1:5037", f"dev{d}", "device")
        for j in range(per_device):
            plan = RunPlan(delegate="cpu", runs=j + 1)
            ref = ModelRef("/m/a.tflite", "a", "a" * 64, 1, plan.input_shape, None)
            out.append(Job(f"a/cpu@dev{d}#{j}", model, plan, ref, "all", target))
    return out


def measured(job: Job, status) -> object:
    from mai_bench.parse import parse_log

    raw = RawRun(argv=("benchmark_model",), output=LOG, exit_code=0, duration_s=0.01)
    device = DeviceRef(serial=job.target.serial, backend="adb", server=job.target.server)
    return build_result(plan=job.plan, raw=raw, parsed=parse_log(LOG), model=job.model_ref, device=device,
                        binary=BinaryRef("benchmark_model", None))


class Recorder(Silent):
    """Checks at every finished job that its line is already in the journal."""

    def __init__(self, journal: Path):
        self.journal = journal
        self.finished: list[str] = []
        self.lock = threading.Lock()

    def job_finished(self, job, result) -> None:
        on_disk = {r.extra["job_id"] for r in read_journal(self.journal)}
        assert job.id in on_disk, "reported before it was written"
        with self.lock:
            self.finished.append(job.id)


def test_devices_run_in_parallel_and_each_device_one_job_at_a_time(tmp_path: Path) -> None:
    work = jobs(devices=3, per_device=3)
    together = threading.Barrier(3, timeout=30)  # broken unless the three devices' first jobs overlap
    running: dict[str, int] = {}
    overlap = []
    guard = threading.Lock()

    def job_function(job, status):
        key = job.device_key
        with guard:
            running[key] = running.get(key, 0) + 1
            if running[key] > 1:
                overlap.append(key)
        try:
            if job.id.endswith("#0"):
                together.wait()
            status("running")
            return measured(job, status)
        finally:
            with guard:
                running[key] -= 1

    journal = tmp_path / "results.jsonl"
    recorder = Recorder(journal)
    run = run_farm(work, journal, job_function, observer=recorder)
    assert not overlap, f"two jobs ran at once on {overlap}"
    assert sorted(recorder.finished) == sorted(j.id for j in work)
    assert run.ran == 9 and run.skipped == 0 and len(run.results) == 9
    assert all(r.status == "ok" and r.extra["job_role"] == "candidate" for r in run.results)
    per_device = [r.extra["job_id"] for r in run.results if r.device.serial == "dev1"]
    assert per_device == ["a/cpu@dev1#0", "a/cpu@dev1#1", "a/cpu@dev1#2"], "a device's jobs run in plan order"


def test_a_lost_device_gives_infra_errors_and_the_others_finish(tmp_path: Path) -> None:
    calls = []

    def job_function(job, status):
        calls.append(job.id)
        if job.target.serial == "dev1" and job.id.endswith("#1"):
            raise DeviceLost("shell command: the connection dropped", serial="dev1", server="127.0.0.1:5037")
        return measured(job, status)

    def probe(job):
        return "the device went offline" if job.target.serial == "dev1" else None

    journal = tmp_path / "results.jsonl"
    run = run_farm(jobs(), journal, job_function, probe=probe)
    by_id = {r.extra["job_id"]: r for r in run.results}
    assert by_id["a/cpu@dev1#0"].status == "ok"
    assert by_id["a/cpu@dev1#1"].status == "infra-error"
    assert "connection dropped" in by_id["a/cpu@dev1#1"].raw_log
    lost = by_id["a/cpu@dev1#2"]
    assert lost.status == "infra-error" and "a/cpu@dev1#2" not in calls, "no job is tried on a lost device"
    assert "was lost during a/cpu" in lost.warnings[0] and "went offline" in lost.warnings[0]
    assert all(by_id[f"a/cpu@dev{d}#{j}"].status == "ok" for d in (0, 2) for j in range(3))

    calls.clear()
    again = run_farm(jobs(), journal, measured_and_counted(calls), resume=True)
    assert sorted(calls) == ["a/cpu@dev1#1", "a/cpu@dev1#2"], "resume reruns only what has no result"
    assert again.ran == 2 and again.skipped == 7
    assert all(r.status == "ok" for r in again.results) and len(again.results) == 9
    assert len(read_journal(journal)) == 11, "the journal keeps the history; the latest result counts"


def measured_and_counted(calls):
    def job_function(job, status):
        calls.append(job.id)
        return measured(job, status)
    return job_function


def test_a_job_without_a_device_is_recorded_without_running(tmp_path: Path) -> None:
    from mai_bench.device.errors import DeviceNotFound

    job = jobs(devices=1, per_device=1)[0]
    missing = Job("a/cpu@sm8550#x", job.model, job.plan, job.model_ref, "sm8550", None,
                  DeviceNotFound("no ready device of profile sm8550", "attach one"))
    calls = []
    run = run_farm([job, missing], tmp_path / "r.jsonl", measured_and_counted(calls))
    assert calls == [job.id]
    record = next(r for r in run.results if r.extra["job_id"] == missing.id)
    assert record.status == "infra-error" and record.device.serial == "sm8550"
    assert "no ready device of profile sm8550" in record.raw_log


def test_a_usage_problem_in_one_job_fails_that_job_only(tmp_path: Path) -> None:
    def job_function(job, status):
        if job.id.endswith("#0"):
            raise UsageError("the device has no such binary", "pass benchmark_binary")
        return measured(job, status)

    run = run_farm(jobs(devices=1), tmp_path / "r.jsonl", job_function)
    assert [r.status for r in run.results] == ["failed", "ok", "ok"]


def test_a_bug_in_a_job_function_is_raised_after_the_jobs_in_flight(tmp_path: Path) -> None:
    def job_function(job, status):
        if job.id == "a/cpu@dev0#0":
            raise ZeroDivisionError("a bug")
        return measured(job, status)

    with pytest.raises(ZeroDivisionError):
        run_farm(jobs(), tmp_path / "r.jsonl", job_function)
    assert all(r.status == "ok" for r in read_journal(tmp_path / "r.jsonl")), "what finished is kept"


def test_ctrl_c_unwinds_every_job_in_flight_through_its_cleanup_then_raises(tmp_path: Path) -> None:
    """Ctrl-C reaches only the main thread; each job in flight is stopped at its next status update, its own
    cleanup runs (where the device path kills the benchmark and releases the lock), and nothing else starts."""
    import _thread

    from mai_bench.farm.runner import FarmInterrupted

    in_flight = threading.Barrier(3)  # the 2 devices' first jobs, and the thread that presses Ctrl-C
    cleaned: list[str] = []
    started: list[str] = []

    def job_function(job, status):
        started.append(job.id)
        try:
            in_flight.wait(timeout=60)
            while True:  # a benchmark running on the device, reporting progress
                status("running")
                threading.Event().wait(0.01)
        finally:
            cleaned.append(job.id)

    def press_ctrl_c() -> None:
        in_flight.wait(timeout=60)
        _thread.interrupt_main()

    class Stopping(Silent):
        told: list = []

        def farm_stopping(self, running) -> None:
            self.told.extend(job.id for job in running)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(FarmInterrupted) as stopped:
        run_farm(jobs(devices=2), tmp_path / "r.jsonl", job_function, observer=Stopping())
    presser.join()
    assert sorted(cleaned) == sorted(started) == ["a/cpu@dev0#0", "a/cpu@dev1#0"], "no other job started"
    assert sorted(Stopping.told) == sorted(started)
    assert stopped.value.unstopped == () and stopped.value.finished == 2
    records = read_journal(tmp_path / "r.jsonl")
    assert sorted(r.extra["job_id"] for r in records) == sorted(started)
    assert all(r.status == "infra-error" and "interrupted by Ctrl-C" in r.warnings[0] for r in records)


def test_live_progress_shows_each_device_and_the_overall_count(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from mai_bench.farm.progress import LineProgress, LiveProgress, progress_for

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150)
    assert isinstance(progress_for(console), LiveProgress)
    assert isinstance(progress_for(Console(file=io.StringIO())), LineProgress)
    run_farm(jobs(devices=2, per_device=2), tmp_path / "r.jsonl", measured, observer=LiveProgress(console))
    text = screen.getvalue()
    assert "127.0.0.1:5037/dev0" in text and "127.0.0.1:5037/dev1" in text
    assert "all devices" in text and "4/4" in text and "done" in text


@pytest.mark.parametrize("columns", [80, 120])
def test_live_progress_on_a_terminal_puts_the_count_and_eta_before_the_step(tmp_path: Path, monkeypatch,
                                                                             columns: int) -> None:
    """On a real pseudo-terminal of 80 or 120 columns: every line starts with jobs done/total and the ETA, fits
    the width, and only the step text gives way."""
    import fcntl
    import os
    import re
    import struct
    import termios

    from mai_bench.console import make_console
    from mai_bench.farm.progress import LiveProgress, progress_for
    from support import wait_for

    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("TERM", "xterm-256color")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the terminal's other side is closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    def screen() -> str:
        return re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", bytes(seen).decode("utf-8", errors="replace"))

    step = "pushing benchmark_model to /data/local/tmp/mai-bench/bin/benchmark_model, then waiting to cool down"

    def job_function(job, status):
        status(step)
        wait_for(lambda: "pushing benchmark_model" in screen(), "the step on the screen")
        return measured(job, status)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        with open(slave, "w", encoding="utf-8", closefd=False) as terminal:
            observer = progress_for(make_console(file=terminal))
            assert isinstance(observer, LiveProgress)
            run_farm(jobs(devices=2, per_device=2), tmp_path / "r.jsonl", job_function, observer=observer)
    finally:
        os.close(slave)
        reader.join(timeout=60)
        os.close(master)
    lines = [line for line in screen().replace("\r", "\n").splitlines() if line.strip()]
    rows = [line for line in lines if "127.0.0.1:5037/dev" in line or "all devices" in line]
    assert any("pushing benchmark_model" in line for line in rows) and any("4/4" in line for line in rows)
    for line in rows:
        assert re.match(r"\s*\d+/\d+ (-:--:--|\d+:\d\d:\d\d) ", line), f"count and ETA not first: {line!r}"
        assert len(line.rstrip()) <= columns, f"wider than {columns}: {line!r}"


def test_log_progress_lines_start_with_the_count_and_the_eta(tmp_path: Path) -> None:
    import io

    from mai_bench.console import make_console
    from mai_bench.farm.progress import LineProgress, count_and_eta

    assert count_and_eta(3, 8, 12.0) == "3/8, 12 s, ETA 20 s"
    assert count_and_eta(8, 8, 40.0) == "8/8, 40 s"
    log = io.StringIO()
    run_farm(jobs(devices=2, per_device=2), tmp_path / "r.jsonl", measured, observer=LineProgress(make_console(file=log)))
    lines = log.getvalue().splitlines()
    assert lines[0] == "farm: 4 job(s) on 2 device(s)"
    finished = lines[1:]
    assert [line.split(",", 1)[0] for line in finished] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert all(" s, ETA " in line for line in finished[:3]) and "ETA" not in finished[3]
