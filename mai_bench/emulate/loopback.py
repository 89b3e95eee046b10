"""Start and stop loopback ADB devices, one OS process each (so a test can SIGSTOP one to hang it or SIGKILL it
to drop it), connect them to an adb server, and run them for `mai-bench emulate`.

Each device is `python -m mai_bench.emulate.adbd` in a session of its own, serving a listening socket this
process bound on 127.0.0.1 (so the port is known before it starts), with a sandbox folder as its file system.
Its shell commands run in that session too, so every process a device ever started can be found, and
killed, by session id even after the device itself was SIGKILLed.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import mai_bench
from mai_bench.device import adb_server
from mai_bench.device.adb_server import AdbServer
from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec, load_spec
from mai_bench.errors import InfraError

HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
FAULTS_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class LoopbackDevice:
    """A running loopback device: its adb serial (`127.0.0.1:PORT`), process and sandbox."""

    serial: str
    port: int
    pid: int
    root: Path
    spec: LoopbackSpec
    process: subprocess.Popen = field(compare=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.root / sandbox.STATE_DIR / "adbd.log"

    @property
    def argv_log(self) -> Path:
        return self.root / sandbox.ARGV_LOG


def start_device(spec: LoopbackSpec, root: Path, *, port: int = 0, timeout: float = START_TIMEOUT_S) -> LoopbackDevice:
    """Start one device serving `spec` from the sandbox folder `root` on 127.0.0.1:`port` (0: a free port)."""
    return _wait_ready(_spawn(spec, root, port), timeout)


def start_devices(spec: LoopbackSpec, roots: Sequence[Path], timeout: float = START_TIMEOUT_S) -> list[LoopbackDevice]:
    """Start one device per sandbox folder, all at once (their start-up overlaps)."""
    pending = []
    try:
        for root in roots:
            pending.append(_spawn(spec, root, 0))
        return [_wait_ready(item, timeout) for item in pending]
    except BaseException:
        for item in pending:
            _stop(item.pid, item.process)
        raise


def stop_device(device: LoopbackDevice, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the device (SIGTERM, SIGKILL after `timeout`), then kill whatever its shells left running."""
    _stop(device.pid, device.process, timeout)


def set_faults(device: LoopbackDevice, faults: Faults, timeout: float = FAULTS_TIMEOUT_S) -> LoopbackDevice:
    """Change a running device's faults; returns once the daemon applied them."""
    sandbox.write_faults(device.root, faults)
    os.kill(device.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if sandbox.read_faults(device.root, sandbox.APPLIED_FILE) == faults:
                return replace(device, spec=device.spec.with_faults(faults))
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise InfraError(f"loopback device {device.serial} did not apply new faults within {timeout:g} s",
                             f"see {device.log_path}; a stopped (SIGSTOP) device cannot change faults")
        time.sleep(0.005)


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes in session `sid`: a device and everything its shells started (read from
    /proc; without it, as on macOS, the empty list)."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != b"Z":
            found.append(int(entry))
    return found


def connect_devices(server: AdbServer, devices: Sequence[LoopbackDevice], *, wait: bool = True,
                    timeout: float = CONNECT_TIMEOUT_S) -> None:
    """`adb connect` each device; with `wait`, until the server lists it as `device`."""
    for device in devices:
        adb_server.connect(server, device.serial, timeout=timeout)
    if wait:
        for device in devices:
            adb_server.wait_for_state(server, device.serial, ("device",), timeout=timeout)


def disconnect_devices(server: AdbServer, devices: Sequence[LoopbackDevice]) -> None:
    for device in devices:
        adb_server.disconnect(server, device.serial)


def run_emulator(profile: str | Path, count: int, server_address: str, root: Path,
                 on_ready: Callable[[AdbServer, list[LoopbackDevice]], None]) -> None:
    """`mai-bench emulate`: start `count` devices, connect them to the adb server at `server_address` (starting
    one bound to 127.0.0.1 when none answers), call `on_ready`, serve until SIGINT/SIGTERM, then disconnect
    them and stop every process this started."""
    spec = load_spec(profile)
    root.mkdir(parents=True, exist_ok=True)
    root = sandbox.check_root(root)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = None
    devices: list[LoopbackDevice] = []
    try:
        server = adb_server.ensure_server(server_address, root / "adb-home")
        devices = start_devices(spec, [root / f"device{i}" for i in range(count)])
        connect_devices(server, devices)
        on_ready(server, devices)
        while not stop.wait(0.5):
            dead = [d.serial for d in devices if d.process.poll() is not None]
            if dead:
                raise InfraError(f"loopback device(s) {', '.join(dead)} exited", f"see their adbd.log under {root}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            for device in devices:
                try:
                    adb_server.disconnect(server, device.serial, timeout=2.0)
                except InfraError:
                    pass
        for device in devices:
            stop_device(device)
        if server is not None:
            adb_server.stop_server(server)


@dataclass(frozen=True)
class _Pending:
    spec: LoopbackSpec
    root: Path
    port: int
    pid: int
    process: subprocess.Popen


def _spawn(spec: LoopbackSpec, root: Path, port: int) -> _Pending:
    root.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted device gets its port back at once
    try:
        listener.bind((HOST, port))
        listener.listen(64)
        port = listener.getsockname()[1]
        if "ro.serialno" not in spec.props:
            spec = spec.with_props(**{"ro.serialno": f"loopback{port}"})
        root = sandbox.build(root, spec)
        env = dict(os.environ)
        # The daemon imports mai_bench from where this process found it, installed or not.
        package_parent = str(Path(mai_bench.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_parent, env.get("PYTHONPATH"))))
        with open(root / sandbox.STATE_DIR / "adbd.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mai_bench.emulate.adbd", "--root", str(root),
                 "--listen-fd", str(listener.fileno())],
                pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                env=env, cwd=root, start_new_session=True)
    except OSError as error:
        raise InfraError(f"cannot start a loopback device on {HOST}:{port}: {error}") from None
    finally:
        listener.close()
    return _Pending(spec, root, port, process.pid, process)


def _wait_ready(item: _Pending, timeout: float) -> LoopbackDevice:
    serial = f"{HOST}:{item.port}"
    line = b""
    deadline = time.monotonic() + timeout
    stdout = item.process.stdout
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        readable, _, _ = select.select([stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        chunk = os.read(stdout.fileno(), 64)
        if not chunk:
            break
        line += chunk
    stdout.close()
    if line.strip() != b"ready":
        _stop(item.pid, item.process)
        log = item.root / sandbox.STATE_DIR / "adbd.log"
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:]) if log.exists() else ""
        raise InfraError(f"loopback device {serial} did not start: {tail or 'no output'}", f"see {log}")
    return LoopbackDevice(serial, item.port, item.pid, item.root, item.spec, item.process)


def _stop(pid: int, process: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    adb_server.terminate(pid, process, timeout)
    # Leftovers exist only if the device died without cleaning up (SIGKILL); they may take a moment to die.
    kill_session(pid, timeout)


def kill_session(sid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGKILL every process left in session `sid` (a killed device's shells) and wait until they are gone."""
    deadline = time.monotonic() + timeout
    while (leftovers := session_processes(sid)) and time.monotonic() < deadline:
        for leftover in leftovers:
            try:
                os.kill(leftover, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
