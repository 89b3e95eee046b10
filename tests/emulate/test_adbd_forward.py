"""`adb forward` and `adb reverse` against the loopback device, through the real adb server and adb CLI. A TCP
echo server on 127.0.0.1 plays the far end: the app on the device for `forward`, the host's server for
`reverse` (where the test's own socket plays the app on the device)."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd import forward
from mai_bench.emulate.adbd.spec import load_spec

IO_TIMEOUT_S = 30.0  # any single socket operation; a hang fails the test instead of blocking it
POLL_S = 0.1
GREETING = b"echo ready\n"  # sent first by the echo server: bytes that flow before the client sent any
BYE = b"BYE\n"  # the echo server echoes it, then closes the connection
BIG = 1024 * 1024 + 4321


class EchoServer:
    """Threads on 127.0.0.1: greets each connection, echoes what arrives, closes after echoing BYE. Records
    each connection its peer closed in `peer_closed`."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(POLL_S)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.peer_closed = 0
        self._peer_closed_event = threading.Condition()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, name="echo-accept", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT_S)
            self.accepted += 1
            self._conns.append(conn)
            thread = threading.Thread(target=self._echo, args=(conn,), name="echo-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            conn.sendall(GREETING)
            while not self._stop.is_set():
                if not select.select([conn], [], [], POLL_S)[0]:
                    continue
                data = conn.recv(1 << 16)
                if not data:
                    with self._peer_closed_event:
                        self.peer_closed += 1
                        self._peer_closed_event.notify_all()
                    return
                conn.sendall(data)
                if data.endswith(BYE):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def wait_peer_closed(self, count: int, timeout: float = IO_TIMEOUT_S) -> bool:
        with self._peer_closed_event:
            return self._peer_closed_event.wait_for(lambda: self.peer_closed >= count, timeout)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(IO_TIMEOUT_S)
        self.listener.close()
        for conn in self._conns:
            conn.close()
        assert not any(thread.is_alive() for thread in self._threads)


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def sockets():
    """Client sockets opened by a test, all closed at its end."""
    opened: list[socket.socket] = []

    def connect(port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        sock.close()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 1 << 20))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def round_trip(sock: socket.socket, payload: bytes) -> bytes:
    """Send `payload` from a thread while reading as many bytes back (neither side waits for the other)."""
    errors: list[BaseException] = []

    def send() -> None:
        try:
            sock.sendall(payload)
        except BaseException as error:  # reported below
            errors.append(error)

    sender = threading.Thread(target=send, name="round-trip-send", daemon=True)
    sender.start()
    try:
        return recv_exactly(sock, len(payload))
    finally:
        sender.join(IO_TIMEOUT_S)
        assert not sender.is_alive() and not errors, errors


def read_until_closed(sock: socket.socket) -> bytes:
    """What arrives before the peer closes; a hang raises socket.timeout (IO_TIMEOUT_S)."""
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def assert_echoes(sock: socket.socket) -> None:
    """Both directions: the greeting (far end first), a short message, and a large random payload."""
    assert recv_exactly(sock, len(GREETING)) == GREETING
    assert round_trip(sock, b"hello through adb\n") == b"hello through adb\n"
    payload = os.urandom(BIG)
    assert round_trip(sock, payload) == payload


def assert_refused(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S).close()


def refused_within(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S).close()
        except ConnectionRefusedError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout.decode()


def reverse_list(adb, serial: str) -> list[list[str]]:
    return [line.split() for line in ok(adb("-s", serial, "reverse", "--list")).splitlines() if line]


def open_service(server: adb_server_lib.AdbServer, serial: str, service: str) -> socket.socket | bytes:
    """Open a device service through the adb server as a client does (which the adb CLI does not allow for
    `tcp:HOST:PORT`): the socket once the device accepted, else the server's FAIL message."""
    sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT_S)
    for request in (f"host:transport:{serial}", service):
        sock.sendall(b"%04x" % len(request) + request.encode())
        status = recv_exactly(sock, 4)
        if status != b"OKAY":
            message = recv_exactly(sock, int(recv_exactly(sock, 4), 16))
            sock.close()
            assert status == b"FAIL", (status, message)
            return message
    return sock


# -- adb forward: the device connects to 127.0.0.1:PORT


def test_forward_carries_bytes_both_ways(loopback, adb, echo, sockets):
    device = loopback.one()
    local = free_port()
    ok(adb("-s", device.serial, "forward", f"tcp:{local}", f"tcp:{echo.port}"))
    assert f"{device.serial} tcp:{local} tcp:{echo.port}" in ok(adb("forward", "--list"))
    first, second = sockets(local), sockets(local)
    assert_echoes(first)
    assert_echoes(second)  # a second connection through the same forward, while the first is open
    assert round_trip(first, b"still here\n") == b"still here\n"
    assert echo.accepted == 2

    ok(adb("-s", device.serial, "forward", "--remove", f"tcp:{local}"))
    assert f"tcp:{local}" not in ok(adb("forward", "--list"))
    assert_refused(local)


def test_closing_either_end_closes_the_other(loopback, adb, echo, sockets):
    device = loopback.one()
    local = free_port()
    ok(adb("-s", device.serial, "forward", f"tcp:{local}", f"tcp:{echo.port}"))
    # The far end closes (after echoing BYE): the client sees the end of the stream.
    far = sockets(local)
    assert recv_exactly(far, len(GREETING)) == GREETING
    far.sendall(b"last words " + BYE)
    assert read_until_closed(far) == b"last words " + BYE
    # The client closes: the device closes its socket to the far end.
    near = sockets(local)
    assert recv_exactly(near, len(GREETING)) == GREETING
    near.close()
    assert echo.wait_peer_closed(1)
    # The device still serves the forward.
    assert_echoes(sockets(local))


def test_forward_to_a_closed_port_closes_the_connection_at_once(loopback, adb, echo, sockets):
    device = loopback.one()
    local, closed = free_port(), free_port()
    ok(adb("-s", device.serial, "forward", f"tcp:{local}", f"tcp:{closed}"))
    assert read_until_closed(sockets(local)) == b""
    # Nothing went wrong on the device: another forward on it works.
    ok(adb("-s", device.serial, "forward", f"tcp:{local}", f"tcp:{echo.port}"))
    assert_echoes(sockets(local))


def test_tcp_service_accepts_localhost_and_refuses_other_hosts_and_unix_sockets(loopback, adb, adb_server, echo):
    """adbd connects to localhost only ("adbd does not support arbitrary tcp connections"), even when another
    name (127.0.0.1) would reach the same socket; local* sockets do not exist on a loopback device."""
    device = loopback.one()
    sock = open_service(adb_server, device.serial, f"tcp:localhost:{echo.port}")
    assert isinstance(sock, socket.socket)
    with sock:
        assert_echoes(sock)
    assert echo.accepted == 1
    for service in (f"tcp:127.0.0.1:{echo.port}", f"tcp:{free_port()}", "localabstract:mai-bench-nothing"):
        assert open_service(adb_server, device.serial, service) == b"closed"
    local = free_port()
    ok(adb("-s", device.serial, "forward", f"tcp:{local}", "localabstract:mai-bench-nothing"))
    with socket.create_connection(("127.0.0.1", local), timeout=IO_TIMEOUT_S) as client:
        assert read_until_closed(client) == b""
    assert echo.accepted == 1


# -- adb reverse: the device listens on 127.0.0.1:PORT and opens tcp:HOSTPORT on the adb server


def test_reverse_carries_bytes_both_ways(loopback, adb, echo, sockets):
    device = loopback.one()
    port = free_port()
    # adbd replies with the port it bound, and the adb CLI prints it.
    assert ok(adb("-s", device.serial, "reverse", f"tcp:{port}", f"tcp:{echo.port}")) == f"{port}\n"
    first, second = sockets(port), sockets(port)
    assert_echoes(first)
    assert_echoes(second)
    assert echo.accepted == 2
    first.close()
    assert echo.wait_peer_closed(1)
    second.sendall(BYE)
    assert read_until_closed(second) == BYE


def test_reverse_list_remove_and_remove_all(loopback, adb, echo, sockets):
    device = loopback.one()
    one, two = free_port(), free_port()
    ok(adb("-s", device.serial, "reverse", f"tcp:{one}", f"tcp:{echo.port}"))
    ok(adb("-s", device.serial, "reverse", f"tcp:{two}", f"tcp:{echo.port}"))
    listing = reverse_list(adb, device.serial)
    # "SERIAL LOCAL REMOTE", the device naming its TCP transport host-FD.
    assert [line[1:] for line in listing] == [[f"tcp:{one}", f"tcp:{echo.port}"],
                                              [f"tcp:{two}", f"tcp:{echo.port}"]]
    assert all(line[0].startswith("host-") and line[0][5:].isdigit() for line in listing)

    refused = adb("-s", device.serial, "reverse", "--no-rebind", f"tcp:{one}", f"tcp:{echo.port}")
    assert refused.returncode != 0 and b"cannot rebind existing socket" in refused.stderr

    ok(adb("-s", device.serial, "reverse", "--remove", f"tcp:{one}"))
    assert [line[1] for line in reverse_list(adb, device.serial)] == [f"tcp:{two}"]
    assert_refused(one)
    assert_echoes(sockets(two))
    missing = adb("-s", device.serial, "reverse", "--remove", f"tcp:{one}")
    assert missing.returncode != 0 and f"listener 'tcp:{one}' not found".encode() in missing.stderr

    ok(adb("-s", device.serial, "reverse", "--remove-all"))
    assert reverse_list(adb, device.serial) == []
    assert_refused(two)


def test_reverse_tcp_0_prints_the_port_it_chose(loopback, adb, echo, sockets):
    device = loopback.one()
    printed = ok(adb("-s", device.serial, "reverse", "tcp:0", f"tcp:{echo.port}")).strip()
    assert printed.isdigit() and int(printed) > 0
    assert [line[1:] for line in reverse_list(adb, device.serial)] == [[f"tcp:{printed}", f"tcp:{echo.port}"]]
    assert_echoes(sockets(int(printed)))
    ok(adb("-s", device.serial, "reverse", "--remove", f"tcp:{printed}"))
    assert_refused(int(printed))


def test_reverse_to_a_closed_host_port_closes_the_connection(loopback, adb, echo, sockets):
    """The adb server answers the device's OPEN with CLSE: the device closes the accepted connection."""
    device = loopback.one()
    port, closed = free_port(), free_port()
    ok(adb("-s", device.serial, "reverse", f"tcp:{port}", f"tcp:{closed}"))
    assert read_until_closed(sockets(port)) == b""
    # Rebinding the same device port to a live host port takes effect for the next connection.
    assert ok(adb("-s", device.serial, "reverse", f"tcp:{port}", f"tcp:{echo.port}")) == ""
    assert_echoes(sockets(port))


def test_reverse_refusals(loopback, adb, echo):
    device = loopback.one()
    busy = socket.create_server(("127.0.0.1", 0))
    try:
        taken = adb("-s", device.serial, "reverse", f"tcp:{busy.getsockname()[1]}", f"tcp:{echo.port}")
    finally:
        busy.close()
    assert taken.returncode != 0 and b"cannot bind listener: Address already in use" in taken.stderr
    unix = adb("-s", device.serial, "reverse", "localabstract:mai-bench", f"tcp:{echo.port}")
    assert unix.returncode != 0 and b"cannot bind listener" in unix.stderr
    assert reverse_list(adb, device.serial) == []


def test_reverse_replies_byte_exact(loopback, adb_server, echo, sockets):
    """The replies on the reverse: stream, as adbd writes them (no leading OKAY of the adb server's own)."""
    device = loopback.one()

    def reply(service: str) -> bytes:
        sock = open_service(adb_server, device.serial, service)
        assert isinstance(sock, socket.socket), sock
        with sock:
            return read_until_closed(sock)

    chosen = reply(f"reverse:forward:tcp:0;tcp:{echo.port}")
    assert chosen[:4] == b"OKAY" and int(chosen[4:8], 16) == len(chosen) - 8
    port = int(chosen[8:])
    # tcp:localhost:PORT listens on 127.0.0.1 too, and is renamed tcp:PORT like any tcp listener.
    other = free_port()
    assert reply(f"reverse:forward:tcp:localhost:{other};tcp:{echo.port}") == b"OKAY%04x%d" % (len(str(other)), other)
    listing = reply("reverse:list-forward")
    lines = listing[4:].decode().splitlines(keepends=True)
    assert int(listing[:4], 16) == len(listing) - 4
    assert [line.split(" ", 1)[1] for line in lines] == [f"tcp:{port} tcp:{echo.port}\n",
                                                        f"tcp:{other} tcp:{echo.port}\n"]
    assert_echoes(sockets(other))

    def fail(message: str) -> bytes:
        return b"FAIL%04x" % len(message) + message.encode()

    assert reply(f"reverse:forward:tcp:{port}") == fail(f"bad forward: tcp:{port}")
    assert reply(f"reverse:forward:norebind:tcp:{port};tcp:{echo.port}") == fail("cannot rebind existing socket")
    assert reply(f"reverse:forward:tcp:{port};tcp:{echo.port}") == b"OKAY"  # rebinding: no port
    assert reply("reverse:killforward:tcp:1;tcp:2") == fail("bad killforward: tcp:1;tcp:2")
    assert reply(f"reverse:killforward:tcp:{port}") == b"OKAY"
    assert reply(f"reverse:killforward:tcp:{port}") == fail(f"listener 'tcp:{port}' not found")
    assert reply("reverse:killforward-all") == b"OKAY"
    assert reply("reverse:list-forward") == b"0000"
    assert_refused(port)
    assert_refused(other)


def test_unknown_reverse_command_is_refused():
    """Not sent through the adb server, which aborts on a reverse: command it does not know."""
    conn = SimpleNamespace(state=SimpleNamespace(listeners={}))
    reply = asyncio.run(forward._forward_request(conn, "nonsense"))
    assert reply == b"FAIL0020not a reverse forwarding command"


@pytest.mark.parametrize("spec, expected", [
    ("tcp:8080", ("", 8080)), ("tcp:0", ("", 0)), ("tcp:localhost", ("localhost", 5555)),
    ("tcp:localhost:9", ("localhost", 9)), ("tcp:[::1]:9", ("::1", 9)), ("tcp:example.org:80", ("example.org", 80)),
])
def test_parse_tcp(spec, expected):
    assert forward.parse_tcp(spec) == expected


@pytest.mark.parametrize("spec", ["tcp:", "tcp:65536", "tcp:-1", "tcp:localhost:0", "tcp:localhost:x", "tcp::80",
                                  "tcp:[::1"])
def test_parse_tcp_refuses(spec):
    with pytest.raises(ValueError):
        forward.parse_tcp(spec)


def test_reverse_listeners_end_with_the_connection(loopback, adb, adb_server, echo, sockets):
    device = loopback.one()
    port = free_port()
    ok(adb("-s", device.serial, "reverse", f"tcp:{port}", f"tcp:{echo.port}"))
    assert_echoes(sockets(port))
    adb_server_lib.disconnect(adb_server, device.serial)
    assert refused_within(port, IO_TIMEOUT_S)
    assert "reverse tcp:%d removed" % port in device.log_path.read_text()


# -- both with delayed_ack (byte windows; the device's OPEN carries its initial window)


def test_forward_and_reverse_with_delayed_ack(tmp_path, echo, sockets):
    server = adb_server_lib.start_server(tmp_path / "home", burst_mode=True)
    device = None
    try:
        env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(server.home)}

        def adb(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([adb_server_lib.adb_binary(), "-H", server.host, "-P", str(server.port), *args],
                                  env=env, capture_output=True, timeout=60)

        device = loopback_lib.start_device(load_spec("loopback-sm8450"), tmp_path / "dev")
        loopback_lib.connect_devices(server, [device])
        local, port = free_port(), free_port()
        ok(adb("-s", device.serial, "forward", f"tcp:{local}", f"tcp:{echo.port}"))
        assert_echoes(sockets(local))
        assert ok(adb("-s", device.serial, "reverse", f"tcp:{port}", f"tcp:{echo.port}")) == f"{port}\n"
        assert_echoes(sockets(port))
        assert "delayed_ack True" in device.log_path.read_text()
    finally:
        if device is not None:
            loopback_lib.stop_device(device)
        adb_server_lib.stop_server(server)
    assert loopback_lib.session_processes(server.pid) == []
    assert device is None or loopback_lib.session_processes(device.pid) == []
