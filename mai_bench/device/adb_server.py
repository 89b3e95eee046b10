"""Run a real adb server for loopback devices and talk to it over its smart-socket protocol: start one bound to
127.0.0.1 only, stop it by PID, connect/disconnect TCP devices, wait for a device state.

The server is `adb -L tcp:PORT server nodaemon` (adb refuses a host name in -L, and `tcp:PORT` binds the
loopback interface only) with mDNS, USB and emulator scanning off and HOME in a folder of our own (adb keeps
its key pair in ~/.android). adbutils is used only to find the adb binary.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mai_bench.errors import InfraError, UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5037
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 15.0  # `host:connect` alone may wait 10 s for a device's handshake
POLL_S = 0.01
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it
ISOLATION_ENV = {"ADB_MDNS": "0", "ADB_USB": "0", "ADB_EMU": "0"}


@dataclass(frozen=True)
class AdbServer:
    """An adb server; `pid` is None when it was already running and is not ours to stop."""

    host: str
    port: int
    pid: int | None = None
    home: Path | None = None
    process: subprocess.Popen | None = field(default=None, compare=False, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def adb_binary() -> str:
    """The adb executable adbutils would use ($ADBUTILS_ADB_PATH, then PATH, then the one in its wheel)."""
    import adbutils

    try:
        return adbutils.adb_path()
    except adbutils.AdbError as error:
        raise InfraError(f"no adb binary: {error}", "pip install adbutils (it bundles adb) or put adb on PATH") from None


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"adb server address {address!r} is not HOST:PORT", "pass e.g. --adb-server 127.0.0.1:5037")
    return host or DEFAULT_HOST, int(port)


def start_server(home: Path, port: int | None = None, *, burst_mode: bool = False,
                 timeout: float = START_TIMEOUT_S) -> AdbServer:
    """Start `adb server nodaemon` on 127.0.0.1:`port` (a free port when None) with HOME=`home`; returns once
    it answers. `burst_mode` sets ADB_BURST_MODE=1 (adb 36+: the server offers delayed_ack)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **ISOLATION_ENV, "HOME": str(home)}
    env.pop("ANDROID_ADB_SERVER_PORT", None)
    env.pop("ANDROID_ADB_SERVER_ADDRESS", None)
    if burst_mode:
        env["ADB_BURST_MODE"] = "1"
    binary = adb_binary()
    last_error = ""
    for _ in range(START_ATTEMPTS if port is None else 1):
        chosen = port or free_port()
        with open(home / f"adb-server-{chosen}.log", "ab") as log:
            proc = subprocess.Popen([binary, "-L", f"tcp:{chosen}", "server", "nodaemon"], env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        server = AdbServer(DEFAULT_HOST, chosen, proc.pid, home, proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if server_version(server) is not None:
                return server
            time.sleep(POLL_S)
        stop_server(server)
        last_error = _tail(home / f"adb-server-{chosen}.log")
    raise InfraError(f"the adb server did not start on 127.0.0.1:{port or 'a free port'}: {last_error}",
                     "check the log above; pass another --adb-server port if this one is taken")


def stop_server(server: AdbServer, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop a server this process started (by its PID); a server that was already running is left alone."""
    if server.pid is None:
        return
    terminate(server.pid, server.process, timeout)


def ensure_server(address: str, home: Path) -> AdbServer:
    """The server at `address` if one answers there, else a new one on that port (127.0.0.1 only)."""
    host, port = parse_address(address)
    existing = AdbServer(host, port)
    if server_version(existing) is not None:
        return existing
    if host not in ("127.0.0.1", "localhost"):
        raise InfraError(f"no adb server answers at {address}", f"start it there, or use 127.0.0.1:{port}")
    return start_server(home, port)


def server_version(server: AdbServer, timeout: float = 1.0) -> int | None:
    """The server's protocol version, or None when nothing answers (refused, closed, or not adb)."""
    try:
        return int(host_request(server, "host:version", timeout=timeout), 16)
    except (InfraError, ValueError):
        return None


def connect(server: AdbServer, address: str, timeout: float = REQUEST_TIMEOUT_S) -> str:
    """`adb connect address`; returns the serial. An unauthorized device stays listed, so that is no error."""
    reply = host_request(server, f"host:connect:{address}", timeout=timeout)
    if reply.startswith(("connected to", "already connected to")) or "authenticate" in reply:
        return address
    raise InfraError(f"adb server {server.address} could not connect {address}: {reply}",
                     "check that the device process is running")


def disconnect(server: AdbServer, address: str, timeout: float = REQUEST_TIMEOUT_S) -> None:
    try:
        host_request(server, f"host:disconnect:{address}", timeout=timeout)
    except InfraError as error:
        if "no such device" not in error.message:
            raise


def devices(server: AdbServer, timeout: float = REQUEST_TIMEOUT_S) -> dict[str, str]:
    """serial -> state (device, offline, unauthorized, ...)."""
    listing = host_request(server, "host:devices", timeout=timeout)
    return dict(line.split("\t", 1) for line in listing.splitlines() if "\t" in line)


def wait_for_state(server: AdbServer, serial: str, states: tuple[str, ...] = ("device",),
                   timeout: float = 10.0) -> str:
    """Poll `host:devices` until `serial` is in one of `states`; returns the state."""
    deadline = time.monotonic() + timeout
    state = None
    while True:
        state = devices(server).get(serial)
        if state in states:
            return state
        if time.monotonic() > deadline:
            raise InfraError(f"{serial} on adb server {server.address} is {state or 'not listed'}, "
                             f"not {' or '.join(states)}, after {timeout:g} s", f"adb -P {server.port} reconnect")
        time.sleep(POLL_S)


def host_request(server: AdbServer, request: str, *, timeout: float = REQUEST_TIMEOUT_S) -> str:
    """One smart-socket request (`%04x` length + text); returns the reply string after OKAY."""
    data = request.encode()
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
            sock.sendall(b"%04x" % len(data) + data)
            status = _recv_exactly(sock, 4)
            if status not in (b"OKAY", b"FAIL"):
                raise InfraError(f"adb server {server.address} answered {status!r} to {request}")
            length = _recv_exactly(sock, 4)
            reply = _recv_exactly(sock, int(length, 16)).decode("utf-8", errors="replace")
    except (OSError, ValueError) as error:
        raise InfraError(f"adb server {server.address} did not answer {request}: {error}",
                         f"start one: adb -L tcp:{server.port} server nodaemon") from None
    if status == b"FAIL":
        raise InfraError(f"adb server {server.address} refused {request}: {reply}")
    return reply


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def terminate(pid: int, process: subprocess.Popen | None, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM (and SIGCONT, in case it is stopped), then SIGKILL after `timeout`; reaps our own children."""
    if process is not None and process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGCONT):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
    if process is None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(POLL_S)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
