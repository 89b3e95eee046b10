"""The `sync:` service (AOSP adb SYNC.TXT, file_sync_protocol.h) on the sandbox: STAT, STA2, LST2, LIST,
LIS2, SEND, RECV, QUIT.

Requests are id(4) + length(4, LE) + path. Replies: STAT mode/size/mtime (all zero when missing); STA2/LST2
the 72-byte stat_v2 with an errno; LIST DENT entries then DONE + 16 zero bytes; LIS2 DNT2 entries then DONE
+ 72 zero bytes; RECV DATA chunks of at most 64 KiB then DONE + 4 zero bytes; SEND answers OKAY + 4 zero
bytes, or FAIL + length + message. After a FAIL the service ends, like adbd.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct

from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.state import DeviceState
from mai_bench.emulate.adbd.transport import ByteReader, Stream

log = logging.getLogger("mai_bench.adbd")

SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024
_REQUEST = struct.Struct("<4sI")
_STAT_V1 = struct.Struct("<4sIII")
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
_DENT_V1 = struct.Struct("<4sIIII")
_DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")
_OKAY = b"OKAY" + bytes(4)


class SyncFailed(Exception):
    """Answered with FAIL; ends the service."""


class SyncError(Exception):
    """A SEND that cannot start; its message is the FAIL text."""


async def run(stream: Stream, state: DeviceState) -> None:
    reader = ByteReader(stream)
    session = _Session(stream, reader, state)
    while True:
        try:
            request_id, length = _REQUEST.unpack(await reader.read_exactly(_REQUEST.size))
        except EOFError:
            return
        if request_id == b"QUIT":
            return
        if length > MAX_PATH:
            await session.fail(f"path too long: {length}")
            return
        path = bytes(await reader.read_exactly(length)).decode("utf-8", errors="surrogateescape")
        handler = session.handlers.get(request_id)
        if handler is None:
            await session.fail(f"unknown command {request_id!r}")
            return
        try:
            await handler(request_id, path)
        except SyncFailed:
            return


class _Session:
    def __init__(self, stream: Stream, reader: ByteReader, state: DeviceState):
        self.stream = stream
        self.reader = reader
        self.state = state
        self.handlers = {b"STAT": self.stat_v1, b"STA2": self.stat_v2, b"LST2": self.stat_v2,
                         b"LIST": self.list_v1, b"LIS2": self.list_v2, b"SEND": self.send, b"RECV": self.recv}

    async def fail(self, message: str) -> None:
        data = message.encode("utf-8", errors="replace")
        await self.stream.write(b"FAIL" + len(data).to_bytes(4, "little") + data)

    def _host(self, path: str, follow: bool = True):
        return sandbox.host_path(self.state.root, path, follow=follow)

    async def stat_v1(self, _: bytes, path: str) -> None:
        try:
            st = os.lstat(self._host(path, follow=False))
            reply = _STAT_V1.pack(b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime) & 0xFFFFFFFF)
        except (OSError, sandbox.SandboxError):
            reply = _STAT_V1.pack(b"STAT", 0, 0, 0)
        await self.stream.write(reply)

    async def stat_v2(self, request_id: bytes, path: str) -> None:
        follow = request_id == b"STA2"
        try:
            host = self._host(path, follow=follow)
            st = os.stat(host) if follow else os.lstat(host)
            reply = _pack_stat_v2(request_id, 0, st)
        except sandbox.SandboxError:
            reply = _STAT_V2.pack(request_id, errno.EACCES, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        except OSError as error:
            reply = _STAT_V2.pack(request_id, error.errno or errno.EIO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        await self.stream.write(reply)

    async def list_v1(self, _: bytes, path: str) -> None:
        out = bytearray()
        for name, st in self._entries(path):
            encoded = name.encode("utf-8", errors="surrogateescape")
            out += _DENT_V1.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime) & 0xFFFFFFFF,
                                 len(encoded)) + encoded
        out += _DENT_V1.pack(b"DONE", 0, 0, 0, 0)
        await self.stream.write(out)

    async def list_v2(self, _: bytes, path: str) -> None:
        out = bytearray()
        for name, st in self._entries(path):
            encoded = name.encode("utf-8", errors="surrogateescape")
            out += _pack_stat_v2(b"DNT2", 0, st) + len(encoded).to_bytes(4, "little") + encoded
        out += bytes(b"DONE") + bytes(_DENT_V2.size - 4)
        await self.stream.write(out)

    def _entries(self, path: str) -> list[tuple[str, os.stat_result]]:
        # Like adbd: readdir order including "." and "..", lstat of each; an unreadable folder lists nothing.
        try:
            folder = self._host(path)
            names = [".", ".."] + os.listdir(folder)
        except (OSError, sandbox.SandboxError):
            return []
        entries = []
        for name in names:
            try:
                entries.append((name, os.lstat(os.path.join(folder, name))))
            except OSError:
                continue
        return entries

    async def send(self, _: bytes, spec: str) -> None:
        path, comma, mode_text = spec.rpartition(",")
        host, fd = None, -1
        try:
            if not comma or not mode_text.isdigit():
                raise SyncError("missing , in ID_SEND")
            mode = int(mode_text) & 0o777 or 0o644
            host, fd = self._create(path, int(mode_text))
            written = 0
            while True:
                frame_id, size = _REQUEST.unpack(await self.reader.read_exactly(_REQUEST.size))
                if frame_id == b"DONE":
                    break
                if frame_id != b"DATA" or size > SYNC_DATA_MAX:
                    raise SyncError(f"invalid data message {frame_id!r} of {size} bytes")
                data = await self.reader.read_exactly(size)
                limit = self.state.faults.storage_full_after_bytes
                if limit is not None and written + size > limit:
                    raise SyncError(f"write failed: {os.strerror(errno.ENOSPC)}")
                _write_all(fd, data)
                written += size
            os.fchmod(fd, mode)
            os.close(fd)
            fd = -1
            os.utime(host, (size, size))  # DONE's length field carries the mtime
        except SyncError as error:
            if fd >= 0:
                os.close(fd)
                os.unlink(host)
            await self._fail_and_drain(str(error))
        await self.stream.write(_OKAY)

    def _create(self, path: str, mode: int) -> tuple[object, int]:
        if stat.S_ISLNK(mode):
            raise SyncError("symlinks cannot be pushed to a mai-bench loopback device")
        if self.state.faults.storage_full_after_bytes == 0:
            raise SyncError(f"couldn't create file: {os.strerror(errno.ENOSPC)}")
        if not sandbox.writable(path):  # adbd's sync runs as the shell user
            raise SyncError(f"couldn't create file: {sandbox.write_error(path)}")
        try:
            host = self._host(path)
            host.parent.mkdir(parents=True, exist_ok=True)  # fixed_push_mkdir
            return host, os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o777 or 0o644)
        except sandbox.SandboxError as error:
            raise SyncError(f"couldn't create file: {error}") from None
        except OSError as error:
            raise SyncError(f"couldn't create file: {error.strerror}") from None

    async def _fail_and_drain(self, message: str) -> None:
        """FAIL right away, then drain DATA until DONE (the host may still be sending), like adbd; ends the
        service."""
        await self.fail(message)
        while True:
            frame_id, size = _REQUEST.unpack(await self.reader.read_exactly(_REQUEST.size))
            if frame_id != b"DATA":
                break
            await self.reader.read_exactly(size)
        raise SyncFailed()

    async def recv(self, _: bytes, path: str) -> None:
        try:
            fd = os.open(self._host(path), os.O_RDONLY)
        except sandbox.SandboxError as error:
            await self.fail(f"open failed: {error}")
            raise SyncFailed() from None
        except OSError as error:
            await self.fail(f"open failed: {error.strerror}")
            raise SyncFailed() from None
        try:
            # Batch DATA frames up to one WRTE's worth: the transport, not the 64 KiB frame, sets the pace.
            batch = bytearray()
            budget = max(self.stream.max_payload, SYNC_DATA_MAX + 8)
            while True:
                try:
                    chunk = os.read(fd, SYNC_DATA_MAX)
                except OSError as error:
                    await self.fail(f"read failed: {error.strerror}")
                    raise SyncFailed() from None
                if not chunk:
                    break
                if len(batch) + 8 + len(chunk) > budget:
                    await self.stream.write(batch)
                    batch = bytearray()
                batch += b"DATA" + len(chunk).to_bytes(4, "little") + chunk
            batch += b"DONE" + bytes(4)
            await self.stream.write(batch)
        finally:
            os.close(fd)


def _pack_stat_v2(request_id: bytes, error: int, st: os.stat_result) -> bytes:
    return _STAT_V2.pack(request_id, error, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
                         st.st_size, int(st.st_atime), int(st.st_mtime), int(st.st_ctime))


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]
