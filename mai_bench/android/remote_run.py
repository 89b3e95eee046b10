"""Run benchmark_model detached on the device and collect it: the run survives a USB hiccup.

The device-side wrapper (android_runner/run_benchmark.sh) writes the combined output to RUN_DIR/log and the
exit status to RUN_DIR/rc when the benchmark ends, and kills it on the device past its time limit. The host
starts it in its own session (setsid + nohup: closing the adb shell does not end it) and, in the same shell,
waits on the device for RUN_DIR/rc; then it reads the log and removes the run folder.

While the benchmark is timed the harness stays out of its way: one shell waits on the device for the whole run,
woken at once by a line the wrapper writes into the fifo RUN_DIR/wake and otherwise once per DEVICE_TICK_S by a
timed `read` (a shell builtin: no process is started), when it checks that the wrapper is still there and prints
a heartbeat. Nothing else reaches the device until the run ends (see also lock.quiet).

While the run goes on, the device may stay unreachable (a dropped connection, a re-plugged cable, a restarted
adb server) or silent (hung) for up to the reconnect grace period: every call from the start to the log's
collection is retried until then, and no call waits past it, so a device that stops answering is given up
within the grace period plus one DEVICE_TICK_S and MIN_SLACK_S.
"""

from __future__ import annotations

import math
import posixpath
import time
import uuid
from typing import Callable, Sequence

from mai_bench.device.device import Device, quote_argv
from mai_bench.device.errors import AdbServerUnreachable, DeviceError, DeviceLost, DeviceTimeout
from mai_bench.android.staging import REMOTE_ROOT
from mai_bench.session import RawRun

START_TIMEOUT_S = 15.0
POLL_TIMEOUT_S = 10.0  # how much longer than its heartbeat period a wait shell may stay silent
COLLECT_TIMEOUT_S = 60.0
COLLECT_WAIT_S = 5.0  # a log read's own allowance, before the grace period's share
CLEANUP_TIMEOUT_S = 15.0
# The wait shell's one wake-up on the device while the benchmark runs (a timed `read` on the wake fifo: no
# process), and its heartbeat to the host: the longest the host goes without news of a run, so a dead link or a
# hung device is noticed, progress shows, and a stopping farm worker gets its turn (farm/runner.py).
DEVICE_TICK_S = 2.0
# Where the device cannot wait that way (no fifo, a shell without `read -t`): a `sleep` process this often.
FALLBACK_POLL_S = 0.5
WAIT_CHUNK_S = DEVICE_TICK_S  # the name farm/runner.py knows it by
RECONNECT_PAUSE_S = 1.0
MIN_SLACK_S = 2.0  # the least time a call gets beyond its wait on the device, however little grace is left
# How long a device may stay unreachable during a run before the run is given up (a cable re-plug, an adb
# server restart); the benchmark itself goes on on the device meanwhile.
RECONNECT_GRACE_S = 30.0
# The wrapper kills the benchmark at the limit; the host waits this much longer for its rc file.
WRAPPER_SLACK_S = 15.0
HEARTBEAT = "."  # what the wait shell prints every DEVICE_TICK_S

# What a call fails with while the device or its adb server is out of reach; retried within the grace period.
UNREACHABLE = (DeviceLost, DeviceTimeout, AdbServerUnreachable)


class _Reach:
    """When the device last answered, and how long it may stay unreachable: the reconnect grace period."""

    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self.last = time.monotonic()
        self.gave_up = False

    def left(self) -> float:
        return self.last + self.grace_s - time.monotonic()

    def timeout(self, wait_s: float, usual_s: float) -> float:
        """For a call that waits `wait_s` on the device by design: its usual allowance on top, cut at the end
        of the grace period (but never below MIN_SLACK_S, which a device that answers at all needs)."""
        return wait_s + min(usual_s, max(MIN_SLACK_S, self.left()))

    def answered(self) -> None:
        self.last = time.monotonic()

    def missed(self, error: DeviceError) -> None:
        """After a call failed with an UNREACHABLE error: pause before the next attempt, or, once the grace
        period is over, give up with a DeviceTimeout (the device went silent) or DeviceLost saying so."""
        left = self.left()
        if left > 0:
            time.sleep(min(RECONNECT_PAUSE_S, left))
            return
        self.gave_up = True
        kind = DeviceTimeout if isinstance(error, DeviceTimeout) else DeviceLost
        raise kind(f"no answer for {time.monotonic() - self.last:.0f} s, past the reconnect grace period of "
                   f"{self.grace_s:g} s; last: {error.reason}",
                   f"{error.fix or 'check the device with `mai-bench devices`'}; the benchmark still stops on the "
                   "device at its time limit; allow longer outages with --reconnect-grace",
                   serial=error.serial, server=error.server, command=error.command, output=error.output) from error


def new_run_dir() -> str:
    return posixpath.join(REMOTE_ROOT, "runs", time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8])


def _wait_script(run_dir: str, seconds: float) -> str:
    """Shell that waits on the device until the run's rc file exists or `seconds` pass, printing HEARTBEAT every
    DEVICE_TICK_S; then prints the rc (and `timed_out` if the wrapper killed the run), or `gone` when the wrapper
    is not running and left no rc (it never started, or died with the device), or nothing when time is up.

    It starts no process while it waits: the wrapper's line into the fifo RUN_DIR/wake ends a timed `read` at
    once, and every DEVICE_TICK_S the `read` times out for the checks (shell builtins). Where the fifo or
    `read -t` is missing (no mkfifo; the host's dash on a lenient loopback device) it looks every
    FALLBACK_POLL_S with `sleep` instead, and a `read -t` that returns early without news falls back to that."""
    folder = quote_argv([run_dir])
    steps = max(1, math.ceil(seconds / FALLBACK_POLL_S))  # the time allowed, in FALLBACK_POLL_S steps
    per_tick = round(DEVICE_TICK_S / FALLBACK_POLL_S)
    return (f"cd {folder} 2>/dev/null || {{ echo gone; exit 0; }}; "
            "w=sleep; if [ -p wake ] && [ -n \"$SECONDS\" ] && exec 3<>wake; then w=read; fi; "
            f"i=0; while [ ! -e rc ] && [ $i -lt {steps} ]; do "
            f"if [ $w = read ]; then s=$SECONDS; read -t {DEVICE_TICK_S:g} line <&3; i=$((i+{per_tick})); "
            "if [ \"$SECONDS\" = \"$s\" ] && [ ! -e rc ]; then w=sleep; fi; "
            f"else sleep {FALLBACK_POLL_S:g}; i=$((i+1)); fi; "
            "[ -e rc ] && break; "
            # After a tick's time at least: a wrapper just started may not have written its pid yet.
            f"if [ $i -ge {per_tick} ]; then p=; read p < wrapper.pid 2>/dev/null; "
            "if ! kill -0 \"$p\" 2>/dev/null && [ ! -e rc ]; then echo gone; exit 0; fi; fi; "
            f"echo {HEARTBEAT}; done; "
            "if [ -e rc ]; then read r < rc; echo \"$r\"; [ -e timed_out ] && echo timed_out; fi; true")


def start_detached(device: Device, wrapper: str, run_dir: str, limit_s: float, argv: Sequence[str],
                   wait_s: float, timeout: float | None = None, *, idle_s: float | None = None,
                   on_output: Callable[[bytes], None] | None = None) -> str:
    """Start `argv` under the wrapper in RUN_DIR, detached from this adb connection (setsid + nohup), and wait
    up to `wait_s` on the device for it to finish, in the same shell (the call's timeout: `timeout`, default
    START_TIMEOUT_S on top of `wait_s`; `idle_s`: how long it may stay silent). Returns what the wait printed."""
    folder = quote_argv([run_dir])
    fifos = quote_argv([posixpath.join(run_dir, name) for name in ("wake", "timer")])
    inner = quote_argv(["sh", wrapper, run_dir, str(int(limit_s) + 1), *argv])
    script = (f"mkdir -p {folder} && {{ mkfifo {fifos} 2>/dev/null; true; }} && "
              f"(setsid nohup {inner} </dev/null >/dev/null 2>&1 &) && " + _wait_script(run_dir, wait_s))
    limit = START_TIMEOUT_S + wait_s if timeout is None else timeout
    return device.shell(["sh", "-c", script], limit, check=True, idle_s=idle_s, on_output=on_output).out


def run_detached(device: Device, wrapper: str, argv: Sequence[str], limit_s: float,
                 on_poll: Callable[[float], None] | None = None, grace_s: float | None = None) -> RawRun:
    """Run `argv` (the binary and its flags) on the device and return its output and exit status.

    One shell starts the run and waits for its end on the device; `on_poll(elapsed_s)` is called at its every
    heartbeat (at least every DEVICE_TICK_S while the device answers). The device may be unreachable for up to
    `grace_s` seconds at a time (default RECONNECT_GRACE_S); past that the last DeviceLost, DeviceTimeout or
    AdbServerUnreachable is raised (the wrapper still ends the benchmark at its limit on the device).
    DeviceTimeout also when the run ends neither by itself nor by the wrapper's kill; DeviceError when the
    wrapper is gone without an exit status.
    """
    reach = _Reach(RECONNECT_GRACE_S if grace_s is None else grace_s)
    run_dir = new_run_dir()
    started = time.monotonic()
    deadline = started + limit_s + WRAPPER_SLACK_S

    def progress() -> None:
        if on_poll is not None:
            on_poll(time.monotonic() - started)

    def heard(chunk: bytes) -> None:
        reach.answered()
        progress()

    try:
        wait_s = limit_s + WRAPPER_SLACK_S
        try:
            answer = start_detached(device, wrapper, run_dir, limit_s, argv, wait_s,
                                    reach.timeout(wait_s, START_TIMEOUT_S),
                                    idle_s=reach.timeout(DEVICE_TICK_S, START_TIMEOUT_S), on_output=heard)
            reach.answered()
        except UNREACHABLE as error:
            # The start may or may not have reached the device: the waits tell ("gone" if it did not).
            reach.missed(error)
            answer = ""
        rc_text, timed_out = _wait_for_rc(device, run_dir, answer, deadline, reach, heard, progress)
        log = _read(device, posixpath.join(run_dir, "log"), reach)
    except BaseException:
        if not reach.gave_up:  # past the grace period cleanup would only wait out more timeouts
            _stop_quietly(device, run_dir)
        raise
    _remove_quietly(device, run_dir)
    code = int(rc_text) if rc_text.strip().lstrip("-").isdigit() else None
    return RawRun(argv=tuple(argv), output=log, exit_code=None if timed_out else code,
                  duration_s=time.monotonic() - started, timed_out=timed_out)


def _news(answer: str) -> list[str]:
    return [word for word in answer.split() if word != HEARTBEAT]


def _wait_for_rc(device: Device, run_dir: str, answer: str, deadline: float, reach: _Reach,
                 heard: Callable[[bytes], None], progress: Callable[[], None]) -> tuple[str, bool]:
    """Wait shells until one brings news (the rc, or `gone`); `progress()` before each, as between heartbeats."""
    while not (words := _news(answer)):
        progress()
        if time.monotonic() > deadline:
            raise DeviceTimeout(f"the benchmark in {run_dir} neither finished nor was stopped by its time limit",
                                "check the device with `adb shell ps`; raise --run-timeout for very long runs",
                                serial=device.serial, server=device.server)
        wait_s = max(DEVICE_TICK_S, deadline - time.monotonic())
        try:
            answer = device.shell(["sh", "-c", _wait_script(run_dir, wait_s)], reach.timeout(wait_s, POLL_TIMEOUT_S),
                                  idle_s=reach.timeout(DEVICE_TICK_S, POLL_TIMEOUT_S), on_output=heard).out
            reach.answered()
        except UNREACHABLE as error:
            reach.missed(error)  # the run goes on on the device: keep asking until the grace period is over
            answer = ""
    if words[0] == "gone":
        raise DeviceError(f"the benchmark wrapper in {run_dir} is not running and left no exit status: it never "
                          "started, or the device rebooted or killed it", "run again; check `mai-bench devices`",
                          serial=device.serial, server=device.server)
    return words[0], "timed_out" in words[1:]


def _read(device: Device, path: str, reach: _Reach) -> str:
    """The benchmark log; the finished run's log stays on the device, so a lost connection is retried."""
    while True:
        try:
            result = device.shell(["cat", path], reach.timeout(COLLECT_WAIT_S, COLLECT_TIMEOUT_S))
            break
        except UNREACHABLE as error:
            reach.missed(error)
    reach.answered()
    if not result.ok:
        raise DeviceError(f"cannot read the benchmark log {path}", "check free space in /data/local/tmp",
                          serial=device.serial, server=device.server, command=result.argv,
                          exit_status=result.exit_code, output=result.stdout + result.stderr)
    return result.out


def _stop_quietly(device: Device, run_dir: str) -> None:
    """Kill a run we stop waiting for (no orphan left on the device), then remove its folder."""
    pid_file = quote_argv([posixpath.join(run_dir, "child.pid")])
    script = f"kill -9 $(cat {pid_file} 2>/dev/null) 2>/dev/null; true"
    try:
        device.shell(["sh", "-c", script], CLEANUP_TIMEOUT_S)
    except DeviceError:
        return
    _remove_quietly(device, run_dir)


def _remove_quietly(device: Device, run_dir: str) -> None:
    try:
        device.remove(run_dir, CLEANUP_TIMEOUT_S, recursive=True)
    except DeviceError:
        pass  # a leftover run folder is harmless; the next run has its own
