"""Run a farm's jobs: one worker thread per device (a device's jobs run one after another), every finished
job's result appended to the journal at once, progress told to an observer.

A job the device or adb let down becomes a result with status `infra-error` and the reason; the other devices
keep going. After such a job the worker asks the device for a trivial command: when even that fails the device
is lost, and its remaining jobs are recorded as infrastructure errors naming the job that lost it, without
waiting on a dead device once per job. With `resume`, jobs that already have a result other than an
infrastructure error in the journal are skipped.

Ctrl-C stops the farm the way it stops `mai-bench run`: the KeyboardInterrupt reaches only the main thread, so
the runner tells each worker to stop, and the worker's next step (every status update of a job, at least one
every remote_run.WAIT_CHUNK_S while a benchmark runs) raises Interrupted inside the job. That unwinds the job
through the same code Ctrl-C unwinds in `run`: the detached benchmark is killed on the device
(remote_run.run_detached) and the device's lock released (lock.held). The job is recorded as an infrastructure
error (`--resume` runs it again), and the KeyboardInterrupt is raised again as FarmInterrupted once every worker
is done (or STOP_WAIT_S has passed; a second Ctrl-C quits at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from mai_bench.device.errors import DeviceError
from mai_bench.errors import InfraError, MaiBenchError
from mai_bench.farm.journal import Journal, read_journal
from mai_bench.farm.plan import Job
from mai_bench.farm.thresholds import INFRA_STATUSES
from mai_bench.results.build import infra_result
from mai_bench.results.schema import DeviceRef, Result

PROBE_TIMEOUT_S = 5.0
# After Ctrl-C, how long the workers get to stop their benchmarks and give their locks back: one wait on the
# device (remote_run.WAIT_CHUNK_S plus its call allowance), the kill, the run folder's removal and the release.
STOP_WAIT_S = 60.0
JOIN_SLICE_S = 0.2  # short joins keep Ctrl-C deliverable to the main thread
INTERRUPTED = "interrupted by Ctrl-C: the benchmark was stopped on the device before it finished"


class Interrupted(BaseException):
    """Raised inside a job when the farm is stopped: a BaseException, so that no `except Exception` of the
    device path swallows it, while every `finally` and `except BaseException` cleanup still runs."""


class FarmInterrupted(KeyboardInterrupt):
    """Ctrl-C ended the farm. `journal` holds every result finished so far; `unstopped` names the devices whose
    workers had not finished stopping within STOP_WAIT_S (their benchmark may still run, their lock expires)."""

    def __init__(self, journal: Path, finished: int, unstopped: Sequence[str] = ()):
        self.journal = Path(journal)
        self.finished = finished
        self.unstopped = tuple(unstopped)
        super().__init__(f"interrupted after {finished} job(s)")

Status = Callable[[str], None]
JobFunction = Callable[[Job, Status], Result]
Probe = Callable[[Job], str | None]


class Observer(Protocol):
    """What a progress display is told. Called from worker threads: implementations must be thread-safe."""

    def farm_started(self, jobs: Sequence[Job], skipped: int) -> None: ...

    def job_started(self, job: Job) -> None: ...

    def job_status(self, job: Job, text: str) -> None: ...

    def job_finished(self, job: Job, result: Result) -> None: ...

    def farm_stopping(self, running: Sequence[Job]) -> None:
        """Ctrl-C: the jobs in `running` are being stopped on their devices."""

    def farm_finished(self) -> None: ...


class Silent:
    """An observer that shows nothing."""

    def farm_started(self, jobs: Sequence[Job], skipped: int) -> None:
        pass

    def job_started(self, job: Job) -> None:
        pass

    def job_status(self, job: Job, text: str) -> None:
        pass

    def job_finished(self, job: Job, result: Result) -> None:
        pass

    def farm_stopping(self, running: Sequence[Job]) -> None:
        pass

    def farm_finished(self) -> None:
        pass


@dataclass(frozen=True)
class FarmRun:
    """What a farm run did: the latest result of each of its jobs in the journal (in job order; results of
    other plans or settings in the same journal are left out), how many jobs ran and were skipped as already
    done, and the wall time."""

    journal: Path
    results: tuple[Result, ...]
    ran: int
    skipped: int
    wall_s: float


def done_ids(results: Sequence[Result]) -> set[str]:
    """Job ids whose latest result is a measurement outcome, not an infrastructure error."""
    latest: dict[str, Result] = {}
    for r in results:
        if "job_id" in r.extra:
            latest[str(r.extra["job_id"])] = r
    return {job for job, r in latest.items() if r.status not in INFRA_STATUSES}


def latest_results(results: Sequence[Result], jobs: Sequence[Job]) -> tuple[Result, ...]:
    """The last result of each job, in job order; jobs without a result are left out."""
    latest = {str(r.extra.get("job_id")): r for r in results}
    return tuple(latest[job.id] for job in jobs if job.id in latest)


def tagged(result: Result, job: Job) -> Result:
    return replace(result, extra={**result.extra, "job_id": job.id, "job_role": job.model.role,
                                  "device_spec": job.device_spec})


def failed_job(job: Job, error: Exception) -> Result:
    """The record of a job that could not run: an infrastructure error with the reason."""
    device = (DeviceRef(serial=job.target.serial, backend="adb", soc=job.target.soc, profile=job.target.profile,
                        server=job.target.server, emulated=job.target.emulated)
              if job.target is not None else DeviceRef(serial=job.device_spec, backend="adb"))
    return tagged(infra_result(plan=job.plan, error=error, model=job.model_ref, device=device), job)


def probe_device(job: Job) -> str | None:
    """None when the job's device still answers a trivial command, else why not."""
    if job.target is None:
        return "no device"
    try:
        job.target.device().shell(["true"], PROBE_TIMEOUT_S)
    except DeviceError as error:
        return error.reason
    return None


def run_farm(jobs: Sequence[Job], journal_path: Path, job_function: JobFunction, *, resume: bool = False,
             observer: Observer | None = None, probe: Probe = probe_device) -> FarmRun:
    """Run `jobs` (skipping those already done when `resume`), appending each result to the journal. Ctrl-C
    stops the jobs in flight on their devices and raises FarmInterrupted (see the module's docstring)."""
    observer = observer or Silent()
    started = time.monotonic()
    earlier = read_journal(journal_path) if resume else []
    done = done_ids(earlier)
    todo = [job for job in jobs if job.id not in done]
    by_device: dict[str, list[Job]] = {}
    for job in todo:
        by_device.setdefault(job.device_key, []).append(job)
    write_lock = threading.Lock()
    stop = threading.Event()  # no new job starts
    cancel = threading.Event()  # the jobs in flight stop too (Ctrl-C)
    crashes: list[BaseException] = []
    running: dict[str, Job] = {}  # device key -> its job in flight
    finished = 0

    journal = Journal.open(journal_path)

    def record(job: Job, result: Result) -> None:
        nonlocal finished
        with write_lock:
            journal.append(result)
            finished += 1
        observer.job_finished(job, result)

    def status_of(job: Job) -> Status:
        def status(text: str) -> None:
            if cancel.is_set():
                raise Interrupted()
            observer.job_status(job, text)
        return status

    def worker(device_jobs: list[Job], finished_event: threading.Event) -> None:
        lost: str | None = None
        try:
            for job in device_jobs:
                if stop.is_set():
                    return
                if job.problem is not None:
                    record(job, failed_job(job, job.problem))
                    continue
                if lost is not None:
                    record(job, failed_job(job, InfraError(f"not run: {lost}")))
                    continue
                observer.job_started(job)
                running[job.device_key] = job
                try:
                    result = _run_one(job, job_function, status_of(job))
                except Interrupted:
                    record(job, failed_job(job, InfraError(INTERRUPTED, "run the same command with --resume")))
                    return
                finally:
                    running.pop(job.device_key, None)
                record(job, result)
                if result.status == "infra-error":
                    why = probe(job)
                    if why is not None:
                        lost = f"device {job.device_key} was lost during {job.label} ({why})"
        except BaseException as error:  # a bug: stop the farm after the jobs in flight, then raise it
            crashes.append(error)
            stop.set()
        finally:
            finished_event.set()

    observer.farm_started(todo, len(jobs) - len(todo))
    # Each worker says when it is done through its own Event: after a join interrupted by Ctrl-C, CPython (before
    # 3.13) may report a running thread as no longer alive.
    ends = {key: threading.Event() for key in by_device}
    threads = [threading.Thread(target=worker, args=(device_jobs, ends[key]), name=f"farm-{key}", daemon=True)
               for key, device_jobs in by_device.items()]
    try:
        try:
            for thread in threads:
                thread.start()
            _wait(ends.values())
        except KeyboardInterrupt:
            stop.set()
            cancel.set()
            observer.farm_stopping(list(running.values()))
            _wait(ends.values(), STOP_WAIT_S)  # a second Ctrl-C lands here and quits at once
            unstopped = [key for key, end in ends.items() if not end.is_set()]
            raise FarmInterrupted(Path(journal_path), finished, unstopped) from None
        except BaseException:
            stop.set()
            raise
    finally:
        observer.farm_finished()
        with write_lock:  # a worker still running after Ctrl-C then fails to append instead of writing late
            journal.close()
    if crashes:
        raise crashes[0]
    return FarmRun(journal=Path(journal_path), results=latest_results(read_journal(journal_path), jobs),
                   ran=len(todo), skipped=len(jobs) - len(todo), wall_s=time.monotonic() - started)


def _wait(ends: Iterable[threading.Event], limit_s: float | None = None) -> None:
    """Wait until every event is set, at most `limit_s` seconds in all (None: no limit), in short slices so that
    Ctrl-C reaches this (the main) thread."""
    deadline = None if limit_s is None else time.monotonic() + limit_s
    for end in ends:
        while not end.wait(JOIN_SLICE_S):
            if deadline is not None and time.monotonic() >= deadline:
                return


def _run_one(job: Job, job_function: JobFunction, status: Status) -> Result:
    try:
        result = job_function(job, status)
    except InfraError as error:
        return failed_job(job, error)
    except MaiBenchError as error:
        # A usage problem only this device revealed (preflight passed on the host): the job failed, the
        # farm goes on.
        failed = failed_job(job, error)
        return replace(failed, status="failed")
    return tagged(result, job)
