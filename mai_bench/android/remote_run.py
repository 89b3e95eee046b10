"""Run benchmark_model detached on the device and collect it: the run survives a USB hiccup.

The device-side wrapper (android_runner/run_benchmark.sh) writes the combined output to RUN_DIR/log and the
exit status to RUN_DIR/rc when the benchmark ends, and kills it on the device past its time limit. The host
starts it in its own session (setsid + nohup: closing the adb shell does not end it), polls for RUN_DIR/rc,
reads the log, and removes the run folder.
"""

from __future__ import annotations

import posixpath
import time
import uuid
from typing import Callable, Sequence

from mai_bench.device.device import Device, quote_argv
from mai_bench.device.errors import DeviceError, DeviceLost, DeviceTimeout
from mai_bench.android.staging import REMOTE_ROOT
from mai_bench.session import RawRun

START_TIMEOUT_S = 15.0
POLL_TIMEOUT_S = 10.0  # on top of the time a wait shell waits on the device
COLLECT_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 15.0
DEVICE_POLL_S = 0.05  # how often the wait shell looks for the rc file, on the device
WAIT_CHUNK_S = 5.0  # one wait shell lasts at most this long, so progress shows and a dead link is noticed
RECONNECT_PAUSE_S = 1.0
# How long a device may stay unreachable during a run before the run is given up (a cable re-plug, an adb
# server restart); the benchmark itself goes on on the device meanwhile.
RECONNECT_GRACE_S = 30.0
# The wrapper kills the benchmark at the limit; the host waits this much longer for its rc file.
WRAPPER_SLACK_S = 15.0


def new_run_dir() -> str:
    return posixpath.join(REMOTE_ROOT, "runs", time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8])


def _wait_script(run_dir: str, seconds: float) -> str:
    """Shell that waits on the device (polling a local file: no round trips) until the run's rc file exists or
    `seconds` pass, then prints the rc (and `timed_out` if the wrapper killed the run); prints nothing if not
    done yet."""
    rc_path, flag_path = (quote_argv([posixpath.join(run_dir, name)]) for name in ("rc", "timed_out"))
    ticks = max(1, int(seconds / DEVICE_POLL_S))
    return (f"i=0; while [ ! -e {rc_path} ] && [ $i -lt {ticks} ]; do sleep {DEVICE_POLL_S}; i=$((i+1)); done; "
            f"cat {rc_path} 2>/dev/null && test -e {flag_path} && echo timed_out; true")


def start_detached(device: Device, wrapper: str, run_dir: str, limit_s: float, argv: Sequence[str],
                   wait_s: float) -> str:
    """Start `argv` under the wrapper in RUN_DIR, detached from this adb connection (setsid + nohup), and wait
    up to `wait_s` on the device for it to finish, in the same round trip. Returns what the wait printed."""
    inner = quote_argv(["sh", wrapper, run_dir, str(int(limit_s) + 1), *argv])
    script = (f"mkdir -p {quote_argv([run_dir])} && (setsid nohup {inner} </dev/null >/dev/null 2>&1 &) && "
              + _wait_script(run_dir, wait_s))
    return device.shell(["sh", "-c", script], START_TIMEOUT_S + wait_s, check=True).out


def run_detached(device: Device, wrapper: str, argv: Sequence[str], limit_s: float,
                 on_poll: Callable[[float], None] | None = None) -> RawRun:
    """Run `argv` (the binary and its flags) on the device and return its output and exit status.

    Raises DeviceLost when the device stays unreachable for longer than RECONNECT_GRACE_S, DeviceTimeout when
    the run ends neither by itself nor by the wrapper's kill.
    """
    run_dir = new_run_dir()
    started = time.monotonic()
    answer = start_detached(device, wrapper, run_dir, limit_s, argv, min(WAIT_CHUNK_S, limit_s + WRAPPER_SLACK_S))
    try:
        rc_text, timed_out = _wait_for_rc(device, run_dir, answer, started, started + limit_s + WRAPPER_SLACK_S,
                                          on_poll)
        log = _read(device, posixpath.join(run_dir, "log"))
    except BaseException:
        _stop_quietly(device, run_dir)
        raise
    _remove_quietly(device, run_dir)
    code = int(rc_text) if rc_text.strip().lstrip("-").isdigit() else None
    return RawRun(argv=tuple(argv), output=log, exit_code=None if timed_out else code,
                  duration_s=time.monotonic() - started, timed_out=timed_out)


def _wait_for_rc(device: Device, run_dir: str, answer: str, started: float, deadline: float,
                 on_poll: Callable[[float], None] | None) -> tuple[str, bool]:
    lost_since = None
    while not answer.strip():
        if on_poll is not None:
            on_poll(time.monotonic() - started)
        if time.monotonic() > deadline:
            raise DeviceTimeout(f"the benchmark in {run_dir} neither finished nor was stopped by its time limit",
                                "check the device with `adb shell ps`; raise --run-timeout for very long runs",
                                serial=device.serial, server=device.server)
        chunk = max(DEVICE_POLL_S, min(WAIT_CHUNK_S, deadline - time.monotonic()))
        try:
            answer = device.shell(["sh", "-c", _wait_script(run_dir, chunk)], chunk + POLL_TIMEOUT_S).out
            lost_since = None
        except (DeviceLost, DeviceTimeout):
            # The run goes on on the device: keep asking until the grace period is over.
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > RECONNECT_GRACE_S:
                raise
            time.sleep(RECONNECT_PAUSE_S)
            answer = ""
    words = answer.split()
    return words[0], "timed_out" in words[1:]


def _read(device: Device, path: str) -> str:
    result = device.shell(["cat", path], COLLECT_TIMEOUT_S)
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
