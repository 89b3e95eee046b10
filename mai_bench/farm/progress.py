"""Progress of a running farm on stderr: on a terminal a live rich display (one line per device with its current
job and step, one overall bar with the ETA); elsewhere (CI logs) one plain line per finished job."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mai_bench.farm.plan import Job
from mai_bench.farm.runner import Silent
from mai_bench.results.schema import Result

STATUS_WIDTH = 60  # a step text longer than this is cut: one line per device


def _latency(result: Result) -> str:
    value = result.latency_ms.median if result.latency_ms.median is not None else result.latency_ms.avg
    return "" if value is None else f" {value:.2f} ms"


def finished_line(job: Job, result: Result) -> str:
    """"tiny_isp/xnnpack on 127.0.0.1:5037/127.0.0.1:40401: ok 12.41 ms"."""
    text = f"{job.label} on {job.device_key}: {result.status}{_latency(result)}"
    if result.status != "ok" and result.warnings:
        text += f" ({result.warnings[0]})"
    return text


class LiveProgress:
    """The rich display: per-device rows plus an overall row with elapsed time and ETA."""

    def __init__(self, console: Console):
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.fields[device]}", style="bold"),
                                  TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
        self._overall: TaskID | None = None
        self._devices: dict[str, TaskID] = {}
        self._left: dict[str, int] = {}  # jobs still to finish, per device

    def farm_started(self, jobs: Sequence[Job], skipped: int) -> None:
        resumed = f", {skipped} already done" if skipped else ""
        self._overall = self._progress.add_task(f"{len(jobs)} job(s){resumed}", total=len(jobs) or 1,
                                                device="all devices", completed=0 if jobs else 1)
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.device_key] = counts.get(job.device_key, 0) + 1
        for key, count in counts.items():
            self._devices[key] = self._progress.add_task("waiting", total=count, device=escape(key))
            self._left[key] = count
        self._progress.start()

    def job_started(self, job: Job) -> None:
        self._progress.update(self._devices[job.device_key], description=escape(job.label))

    def job_status(self, job: Job, text: str) -> None:
        step = text if len(text) <= STATUS_WIDTH else text[: STATUS_WIDTH - 1] + "…"
        self._progress.update(self._devices[job.device_key], description=escape(f"{job.label}: {step}"))

    def job_finished(self, job: Job, result: Result) -> None:
        task = self._devices[job.device_key]
        self._left[job.device_key] -= 1
        self._progress.advance(task)
        self._progress.advance(self._overall)
        done = self._left[job.device_key] == 0
        self._progress.update(task, description="done" if done else escape(f"{job.label}: {result.status}"))
        if result.status != "ok":
            self._progress.console.print(escape(finished_line(job, result)), style="yellow", soft_wrap=True)

    def farm_finished(self) -> None:
        self._progress.stop()


class LineProgress(Silent):
    """Plain lines for logs: one when the farm starts, one per finished job with a running count."""

    def __init__(self, console: Console):
        self._console = console
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._started = time.monotonic()

    def farm_started(self, jobs: Sequence[Job], skipped: int) -> None:
        self._total = len(jobs)
        devices = len({job.device_key for job in jobs})
        resumed = f" ({skipped} already done)" if skipped else ""
        self._console.print(f"farm: {len(jobs)} job(s) on {devices} device(s){resumed}", markup=False,
                            highlight=False, soft_wrap=True)

    def job_finished(self, job: Job, result: Result) -> None:
        with self._lock:
            self._done += 1
            line = f"[{self._done}/{self._total} {time.monotonic() - self._started:.0f}s] {finished_line(job, result)}"
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)


def progress_for(console: Console) -> LiveProgress | LineProgress:
    """The live display on a terminal, plain lines otherwise."""
    return LiveProgress(console) if console.is_terminal else LineProgress(console)
