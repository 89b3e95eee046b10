"""The TCP side of a connection: whole ADB messages in, bytes out with back-pressure.

Each payload is received straight into a buffer of its own (one copy from the kernel, none after): a push
moves every byte through here, and on a 2-core machine the daemon's copies compete with the adb server's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from mai_bench.emulate.adbd import protocol as p

# Stop reading the socket while this many messages wait to be dispatched; resume below half of it.
MAX_QUEUED = 8


class Wire(asyncio.BufferedProtocol):
    def __init__(self, on_connect: Callable[[Wire], None]):
        self._on_connect = on_connect
        self.transport: asyncio.Transport | None = None
        self._header = bytearray(p.HEADER_SIZE)
        self._target = memoryview(self._header)
        self._filled = 0
        self._pending: p.Header | None = None
        self._payload = bytearray()
        self._messages: deque[tuple[p.Header, bytearray]] = deque()
        self._arrived = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._reading_paused = False
        self.closed = False
        self.error: BaseException | None = None

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._on_connect(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._target[self._filled:]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        if self._filled < len(self._target):
            return
        if self._pending is None:
            try:
                header = p.parse_header(self._header)
            except p.ProtocolError as error:
                self.error = error
                self.transport.abort()
                return
            if header.length:
                self._pending, self._payload = header, bytearray(header.length)
                self._target, self._filled = memoryview(self._payload), 0
                return
            self._deliver(header, bytearray())
        else:
            self._deliver(self._pending, self._payload)
            self._pending = None
        self._target, self._filled = memoryview(self._header), 0

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.error = self.error or exc
        self._arrived.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- for the connection

    async def receive(self) -> tuple[p.Header, bytearray]:
        """The next whole message; ConnectionError once the peer is gone."""
        while not self._messages:
            if self.closed:
                raise ConnectionError(str(self.error) if self.error else "closed by the adb server")
            self._arrived.clear()
            await self._arrived.wait()
        message = self._messages.popleft()
        if self._reading_paused and len(self._messages) <= MAX_QUEUED // 2:
            self._reading_paused = False
            self.transport.resume_reading()
        return message

    async def write(self, *parts: bytes | bytearray | memoryview) -> None:
        """Queue `parts` back to back (no other message can come between them), after any back-pressure."""
        while not self._writable.is_set():
            await self._writable.wait()
        if self.closed:
            raise ConnectionError("closed by the adb server")
        for part in parts:
            if part:
                self.transport.write(part)

    def peer(self) -> str:
        name = self.transport.get_extra_info("peername") if self.transport else None
        return f"{name[0]}:{name[1]}" if name else "?"

    def abort(self) -> None:
        """Reset the TCP connection (RST), as a pulled cable or a dying adbd would."""
        if self.transport is not None:
            self.transport.abort()

    def _deliver(self, header: p.Header, payload: bytearray) -> None:
        self._messages.append((header, payload))
        self._arrived.set()
        if not self._reading_paused and len(self._messages) >= MAX_QUEUED:
            self._reading_paused = True
            self.transport.pause_reading()
