"""The `shell:` / `shell,v2,...:` / `exec:` services: `/system/bin/sh -c COMMAND` (or a login `sh -`), forked
by the device's zygote in a session of its own, as adbd does.

Legacy shell and exec: one raw byte stream, stderr merged into stdout, no exit code. shell_v2 frames every
packet as id(1) + length(4, LE) + data; ids: stdin 0, stdout 1, stderr 2, exit 3, close-stdin 4, window-size 5
(`ROWSxCOLS,XPIXxYPIX`). A pseudo-terminal, opened inside the device, backs `shell,v2,pty:` and an
interactive shell (no command), as adbd gives one; other commands run on pipes, so stdout and stderr stay
apart and stdin can end. (adbd backs a non-protocol command with a pty in raw mode only so that closing it
hangs the command up; the hang-up below does the same on pipes.)

When the host closes the stream before the command ends, what it sent is still delivered (stdin ends after
it), then the command has a moment to finish by itself, then its process group gets SIGHUP as from a closed
terminal, and SIGKILL only if it outlives a grace.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import struct
from dataclasses import dataclass

from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.jail import Child, ZygoteGone
from mai_bench.emulate.adbd.state import DeviceState
from mai_bench.emulate.adbd.transport import ByteReader, Stream
from mai_bench.emulate.adbd.zygote import set_winsize

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
_PACKET = struct.Struct("<BI")
log = logging.getLogger("mai_bench.adbd")
# Android's PATH for the shell user (init's default environment).
DEVICE_PATH = ("/product/bin:/apex/com.android.runtime/bin:/apex/com.android.art/bin:/system_ext/bin:/system/bin:"
               "/system/xbin:/odm/bin:/vendor/bin:/vendor/xbin")
STDIN_DELIVERY_S = 30.0  # after a close: how long what the host sent may take to reach the command
EOF_GRACE_S = 0.5  # then: how long a command may take to end by itself before the hang-up
HUP_GRACE_S = 2.0  # then: how long it may take to end after SIGHUP before SIGKILL
_READ_SIZE = 1 << 16


@dataclass(frozen=True)
class ShellRequest:
    command: str  # empty: an interactive shell reading stdin
    v2: bool
    pty: bool = False
    term: str = "dumb"


def parse_service(name: str) -> ShellRequest | None:
    """`shell[,arg...]:command` or `exec:command`; None for anything else."""
    if name.startswith("exec:"):
        return ShellRequest(command=name[5:], v2=False)
    head, sep, command = name.partition(":")
    if not sep or head.split(",")[0] != "shell":
        return None
    args = head.split(",")[1:]
    term = next((a[5:] for a in args if a.startswith("TERM=")), "dumb")
    pty = "pty" in args or (not command and "raw" not in args)
    return ShellRequest(command=command, v2="v2" in args, pty=pty, term=term)


def shell_env(state: DeviceState, term: str) -> dict[str, str]:
    """What adbd's shells get: init's environment plus the shell user's (HOME, USER, TMPDIR, ...)."""
    if state.isolation.faithful:
        root, path = "", DEVICE_PATH
    else:
        root = str(state.root)
        path = f"{root}/system/bin:/usr/bin:/bin"
    env = {"PATH": path, "HOME": root or "/", "TMPDIR": f"{root}/{sandbox.TMP_DIR}", "USER": "shell",
           "LOGNAME": "shell", "SHELL": "/system/bin/sh", "TERM": term,
           "HOSTNAME": state.spec.props.get("ro.product.device", "android"),
           "ANDROID_DATA": f"{root}/data", "ANDROID_ROOT": f"{root}/system", "ANDROID_STORAGE": f"{root}/storage",
           "EXTERNAL_STORAGE": f"{root}/sdcard"}
    return env


async def run(stream: Stream, state: DeviceState, request: ShellRequest) -> None:
    child, stdin_fd, out_fds = await _start(state, request)
    stdin = asyncio.create_task(_pump_stdin(stream, stdin_fd, request.v2, child.master))
    if request.v2:
        pumps = [asyncio.create_task(_pump_out(stream, fd, packet_id))
                 for fd, packet_id in zip(out_fds, (ID_STDOUT, ID_STDERR))]
    else:
        pumps = [asyncio.create_task(_pump_out(stream, out_fds[0], None))]
    finished = False
    try:
        await asyncio.gather(*pumps)
        code = await child.exited
        finished = True
        if request.v2:
            # A process killed by signal N exits 128 + N, as adbd reports it.
            status = code if code >= 0 else 128 - code
            await stream.write(_PACKET.pack(ID_EXIT, 1) + bytes([status & 0xFF]))
    finally:
        # Who closes what, once: the stdin pump its pipe; this the output pipes; the hang-up a pty's master.
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if finished:
            stdin.cancel()
            for fd in out_fds:
                os.close(fd)
        else:
            state.background(_hang_up(state, child, stdin, out_fds))


async def _start(state: DeviceState, request: ShellRequest) -> tuple[Child, int, list[int]]:
    """Fork the shell; returns it, the fd its stdin is written to, and the fds its output is read from."""
    if state.isolation.faithful:
        shell, command = "/system/bin/sh", request.command
    else:
        shell, command = "/bin/sh", sandbox.rewrite_command(state.root, request.command)
    argv = [shell, "-c", command] if command else [shell, "-"]
    env = shell_env(state, request.term)
    new_session = state.isolation.faithful
    if request.pty:
        child = await state.zygote.spawn(argv, env, pty=True, rows=24, cols=80)
        os.set_blocking(child.master, False)
        state.track(child)
        return child, child.master, [child.master]
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe() if request.v2 else (out_r, out_w)
    try:
        child = await state.zygote.spawn(argv, env, fds=(stdin_r, out_w, err_w), new_session=new_session)
    except BaseException:
        for fd in {stdin_w, out_r, err_r}:
            os.close(fd)
        raise
    finally:
        for fd in {stdin_r, out_w, err_w}:
            os.close(fd)
    state.track(child)
    for fd in (stdin_w, out_r, err_r):
        os.set_blocking(fd, False)
    return child, stdin_w, [out_r, err_r] if request.v2 else [out_r]


async def _hang_up(state: DeviceState, child: Child, stdin: asyncio.Task, out_fds: list[int]) -> None:
    """The host closed the stream while the command ran (see the module docstring). Its output is read and
    dropped meanwhile: a closed pipe would kill a shell by SIGPIPE before its HUP trap could run."""
    drains = [asyncio.ensure_future(_drain(fd)) for fd in out_fds]
    try:
        await asyncio.wait_for(stdin, STDIN_DELIVERY_S)
    except Exception:  # a timeout (the task is cancelled: it closes the pipe) or a broken pipe
        pass
    try:
        for sig, grace in ((None, EOF_GRACE_S), (signal.SIGHUP, HUP_GRACE_S), (signal.SIGKILL, None)):
            if sig is not None:
                log.info("closed stream: %s to process group %d", signal.Signals(sig).name, child.pid)
                state.zygote.kill(child.pid, sig)
            if grace is None:
                break
            try:
                await asyncio.wait_for(asyncio.shield(child.exited), grace)
                break
            except asyncio.TimeoutError:
                continue
    except ZygoteGone:
        pass
    finally:
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        for fd in out_fds:
            os.close(fd)


async def _drain(fd: int) -> None:
    while await _read(fd):
        pass


async def _ready(fd: int, writing: bool = False) -> None:
    """Until `fd` can be read (or written) without blocking."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    add, remove = (loop.add_writer, loop.remove_writer) if writing else (loop.add_reader, loop.remove_reader)
    add(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        remove(fd)


async def _read(fd: int) -> bytes:
    """The next bytes from a pipe or pty master; b"" at the end (a pty whose last user closed it: EIO)."""
    while True:
        try:
            return os.read(fd, _READ_SIZE)
        except BlockingIOError:
            await _ready(fd)
        except OSError as error:
            if error.errno == errno.EIO:
                return b""
            raise


async def _write_all(fd: int, data: memoryview) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            await _ready(fd, writing=True)


async def _pump_out(stream: Stream, fd: int, packet_id: int | None) -> None:
    size = stream.max_payload - (_PACKET.size if packet_id is not None else 0)
    while True:
        data = await _read(fd)
        if not data:
            return
        for offset in range(0, len(data), size):
            chunk = data[offset:offset + size]
            if packet_id is None:
                await stream.write(chunk)
            else:
                await stream.write(_PACKET.pack(packet_id, len(chunk)) + chunk)


async def _pump_stdin(stream: Stream, fd: int, v2: bool, master: int | None) -> None:
    """Host -> command: everything the host sent, also after it closed the stream; then stdin ends (a pty
    has no end of input: it stays open until the command ends)."""
    reader = ByteReader(stream)
    try:
        while True:
            if v2:
                packet_id, length = _PACKET.unpack(await reader.read_exactly(_PACKET.size))
                data = await reader.read_exactly(length) if length else memoryview(b"")
                if packet_id == ID_CLOSE_STDIN:
                    break
                if packet_id == ID_WINDOW_SIZE:
                    _resize(master, bytes(data))
                    continue
                if packet_id != ID_STDIN:
                    continue
            else:
                data = await reader.read_some()
                if data is None:
                    break
            await _write_all(fd, memoryview(data))
    except (EOFError, BrokenPipeError, ConnectionError):
        pass
    finally:
        if master is None:
            os.close(fd)


def _resize(master: int | None, text: bytes) -> None:
    try:
        rows_cols = text.decode().strip("\0").split(",")[0]
        rows, cols = (int(v) for v in rows_cols.split("x"))
    except ValueError:
        return
    if master is not None:
        set_winsize(master, rows, cols)
