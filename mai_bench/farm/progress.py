"""Progress of a running farm on stderr: on a terminal a live rich display (one line per device with its current
job and step, one overall line); elsewhere (CI logs) one plain line per finished job. Each line starts with the
jobs done out of the total and the time left, so a narrow terminal cuts the step text, never the count."""

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
    TimeRemainingColumn,
)
from rich.table import Column

from mai_bench.farm.plan import Job
from mai_bench.farm.runner import Silent
from mai_bench.results.schema import Result

STATUS_WIDTH = 60  # a step text longer than this is cut: one line per device
BAR_WIDTH = 12


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
    """The rich display: an overall row and a row per device, each "done/total ETA device step bar". The step
    text takes the width left over and is the only thing a narrow terminal shortens (with an ellipsis)."""

    def __init__(self, console: Console):
        step = Column(no_wrap=True, overflow="ellipsis", ratio=1)
        self._progress = Progress(MofNCompleteColumn(), TimeRemainingColumn(), SpinnerColumn(),
                                  TextColumn("{task.fields[device]}", style="bold", table_column=Column(no_wrap=True)),
                                  TextColumn("{task.description}", table_column=step), BarColumn(bar_width=BAR_WIDTH),
                                  console=console, transient=False, expand=True)
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
            self._progress.console.print(escape(finished_line(job, result)), style="yellow")

    def farm_stopping(self, running: Sequence[Job]) -> None:
        self._progress.console.print(stopping_line(running), style="yellow", markup=False, highlight=False)

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
                            highlight=False)

    def job_finished(self, job: Job, result: Result) -> None:
        with self._lock:
            self._done += 1
            line = f"[{count_and_eta(self._done, self._total, time.monotonic() - self._started)}] "
            self._console.print(line + finished_line(job, result), markup=False, highlight=False)

    def farm_stopping(self, running: Sequence[Job]) -> None:
        self._console.print(stopping_line(running), markup=False, highlight=False)


def stopping_line(running: Sequence[Job]) -> str:
    """What Ctrl-C is doing, said at once: stopping can take a few seconds per device."""
    what = (f"stopping the benchmark(s) running on {len(running)} device(s) and releasing their locks"
            if running else "stopping")
    return f"Ctrl-C: {what}; press Ctrl-C again to quit at once (leaving them running until their time limit)"


def count_and_eta(done: int, total: int, elapsed_s: float) -> str:
    """"3/8, 12 s, ETA 20 s": jobs done of the total, time so far, and the time left at the pace so far."""
    text = f"{done}/{total}, {elapsed_s:.0f} s"
    if 0 < done < total:
        text += f", ETA {elapsed_s / done * (total - done):.0f} s"
    return text


def progress_for(console: Console) -> LiveProgress | LineProgress:
    """The live display on a terminal, plain lines otherwise."""
    return LiveProgress(console) if console.is_terminal else LineProgress(console)
