"""One adb server connection, seen from the device: the CNXN/AUTH handshake, streams multiplexed over
OPEN/OKAY/WRTE/CLSE, flow control (one WRTE in flight, or a byte window with `delayed_ack`), and the
link-level faults (hang, slow link, drop)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Awaitable, Callable

from mai_bench.emulate.adbd import auth
from mai_bench.emulate.adbd import protocol as p
from mai_bench.emulate.adbd.state import DeviceState
from mai_bench.emulate.adbd.wire import Wire

log = logging.getLogger("mai_bench.adbd")

Service = Callable[["Stream"], Awaitable[None]]
ServiceLookup = Callable[[str, "Connection"], "Service | None"]


class StreamClosed(Exception):
    """The host closed the stream (or the connection went away) while the device was writing."""


class Stream:
    """One OPENed service: `read()` returns the host's WRTE payloads, `write()` sends WRTEs."""

    def __init__(self, conn: Connection, local_id: int, remote_id: int, send_window: int | None):
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.closed = False
        self._inbox: deque[bytes | bytearray] = deque()
        self._changed = asyncio.Event()
        # None: classic flow control, one WRTE in flight until the host's OKAY; else delayed_ack byte window.
        self._window = send_window
        self._in_flight = False
        self._write_lock = asyncio.Lock()

    @property
    def max_payload(self) -> int:
        return self.conn.max_payload

    async def read(self) -> bytes | bytearray | None:
        """The next payload from the host, or None once it closed the stream. Acknowledges what it returns."""
        while not self._inbox:
            if self.closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        data = self._inbox.popleft()
        if not self.closed:
            ack = len(data).to_bytes(4, "little") if self._window is not None else b""
            await self.conn.send(p.A_OKAY, self.local_id, self.remote_id, ack)
        return data

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        async with self._write_lock:
            for offset in range(0, len(view), self.conn.max_payload):
                chunk = view[offset:offset + self.conn.max_payload]
                while not self.closed and not self._may_send():
                    self._changed.clear()
                    await self._changed.wait()
                if self.closed:
                    raise StreamClosed()
                if self._window is None:
                    self._in_flight = True
                else:
                    self._window -= len(chunk)
                await self.conn.send(p.A_WRTE, self.local_id, self.remote_id, chunk)

    async def close(self) -> None:
        """Close from the device side (the host answers nothing)."""
        if not self.closed:
            self.closed = True
            self.conn.forget(self)
            await self.conn.send(p.A_CLSE, self.local_id, self.remote_id)

    def _may_send(self) -> bool:
        return not self._in_flight if self._window is None else self._window > 0

    def on_write(self, payload: bytes | bytearray) -> None:
        self._inbox.append(payload)
        self._changed.set()

    def on_okay(self, payload: bytes | bytearray) -> None:
        if self._window is None:
            self._in_flight = False
        elif len(payload) == 4:
            self._window += int.from_bytes(payload, "little", signed=True)
        self._changed.set()

    def on_close(self) -> None:
        self.closed = True
        self._changed.set()


class Connection:
    """Serves one TCP connection from an adb server until it closes or a fault drops it."""

    def __init__(self, state: DeviceState, wire: Wire, lookup: ServiceLookup):
        self.state = state
        self.wire = wire
        self.lookup = lookup
        self.version = p.A_VERSION_MIN
        self.max_payload = p.MAX_PAYLOAD_V1
        self.delayed_ack = False
        self.online = False
        self.streams: dict[int, Stream] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self._next_id = 1
        self.token: bytes | None = None  # the last AUTH token sent, until the handshake is done
        self.offered_key: str | None = None  # the public key the host asked the user to allow
        self.failed_auth_attempts = 0
        # Called once when the connection ends (adb reverse listeners belong to it, as to adbd's transport).
        self.on_end: list[Callable[[Connection], None]] = []
        # slow_link: when each direction is free again (loop time)
        self._link_free = {"in": 0.0, "out": 0.0}

    async def run(self) -> None:
        self.state.connections.add(self)
        peer = self.wire.peer()
        log.info("connection from %s", peer)
        try:
            while True:
                header, payload = await self.wire.receive()
                if not self.state.running.is_set():
                    await self.state.running.wait()
                await self._throttle("in", p.HEADER_SIZE + header.length)
                if header.command == p.A_WRTE and self.state.count_wire_bytes(header.length):
                    self.drop()
                    return
                await self._dispatch(header, payload)
        except (ConnectionError, StreamClosed) as error:
            log.info("connection from %s ended: %s", peer, error or type(error).__name__)
        except Exception:  # a bug must cost this connection, not the device
            log.exception("connection from %s failed", peer)
        finally:
            self.close_all()

    def drop(self) -> None:
        """Abort the TCP connection (RST), as a cable pull or a dying adbd would."""
        self.wire.abort()
        self.close_all()

    def close_all(self) -> None:
        self.state.connections.discard(self)
        while self.on_end:
            self.on_end.pop()(self)
        for stream in list(self.streams.values()):
            stream.on_close()
        for task in self.tasks.values():
            task.cancel()
        self.streams.clear()
        self.tasks.clear()
        if self.wire.transport is not None and not self.wire.transport.is_closing():
            self.wire.transport.close()

    def forget(self, stream: Stream) -> None:
        self.streams.pop(stream.local_id, None)
        self.tasks.pop(stream.local_id, None)

    async def open(self, name: str) -> Stream | None:
        """Open service `name` on the host (adb reverse): the stream once the host's OKAY names its end, None
        if it answers CLSE. With delayed_ack the OPEN grants the host our initial window, and nothing may be
        sent before its OKAY grants one back."""
        if not self.online:
            return None
        local_id = self._next_id
        self._next_id += 1
        stream = Stream(self, local_id, 0, 0 if self.delayed_ack else None)  # remote id 0: not accepted yet
        self.streams[local_id] = stream
        window = p.INITIAL_DELAYED_ACK_BYTES if self.delayed_ack else 0
        try:
            await self.send(p.A_OPEN, local_id, window, name.encode() + b"\0")
            while stream.remote_id == 0 and not stream.closed:
                stream._changed.clear()
                await stream._changed.wait()
        finally:
            if stream.remote_id == 0 or stream.closed:
                self.forget(stream)
        if stream.closed:
            log.info("the host refused to open %r", name)
            return None
        log.info("opened %r on the host as stream %d", name, local_id)
        return stream

    async def send(self, command: int, arg0: int, arg1: int, payload: bytes | bytearray | memoryview = b"") -> None:
        if not self.state.running.is_set():
            await self.state.running.wait()
        if self.wire.closed:
            raise StreamClosed()
        await self._throttle("out", p.HEADER_SIZE + len(payload))
        if command in (p.A_CNXN, p.A_AUTH) or self.version < p.A_VERSION_SKIP_CHECKSUM:
            await self.wire.write(p.encode(command, arg0, arg1, bytes(payload), checksum=True))
        else:
            await self.wire.write(p.HEADER.pack(command, arg0, arg1, len(payload), 0, command ^ 0xFFFFFFFF), payload)
        if command == p.A_WRTE and self.state.count_wire_bytes(len(payload)):
            self.drop()
            raise StreamClosed()

    async def _throttle(self, direction: str, n: int) -> None:
        rate = self.state.faults.slow_link_bytes_per_s
        if rate:
            now = asyncio.get_running_loop().time()
            start = max(now, self._link_free[direction])
            self._link_free[direction] = start + n / rate
            await asyncio.sleep(self._link_free[direction] - now)

    async def _dispatch(self, header: p.Header, payload: bytearray) -> None:
        command = header.command
        if command == p.A_CNXN:
            await self._on_connect(header, payload)
        elif command == p.A_AUTH:
            await self._on_auth(header, payload)
        elif not self.online:
            log.info("ignoring %s before the handshake", header.name)
        elif command == p.A_OPEN:
            await self._on_open(header, payload)
        elif command == p.A_WRTE:
            stream = self.streams.get(header.arg1)
            if stream is not None:
                stream.on_write(payload)
        elif command == p.A_OKAY:
            stream = self.streams.get(header.arg1)
            if stream is not None:
                if stream.remote_id == 0 and header.arg0:  # the host accepted an OPEN from the device
                    stream.remote_id = header.arg0
                stream.on_okay(payload)
        elif command == p.A_CLSE:
            stream = self.streams.pop(header.arg1, None)
            if stream is not None:
                stream.on_close()
                task = self.tasks.pop(header.arg1, None)
                if task is not None:
                    task.cancel()
                if header.arg0:  # an open stream (not a refused OPEN of ours): adbd answers CLSE with CLSE
                    await self.send(p.A_CLSE, header.arg1, header.arg0)
        else:
            log.info("ignoring %s", header.name)

    async def _on_connect(self, header: p.Header, payload: bytearray) -> None:
        self.version = min(header.arg0, p.A_VERSION)
        self.max_payload = min(header.arg1, p.MAX_PAYLOAD)
        host_features = p.banner_features(payload)
        self.delayed_ack = "delayed_ack" in host_features and "delayed_ack" in self.state.features
        self.online = False
        self.offered_key = None
        log.info("CNXN version %#x maxdata %d delayed_ack %s", self.version, self.max_payload, self.delayed_ack)
        if self.state.auth_required:
            await self._send_auth_token()  # as a production adbd: AUTH(TOKEN) first, CNXN once authorized
            return
        await self._finish_handshake()

    async def _on_auth(self, header: p.Header, payload: bytearray) -> None:
        """The host's answer to our token: a signature, checked against every trusted key (a new token when none
        matches, so the host can try its next key), or, once it ran out of keys, its public key for the user to
        allow (it waits in the pending keys; the server shows the device as unauthorized meanwhile). Under the
        reject_auth fault nothing is ever accepted."""
        if self.online or self.token is None:
            log.info("ignoring AUTH type %d outside the handshake", header.arg0)
            return
        reject = self.state.faults.reject_auth
        if header.arg0 == p.AUTH_SIGNATURE:
            key = None if reject else self.state.keys.verify(self.token, bytes(payload))
            if key is not None:
                log.info("signature verified with key %s", auth.fingerprint(key))
                self.failed_auth_attempts = 0
                await self._finish_handshake()
                return
            self.failed_auth_attempts += 1
            log.info("signature refused (%d so far): new token", self.failed_auth_attempts)
            if self.failed_auth_attempts > 256:  # as adbd: slow down a host that keeps guessing
                await asyncio.sleep(1)
            await self._send_auth_token()
        elif header.arg0 == p.AUTH_RSAPUBLICKEY:
            line = bytes(payload).partition(b"\0")[0].decode("utf-8", errors="replace").strip()
            try:
                new = self.state.keys.offer(line)
            except auth.BadKey as error:
                log.info("the host offered an unusable public key: %s", error)
                return
            self.offered_key = line
            if not reject and self.state.keys.is_trusted(line):
                await self._finish_handshake()  # allowed before: no dialog
            else:
                log.info("asking the user to allow key %s%s", auth.fingerprint(line), "" if new else " (again)")
        else:
            log.info("AUTH type %d: not a host answer, the connection stays offline", header.arg0)

    async def _send_auth_token(self) -> None:
        self.token = os.urandom(p.TOKEN_SIZE)
        await self.send(p.A_AUTH, p.AUTH_TOKEN, 0, self.token)

    async def key_accepted(self) -> None:
        """The trusted keys changed (the user tapped Allow): finish the handshake on this connection if the key
        its host offered is trusted now."""
        if self.online or self.offered_key is None or self.state.faults.reject_auth:
            return
        if self.state.keys.is_trusted(self.offered_key):
            log.info("the user allowed key %s", auth.fingerprint(self.offered_key))
            try:
                await self._finish_handshake()
            except (ConnectionError, StreamClosed):
                pass

    async def _finish_handshake(self) -> None:
        """Online: CNXN with the device banner."""
        self.online = True
        self.token = self.offered_key = None
        banner = p.device_banner(dict(self.state.spec.props), self.state.features)
        await self.send(p.A_CNXN, p.A_VERSION, p.MAX_PAYLOAD, banner)

    async def _on_open(self, header: p.Header, payload: bytearray) -> None:
        name = payload.rstrip(b"\0").decode("utf-8", errors="replace")
        if bool(header.arg1) != self.delayed_ack:
            log.info("OPEN %r: arg1=%d does not match delayed_ack=%s", name, header.arg1, self.delayed_ack)
            await self.send(p.A_CLSE, 0, header.arg0)
            return
        service = self.lookup(name, self)
        if service is None:
            log.info("OPEN %r: no such service", name)
            await self.send(p.A_CLSE, 0, header.arg0)
            return
        local_id = self._next_id
        self._next_id += 1
        stream = Stream(self, local_id, header.arg0, header.arg1 if self.delayed_ack else None)
        self.streams[local_id] = stream
        window = p.INITIAL_DELAYED_ACK_BYTES.to_bytes(4, "little") if self.delayed_ack else b""
        await self.send(p.A_OKAY, local_id, header.arg0, window)
        log.info("OPEN %r as stream %d", name, local_id)
        self.tasks[local_id] = asyncio.create_task(self._serve(stream, service))

    async def _serve(self, stream: Stream, service: Service) -> None:
        try:
            await service(stream)
            await stream.close()
        except (StreamClosed, ConnectionError):
            pass
        except Exception:
            log.exception("service on stream %d failed", stream.local_id)
            try:
                await stream.close()
            except (StreamClosed, ConnectionError):
                pass
        finally:
            self.forget(stream)


class ByteReader:
    """Exact-size reads over a stream's payloads: sync and shell_v2 frames cross WRTE boundaries."""

    def __init__(self, stream: Stream):
        self._stream = stream
        self._chunk = memoryview(b"")
        self._pos = 0

    async def read_exactly(self, n: int) -> memoryview:
        """`n` bytes (zero-copy when they sit in one payload); EOFError when the stream ends first."""
        if len(self._chunk) - self._pos >= n:
            view = self._chunk[self._pos:self._pos + n]
            self._pos += n
            return view
        parts = bytearray(self._chunk[self._pos:])
        while len(parts) < n:
            data = await self._stream.read()
            if data is None:
                raise EOFError(f"stream ended {n - len(parts)} bytes short")
            need = n - len(parts)
            if len(data) > need:
                self._chunk, self._pos = memoryview(data), need
                parts += self._chunk[:need]
            else:
                self._chunk, self._pos = memoryview(b""), 0
                parts += data
        return memoryview(parts)

    async def read_some(self) -> memoryview | None:
        """Whatever is buffered, else the next payload; None at the end of the stream."""
        if self._pos < len(self._chunk):
            view = self._chunk[self._pos:]
            self._chunk, self._pos = memoryview(b""), 0
            return view
        data = await self._stream.read()
        return None if data is None else memoryview(data)
