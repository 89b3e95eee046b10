"""Run benchmark_model detached on the device and collect it: the run survives a USB hiccup.

The device-side wrapper (android_runner/run_benchmark.sh) writes the combined output to RUN_DIR/log and the
exit status to RUN_DIR/rc when the benchmark ends, and kills it on the device past its time limit. The host
starts it in its own session (setsid + nohup: closing the adb shell does not end it), polls for RUN_DIR/rc,
reads the log, and removes the run folder.

While the run goes on, the device may stay unreachable (a dropped connection, a re-plugged cable, a restarted
adb server) or silent (hung) for up to the reconnect grace period: every call from the start to the log's
collection is retried until then, and no call waits past it, so a device that stops answering is given up
within the grace period (at least MIN_SLACK_S) plus one WAIT_CHUNK_S.
"""

from __future__ import annotations

import posixpath
import time
import uuid
from typing import Callable, Sequence

from mai_bench.device.device import Device, quote_argv
from mai_bench.device.errors import AdbServerUnreachable, DeviceError, DeviceLost, DeviceTimeout
from mai_bench.android.staging import REMOTE_ROOT
from mai_bench.session import RawRun

START_TIMEOUT_S = 15.0
POLL_TIMEOUT_S = 10.0  # on top of the time a wait shell waits on the device
COLLECT_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 15.0
DEVICE_POLL_S = 0.05  # how often the wait shell looks for the rc file, on the device
WAIT_CHUNK_S = 5.0  # one wait shell lasts at most this long, so progress shows and a dead link is noticed
RECONNECT_PAUSE_S = 1.0
MIN_SLACK_S = 2.0  # the least time a call gets beyond its wait on the device, however little grace is left
# How long a device may stay unreachable during a run before the run is given up (a cable re-plug, an adb
# server restart); the benchmark itself goes on on the device meanwhile.
RECONNECT_GRACE_S = 30.0
# The wrapper kills the benchmark at the limit; the host waits this much longer for its rc file.
WRAPPER_SLACK_S = 15.0

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
    """Shell that waits on the device (polling a local file: no round trips) until the run's rc file exists or
    `seconds` pass, then prints the rc (and `timed_out` if the wrapper killed the run); prints `gone` when the
    wrapper is not running and left no rc (it never started, or died with the device); else nothing."""
    rc_path, flag_path, pid_path = (quote_argv([posixpath.join(run_dir, name)])
                                    for name in ("rc", "timed_out", "wrapper.pid"))
    ticks = max(1, int(seconds / DEVICE_POLL_S))
    return (f"i=0; while [ ! -e {rc_path} ] && [ $i -lt {ticks} ]; do sleep {DEVICE_POLL_S}; i=$((i+1)); done; "
            f"if [ -e {rc_path} ]; then cat {rc_path}; test -e {flag_path} && echo timed_out; "
            f"elif ! kill -0 \"$(cat {pid_path} 2>/dev/null)\" 2>/dev/null && [ ! -e {rc_path} ]; then echo gone; "
            "fi; true")


def start_detached(device: Device, wrapper: str, run_dir: str, limit_s: float, argv: Sequence[str],
                   wait_s: float, timeout: float | None = None) -> str:
    """Start `argv` under the wrapper in RUN_DIR, detached from this adb connection (setsid + nohup), and wait
    up to `wait_s` on the device for it to finish, in the same round trip (the call's timeout: `timeout`,
    default START_TIMEOUT_S on top of `wait_s`). Returns what the wait printed."""
    inner = quote_argv(["sh", wrapper, run_dir, str(int(limit_s) + 1), *argv])
    script = (f"mkdir -p {quote_argv([run_dir])} && (setsid nohup {inner} </dev/null >/dev/null 2>&1 &) && "
              + _wait_script(run_dir, wait_s))
    limit = START_TIMEOUT_S + wait_s if timeout is None else timeout
    return device.shell(["sh", "-c", script], limit, check=True).out


def run_detached(device: Device, wrapper: str, argv: Sequence[str], limit_s: float,
                 on_poll: Callable[[float], None] | None = None, grace_s: float | None = None) -> RawRun:
    """Run `argv` (the binary and its flags) on the device and return its output and exit status.

    The device may be unreachable for up to `grace_s` seconds at a time (default RECONNECT_GRACE_S); past that
    the last DeviceLost, DeviceTimeout or AdbServerUnreachable is raised (the wrapper still ends the benchmark
    at its limit on the device). DeviceTimeout also when the run ends neither by itself nor by the wrapper's
    kill; DeviceError when the wrapper is gone without an exit status.
    """
    reach = _Reach(RECONNECT_GRACE_S if grace_s is None else grace_s)
    run_dir = new_run_dir()
    started = time.monotonic()
    deadline = started + limit_s + WRAPPER_SLACK_S
    wait_s = min(WAIT_CHUNK_S, limit_s + WRAPPER_SLACK_S)
    try:
        try:
            answer = start_detached(device, wrapper, run_dir, limit_s, argv, wait_s,
                                    reach.timeout(wait_s, START_TIMEOUT_S))
            reach.answered()
        except UNREACHABLE as error:
            # The start may or may not have reached the device: the polls tell ("gone" if it did not).
            reach.missed(error)
            answer = ""
        rc_text, timed_out = _wait_for_rc(device, run_dir, answer, started, deadline, reach, on_poll)
        log = _read(device, posixpath.join(run_dir, "log"), reach)
    except BaseException:
        if not reach.gave_up:  # past the grace period cleanup would only wait out more timeouts
            _stop_quietly(device, run_dir)
        raise
    _remove_quietly(device, run_dir)
    code = int(rc_text) if rc_text.strip().lstrip("-").isdigit() else None
    return RawRun(argv=tuple(argv), output=log, exit_code=None if timed_out else code,
                  duration_s=time.monotonic() - started, timed_out=timed_out)


def _wait_for_rc(device: Device, run_dir: str, answer: str, started: float, deadline: float, reach: _Reach,
                 on_poll: Callable[[float], None] | None) -> tuple[str, bool]:
    while not answer.strip():
        if on_poll is not None:
            on_poll(time.monotonic() - started)
        if time.monotonic() > deadline:
            raise DeviceTimeout(f"the benchmark in {run_dir} neither finished nor was stopped by its time limit",
                                "check the device with `adb shell ps`; raise --run-timeout for very long runs",
                                serial=device.serial, server=device.server)
        chunk = max(DEVICE_POLL_S, min(WAIT_CHUNK_S, deadline - time.monotonic()))
        try:
            answer = device.shell(["sh", "-c", _wait_script(run_dir, chunk)],
                                  reach.timeout(chunk, POLL_TIMEOUT_S)).out
            reach.answered()
        except UNREACHABLE as error:
            reach.missed(error)  # the run goes on on the device: keep asking until the grace period is over
            answer = ""
    words = answer.split()
    if words[0] == "gone":
        raise DeviceError(f"the benchmark wrapper in {run_dir} is not running and left no exit status: it never "
                          "started, or the device rebooted or killed it", "run again; check `mai-bench devices`",
                          serial=device.serial, server=device.server)
    return words[0], "timed_out" in words[1:]


def _read(device: Device, path: str, reach: _Reach) -> str:
    """The benchmark log; the finished run's log stays on the device, so a lost connection is retried."""
    while True:
        try:
            result = device.shell(["cat", path], reach.timeout(WAIT_CHUNK_S, COLLECT_TIMEOUT_S))
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
