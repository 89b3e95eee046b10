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
from mai_bench.emulate.adbd import auth, jail, sandbox
from mai_bench.emulate.adbd.spec import LENIENT_PROP, Faults, LoopbackSpec, load_spec
from mai_bench.errors import InfraError

HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
FAULTS_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 15.0
KEY_TIMEOUT_S = 5.0


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


def start_device(spec: LoopbackSpec, root: Path, *, port: int = 0, timeout: float = START_TIMEOUT_S,
                 trusted_keys: Sequence[str] = (), isolation: jail.Isolation | None = None) -> LoopbackDevice:
    """Start one device serving `spec` from the sandbox folder `root` on 127.0.0.1:`port` (0: a free port).
    Unless its ro.adb.secure is 0 it authenticates hosts as a production phone does: it trusts the adb key lines
    in `trusted_keys` (e.g. `server_public_key(server)`) and those trusted in `root` before."""
    _key_store(root).trust(trusted_keys)
    return _wait_ready(_spawn(spec, root, port, isolation), timeout)


def start_devices(spec: LoopbackSpec, roots: Sequence[Path], timeout: float = START_TIMEOUT_S, *,
                  trusted_keys: Sequence[str] = (), isolation: jail.Isolation | None = None) -> list[LoopbackDevice]:
    """Start one device per sandbox folder, all at once (their start-up overlaps); each trusts `trusted_keys`.
    `isolation` (default: the most faithful this host can run, `jail.probe()`) forces a lenient device."""
    for root in roots:
        _key_store(root).trust(trusted_keys)
    pending = []
    try:
        for root in roots:
            pending.append(_spawn(spec, root, 0, isolation))
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


def server_public_key(server: AdbServer, timeout: float = KEY_TIMEOUT_S) -> str:
    """The public key line the adb server authenticates with: `$HOME/.android/adbkey.pub` of the HOME it was
    started with here (this user's HOME for a server found running), else derived from its `adbkey`."""
    folder = (server.home if server.home is not None else Path.home()) / ".android"
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = (folder / "adbkey.pub").read_text(encoding="utf-8").strip()
            auth.decode_key(line)
            return line
        except (OSError, auth.BadKey):
            pass
        try:
            return auth.public_key_of_private((folder / "adbkey").read_bytes())
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise InfraError(f"the adb server {server.address} has no readable key in {folder}",
                             "start that adb server with this HOME, or run the devices with --insecure")
        time.sleep(0.01)


def trust_keys(device: LoopbackDevice, keys: Sequence[str]) -> list[str]:
    """Add adb key lines to a running device's trusted keys (as pushing adbkey.pub to a phone's
    /data/misc/adb/adb_keys would); a connection waiting for one of them completes. Returns those added."""
    added = _key_store(device.root).trust(keys)
    _keys_changed(device)
    return added


def pending_keys(device: LoopbackDevice) -> list[str]:
    """The public keys adb hosts offered the device that nobody accepted yet (its "Allow USB debugging?"
    dialogs); meanwhile the server lists the device as `unauthorized`."""
    return _key_store(device.root).pending()


def accept_pending_keys(device: LoopbackDevice) -> list[str]:
    """Tap "Allow" (always allow this computer) on the device: every pending key becomes trusted, and a
    connection waiting for one gets CNXN, so its server lists the device as `device` (a host that gave up
    meanwhile gets in on its next connection). Under the reject_auth fault nothing gets in. Returns the keys."""
    accepted = _key_store(device.root).accept_pending()
    _keys_changed(device)
    return accepted


def _key_store(root: Path) -> auth.KeyStore:
    return auth.KeyStore(Path(root) / sandbox.STATE_DIR)


def _keys_changed(device: LoopbackDevice) -> None:
    try:
        os.kill(device.pid, signal.SIGUSR2)
    except ProcessLookupError:  # a dead device reads its keys when started again
        pass


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes of the device whose daemon leads session `sid`: the processes in that
    session and every process in a PID namespace that one of them entered (a faithful device's shells, each
    in a session of its own). Read from /proc; without it, as on macOS, the empty list."""
    in_session, namespace_of = [], {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            namespace_of[int(entry)] = os.readlink(f"/proc/{entry}/ns/pid")
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] == b"Z":
            namespace_of.pop(int(entry))
        elif int(fields[3]) == sid:
            in_session.append(int(entry))
    own = _own_pid_namespace()
    device_namespaces = {namespace_of[pid] for pid in in_session if pid in namespace_of} - {own}
    return sorted(set(in_session) | {pid for pid, ns in namespace_of.items() if ns in device_namespaces})


def shell_processes(device: LoopbackDevice) -> list[int]:
    """What the device's shells started (a phone's process table less adbd): `session_processes` without the
    daemon, its bubblewrap and its zygote."""
    return [pid for pid in session_processes(device.pid) if pid != device.pid and not _is_device_machinery(pid)]


def _is_device_machinery(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return os.path.basename(argv[0]) == b"bwrap" or any(arg.endswith(b"/adbd/zygote.py") for arg in argv[:4])


def _own_pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def connect_devices(server: AdbServer, devices: Sequence[LoopbackDevice], *, wait: bool = True,
                    timeout: float = CONNECT_TIMEOUT_S, trust_server: bool = True) -> None:
    """`adb connect` each device; with `wait`, until the server lists it as `device`. With `trust_server` each
    device trusts the server's key first, as a phone whose user allowed this computer before."""
    if trust_server:
        key = server_public_key(server)
        for device in devices:
            trust_keys(device, [key])
    for device in devices:
        adb_server.connect(server, device.serial, timeout=timeout)
    if wait:
        for device in devices:
            adb_server.wait_for_state(server, device.serial, ("device",), timeout=timeout)


def disconnect_devices(server: AdbServer, devices: Sequence[LoopbackDevice]) -> None:
    for device in devices:
        adb_server.disconnect(server, device.serial)


def run_emulator(profile: str | Path, count: int, server_address: str, root: Path,
                 on_ready: Callable[[AdbServer, list[LoopbackDevice]], None], *, insecure: bool = False) -> None:
    """`mai-bench emulate`: start `count` devices, connect them to the adb server at `server_address` (starting
    one bound to 127.0.0.1 when none answers), call `on_ready`, serve until SIGINT/SIGTERM, then disconnect
    them and stop every process this started. The devices trust the server's key (as phones that allowed this
    computer before); `insecure` devices (ro.adb.secure=0) ask for no key at all."""
    spec = load_spec(profile)
    if insecure:
        spec = spec.with_props(**{"ro.adb.secure": "0"})
    root.mkdir(parents=True, exist_ok=True)
    root = sandbox.check_root(root)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = None
    devices: list[LoopbackDevice] = []
    try:
        server = adb_server.ensure_server(server_address, root / "adb-home")
        keys = [] if insecure else [server_public_key(server)]
        devices = start_devices(spec, [root / f"device{i}" for i in range(count)], trusted_keys=keys)
        connect_devices(server, devices, trust_server=False)
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


def _spawn(spec: LoopbackSpec, root: Path, port: int, isolation: jail.Isolation | None = None) -> _Pending:
    root.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted device gets its port back at once
    try:
        listener.bind((HOST, port))
        listener.listen(64)
        port = listener.getsockname()[1]
        if "ro.serialno" not in spec.props:
            spec = spec.with_props(**{"ro.serialno": f"loopback{port}"})
        isolation = isolation or jail.probe()
        if not isolation.faithful:
            spec = spec.with_props(**{LENIENT_PROP: isolation.reason})
        root = sandbox.build(root, spec, isolation)
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
