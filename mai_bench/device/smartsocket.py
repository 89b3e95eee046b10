"""The client side of the adb server's smart-socket protocol, on a plain TCP socket with one deadline.

A request is a 4-hex-digit length and a service name; the server answers OKAY, or FAIL with a length-prefixed
message, and then the socket carries that service's stream. adbutils' connection is not used here: when a
server does not answer it runs `adb start-server` (up to 20 s, and it starts a server on the default port, not
the one asked for), it sleeps 10 ms on every close, and it has no overall deadline.
"""

from __future__ import annotations

import socket
import time

from mai_bench.device.address import ServerAddress

CONNECT_TIMEOUT_S = 3.0  # a local or LAN adb server accepts in milliseconds; longer means it is not there
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024  # large buffers keep pushes streaming instead of stalling on ACKs
RECV_CHUNK_BYTES = 256 * 1024
MAX_REQUEST_BYTES = 0xFFFF  # the length prefix has four hex digits


class ServerUnreachable(OSError):
    """Nothing accepted the TCP connection to the adb server."""


class AdbFailure(Exception):
    """The server (or the device through it) answered FAIL; the message is adb's own."""


class StreamClosed(EOFError):
    """The other side closed the stream before the expected bytes arrived."""


class Connection:
    """One smart-socket connection whose every read and write must finish before `deadline` (time.monotonic);
    with `idle_s` set, a read also fails when nothing arrives for that long."""

    def __init__(self, server: ServerAddress, deadline: float):
        self.deadline = deadline
        self.idle_s: float | None = None
        self._buffer = bytearray()
        try:
            sock = socket.create_connection((server.host, server.port), timeout=min(CONNECT_TIMEOUT_S, self._left()))
        except TimeoutError as error:
            raise ServerUnreachable(f"no answer within {CONNECT_TIMEOUT_S:g} s") from error
        except OSError as error:
            raise ServerUnreachable(error.strerror or str(error)) from error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
        self._sock = sock

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def send(self, data: bytes | bytearray | memoryview) -> None:
        self._sock.settimeout(self._left())
        self._sock.sendall(data)

    def request(self, service: str) -> None:
        """Ask for `service`; return once the server says OKAY, raise AdbFailure on FAIL."""
        payload = service.encode("utf-8")
        if len(payload) > MAX_REQUEST_BYTES:
            raise ValueError(f"adb request is {len(payload)} bytes, the protocol allows {MAX_REQUEST_BYTES}")
        self.send(b"%04x" % len(payload) + payload)
        self.expect_okay()

    def expect_okay(self) -> None:
        status = self.read_exact(4)
        if status == b"OKAY":
            return
        if status == b"FAIL":
            raise AdbFailure(self.read_block().decode("utf-8", errors="replace"))
        raise AdbFailure(f"unexpected adb server reply {status!r}")

    def read_block(self) -> bytes:
        """A reply of the form: 4 hex digits of length, then that many bytes."""
        size = self.read_exact(4)
        try:
            length = int(size, 16)
        except ValueError:
            raise AdbFailure(f"bad length prefix {size!r} from the adb server") from None
        return self.read_exact(length)

    def _fill(self) -> bool:
        left = self._left()
        self._sock.settimeout(left if self.idle_s is None else min(left, self.idle_s))
        chunk = self._sock.recv(RECV_CHUNK_BYTES)
        self._buffer += chunk
        return bool(chunk)

    def read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if not self._fill():
                raise StreamClosed(f"stream closed after {len(self._buffer)} of {n} bytes")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read_some(self) -> bytes:
        """Whatever is available (waiting for at least one byte); b"" once the stream is closed."""
        if not self._buffer and not self._fill():
            return b""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def read_to_end(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self._buffer)
        self._buffer.clear()
        return data
