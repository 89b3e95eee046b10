"""One object per Android device, reached through an adb server; it owns its transport.

Every call takes an explicit timeout and either returns a complete answer or raises a DeviceError: a device
killed mid-command raises DeviceLost (never an empty success), one that stops answering raises DeviceTimeout.
Each call opens one connection and selects the device by serial in it (`host:transport:SERIAL`), then asks
for the service in the same connection: two round trips to the server, no sleeps.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
import shlex
import stat
import struct
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mai_bench.device.address import ServerAddress, default_server, parse_server
from mai_bench.device.errors import (
    AdbServerUnreachable,
    DeviceError,
    DeviceLost,
    DeviceNotFound,
    DeviceNotReady,
    DeviceTimeout,
)
from mai_bench.device.props import parse_getprop
from mai_bench.device.smartsocket import AdbFailure, Connection, ServerUnreachable, StreamClosed
from mai_bench.device.states import fix_for_state
from mai_bench.hashing import sha256_file

SHELL_V2_FEATURE = "shell_v2"
FEATURES_TIMEOUT_S = 5.0
PROPERTIES_TIMEOUT_S = 15.0
SYNC_DATA_MAX_BYTES = 64 * 1024  # the sync protocol's limit for one DATA frame
PUSH_BATCH_BYTES = 4 * 1024 * 1024  # DATA frames sent per socket write; fewer writes, the same frames
SYNC_PATH_MAX_BYTES = 1024

_SHELL_STDOUT, _SHELL_STDERR, _SHELL_EXIT = 1, 2, 3
_SHELL_CLOSE_STDIN = bytes([4, 0, 0, 0, 0])  # shell_v2 packet: id 4, empty payload
_U32 = struct.Struct("<I")
_SHA256 = re.compile(rb"^([0-9a-f]{64})\b")


@dataclass(frozen=True)
class ShellResult:
    """A finished shell command. With the legacy shell (no shell_v2) stderr arrives inside stdout and
    `stderr_merged` is True."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    stderr_merged: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.exit_code <= 255:
            raise ValueError(f"exit code {self.exit_code} is outside 0..255")
        if self.duration_s < 0:
            raise ValueError(f"negative duration {self.duration_s}")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


def quote_argv(argv: Sequence[str]) -> str:
    """One device-shell command line that gives the program exactly these arguments."""
    if isinstance(argv, str) or not argv:
        raise ValueError("argv must be a non-empty sequence of arguments, not a command string")
    for arg in argv:
        if not isinstance(arg, str) or "\0" in arg:
            raise ValueError(f"argument {arg!r} is not a string without NUL bytes")
    return " ".join(shlex.quote(arg) for arg in argv)


def _remote(path: str) -> str:
    if not path.startswith("/") or "\0" in path:
        raise ValueError(f"device path {path!r} must be absolute and contain no NUL byte")
    return path


class Device:
    """An Android device on an adb server. `properties` and `features` are read once and cached."""

    def __init__(self, serial: str, server: ServerAddress | str | None = None):
        if not serial or any(c.isspace() for c in serial):
            raise ValueError(f"bad device serial {serial!r}")
        self.serial = serial
        if isinstance(server, ServerAddress):
            self.address = server
        else:
            self.address = parse_server(server) if server else default_server()
        self._features: frozenset[str] | None = None
        self._properties: dict[str, str] | None = None
        self._reached = False  # once it answered, "not found" or "offline" mean it was lost

    def __repr__(self) -> str:
        return f"Device({self.serial!r}, {self.server!r})"

    @property
    def server(self) -> str:
        return str(self.address)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _failure(self, message: str, what: str, command: Sequence[str] | str | None) -> DeviceError:
        """Turn an adb FAIL message into the matching error."""
        ctx = {"serial": self.serial, "server": self.server, "command": command}
        text = message.lower()
        lost_fix = "check the cable or network, then `mai-bench devices`; the device may have rebooted"
        for state in ("unauthorized", "authorizing", "connecting", "offline"):
            if state in text:
                if state == "offline" and self._reached:
                    return DeviceLost(f"{what}: the device went offline", lost_fix, **ctx)
                return DeviceNotReady(
                    f"{what}: the device is {state}", fix_for_state(state, self.serial, self.address), state=state, **ctx
                )
        if "not found" in text:
            if self._reached:
                return DeviceLost(f"{what}: the device disappeared (adb: {message})", lost_fix, **ctx)
            return DeviceNotFound(
                f"{what}: no such device on this server (adb: {message})",
                "run `mai-bench devices` to see what is attached, then pass --device SERIAL or --adb-server",
                **ctx,
            )
        return DeviceError(f"{what}: adb refused: {message}", **ctx)

    @contextmanager
    def _errors(self, what: str, timeout: float, command: Sequence[str] | str | None = None) -> Iterator[bytearray]:
        """Translate transport failures into device errors; the yielded buffer collects partial output."""
        partial = bytearray()
        ctx = {"serial": self.serial, "server": self.server, "command": command}
        try:
            yield partial
        except TimeoutError:
            adb = f"adb {self.address.adb_flags()}-s {self.serial}"
            raise DeviceTimeout(
                f"{what}: no answer within {timeout:g} s",
                f"the device may be hung: check it, `{adb} reboot` if needed, or allow a longer timeout",
                output=bytes(partial),
                **ctx,
            ) from None
        except ServerUnreachable as error:
            raise AdbServerUnreachable(self.server, str(error)) from None
        except AdbFailure as error:
            raise self._failure(str(error), what, command) from None
        except (StreamClosed, ConnectionError) as error:
            raise DeviceLost(
                f"{what}: the connection dropped ({error})",
                "check the cable or network, then `mai-bench devices`; the device may have rebooted or lost adbd",
                output=bytes(partial),
                **ctx,
            ) from None

    def _open(self, service: str, deadline: float, idle_s: float | None = None) -> Connection:
        """A connection to `service` on this device, already accepted (each wait for an answer, the acceptance's
        included, at most `idle_s` when given)."""
        conn = Connection(self.address, deadline)
        conn.idle_s = idle_s
        try:
            conn.request(f"host:transport:{self.serial}")
            conn.request(service)
        except BaseException:
            conn.close()
            raise
        self._reached = True
        return conn

    def _read_features(self, deadline: float) -> frozenset[str]:
        if self._features is None:
            with Connection(self.address, deadline) as conn:
                conn.request(f"host-serial:{self.serial}:features")
                self._features = frozenset(f for f in conn.read_block().decode().strip().split(",") if f)
            self._reached = True
        return self._features

    # -- identity --------------------------------------------------------------------------------------------

    @property
    def features(self) -> frozenset[str]:
        """The adb features the device and server share (shell_v2, stat_v2, ...)."""
        with self._errors("reading adb features", FEATURES_TIMEOUT_S):
            return self._read_features(time.monotonic() + FEATURES_TIMEOUT_S)

    @property
    def properties(self) -> dict[str, str]:
        """Every system property (`getprop`), read once."""
        if self._properties is None:
            self._properties = parse_getprop(self.shell(["getprop"], PROPERTIES_TIMEOUT_S, check=True).out)
        return dict(self._properties)

    # -- shell -----------------------------------------------------------------------------------------------

    def shell(self, argv: Sequence[str], timeout: float, *, check: bool = False, idle_s: float | None = None,
              on_output: Callable[[bytes], None] | None = None) -> ShellResult:
        """Run `argv` on the device (each argument quoted for the device shell) with stdin closed.

        Uses shell_v2 when the device has it (exit code and separate stderr); otherwise the legacy shell,
        wrapped so that a unique marker carries the exit code even when the command calls `exit N`.
        `check=True` raises DeviceError on a non-zero exit code. For a long command that prints as it goes:
        `idle_s` bounds each silence (DeviceTimeout when nothing arrives for that long), and `on_output` gets
        every piece of stdout as it arrives (with the legacy shell, of the combined output).
        """
        argv = tuple(argv)
        command = quote_argv(argv)
        start = time.monotonic()
        deadline = start + timeout
        waited = timeout if idle_s is None else min(timeout, idle_s)
        with self._errors("shell command", waited, argv) as partial:
            if SHELL_V2_FEATURE in self._read_features(deadline):
                code, out, err = self._shell_v2(command, deadline, partial, idle_s, on_output)
                merged = False
            else:
                code, out = self._shell_legacy(command, deadline, partial, idle_s, on_output)
                err, merged = b"", True
        result = ShellResult(argv, code, out, err, time.monotonic() - start, merged)
        if check and not result.ok:
            raise DeviceError(
                "command failed",
                serial=self.serial,
                server=self.server,
                command=argv,
                exit_status=code,
                output=result.stdout + result.stderr,
            )
        return result

    def _shell_v2(self, command: str, deadline: float, partial: bytearray, idle_s: float | None = None,
                  on_output: Callable[[bytes], None] | None = None) -> tuple[int, bytes, bytes]:
        out, err, pending = bytearray(), bytearray(), bytearray()
        with self._open(f"shell,v2,raw:{command}", deadline, idle_s) as conn:
            conn.send(_SHELL_CLOSE_STDIN)
            while True:
                chunk = conn.read_some()
                if not chunk:
                    raise StreamClosed("the shell ended without an exit status")
                pending += chunk
                while len(pending) >= 5:
                    size = _U32.unpack_from(pending, 1)[0]
                    if len(pending) < 5 + size:
                        break
                    kind, payload = pending[0], bytes(pending[5 : 5 + size])
                    del pending[: 5 + size]
                    if kind == _SHELL_EXIT:
                        return (payload[0] if payload else 255), bytes(out), bytes(err)
                    (out if kind == _SHELL_STDOUT else err if kind == _SHELL_STDERR else bytearray()).extend(payload)
                    partial.extend(payload)
                    if on_output is not None and kind == _SHELL_STDOUT:
                        on_output(payload)

    def _shell_legacy(self, command: str, deadline: float, partial: bytearray, idle_s: float | None = None,
                      on_output: Callable[[bytes], None] | None = None) -> tuple[int, bytes]:
        # adbutils appends `; echo X4EXIT:$?` to the command itself, which never runs after `exit N`.
        # Running the command in its own `sh -c` keeps the outer shell alive to print the marker, and a
        # random marker cannot be faked by the command's output.
        marker = f"MAIBENCH{secrets.token_hex(8)}"
        wrapped = f"sh -c {shlex.quote(command)} </dev/null; s=$?; echo; echo {marker}$s"
        with self._open(f"shell:{wrapped}", deadline, idle_s) as conn:
            while chunk := conn.read_some():
                partial.extend(chunk)
                if on_output is not None:
                    on_output(chunk)
        found = re.search(rb"\r?\n" + marker.encode() + rb"(\d+)\r?\n?\Z", partial)
        if not found:
            raise StreamClosed("the shell ended before reporting its exit status")
        return int(found.group(1)) & 0xFF, bytes(partial[: found.start()])

    # -- files -----------------------------------------------------------------------------------------------

    def _sync_reply(self, conn: Connection, what: str, fix: str | None = None) -> None:
        reply = conn.read_exact(8)
        kind, size = reply[:4], _U32.unpack_from(reply, 4)[0]
        if kind == b"OKAY":
            return
        message = conn.read_exact(size).decode("utf-8", errors="replace") if kind == b"FAIL" else repr(reply)
        raise DeviceError(f"{what}: {message}", fix, serial=self.serial, server=self.server)

    def push(self, local: str | os.PathLike, remote: str, timeout: float, *, mode: int | None = None) -> int:
        """Copy a local file to `remote` (absolute) with permission bits `mode` (default: the local file's, as
        `adb push` does); return the bytes sent."""
        remote = _remote(remote)
        info = os.stat(local)
        bits = stat.S_IMODE(info.st_mode) if mode is None else mode & 0o7777
        target = f"{remote},{stat.S_IFREG | bits}".encode()
        if len(target) > SYNC_PATH_MAX_BYTES:
            raise ValueError(f"device path {remote!r} is longer than adb allows")
        deadline = time.monotonic() + timeout
        sent = 0
        with self._errors(f"pushing {local} to {remote}", timeout, ("push", str(local), remote)):
            with self._open("sync:", deadline) as conn, open(local, "rb") as source:
                conn.send(b"SEND" + _U32.pack(len(target)) + target)
                block = bytearray(PUSH_BATCH_BYTES)
                view = memoryview(block)
                while size := source.readinto(block):
                    frames = []
                    for offset in range(0, size, SYNC_DATA_MAX_BYTES):
                        piece = view[offset : min(offset + SYNC_DATA_MAX_BYTES, size)]
                        frames += (b"DATA" + _U32.pack(len(piece)), piece)
                    conn.send(b"".join(frames))
                    sent += size
                conn.send(b"DONE" + _U32.pack(int(info.st_mtime)))
                folder = posixpath.dirname(remote) or "/"
                self._sync_reply(conn, f"the device refused {remote}",
                                 f"free space on the device (`adb {self.address.adb_flags()}-s {self.serial} shell "
                                 f"df -h {shlex.quote(folder)}`) and check that the folder is writable")
                conn.send(b"QUIT" + _U32.pack(0))
        return sent

    def pull(self, remote: str, local: str | os.PathLike, timeout: float) -> int:
        """Copy `remote` (absolute) to the file `local`; return the bytes received.

        Data goes to a temporary file in `local`'s folder, renamed over `local` once complete, so nothing is
        written outside that folder and a failed pull leaves no partial file.
        """
        remote = _remote(remote)
        destination = Path(local)
        if destination.is_dir():
            raise ValueError(f"pull destination {destination} is a folder; give a file path")
        deadline = time.monotonic() + timeout
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
        received = 0
        try:
            with self._errors(f"pulling {remote}", timeout, ("pull", remote, str(local))):
                with os.fdopen(handle, "wb") as sink, self._open("sync:", deadline) as conn:
                    path = remote.encode()
                    conn.send(b"RECV" + _U32.pack(len(path)) + path)
                    while True:
                        header = conn.read_exact(8)
                        kind, size = header[:4], _U32.unpack_from(header, 4)[0]
                        if kind == b"DATA":
                            sink.write(conn.read_exact(size))
                            received += size
                        elif kind == b"DONE":
                            break
                        else:
                            detail = conn.read_exact(size).decode("utf-8", "replace") if kind == b"FAIL" else header
                            raise DeviceError(
                                f"cannot pull {remote}: {detail}", serial=self.serial, server=self.server
                            )
                    conn.send(b"QUIT" + _U32.pack(0))
            os.replace(temporary, destination)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return received

    def exists(self, path: str, timeout: float) -> bool:
        """Whether `path` (absolute) exists on the device, asked with the sync STAT request (no shell)."""
        remote = _remote(path).encode()
        with self._errors(f"checking {path}", timeout, ("stat", path)):
            with self._open("sync:", time.monotonic() + timeout) as conn:
                conn.send(b"STAT" + _U32.pack(len(remote)) + remote)
                reply = conn.read_exact(16)
                conn.send(b"QUIT" + _U32.pack(0))
        if reply[:4] != b"STAT":
            raise DeviceError(f"unexpected reply {reply!r} to STAT {path}", serial=self.serial, server=self.server)
        return _U32.unpack_from(reply, 4)[0] != 0

    def sha256(self, path: str, timeout: float) -> str:
        """The SHA-256 of a device file: computed on the device by `sha256sum` (toybox 0.7.2 or newer, about
        Android 8.0); on an older device, which has no `sha256sum`, the file is pulled and hashed on the host
        (the same digest, at the cost of one transfer)."""
        result = self.shell(["sha256sum", _remote(path)], timeout)
        found = _SHA256.match(result.stdout)
        if result.ok and found:
            return found.group(1).decode()
        if result.exit_code == 127:  # the shell's "command not found": Android 7 or older
            with tempfile.TemporaryDirectory(prefix="mai-bench-hash-") as folder:
                local = Path(folder) / "file"
                self.pull(path, local, timeout)
                return sha256_file(local)
        ctx = {"serial": self.serial, "server": self.server, "command": result.argv, "exit_status": result.exit_code}
        raise DeviceError(f"cannot hash {path}", "check the file exists and is readable",
                          output=result.stdout + result.stderr, **ctx)

    def remove(self, path: str, timeout: float, *, recursive: bool = False) -> None:
        """Delete `path` (absolute) on the device; a missing path is not an error."""
        self.shell(["rm", "-rf" if recursive else "-f", _remote(path)], timeout, check=True)
