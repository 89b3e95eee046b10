"""The `shell:` / `shell,v2,...:` / `exec:` services: a host `sh -c` in the sandbox, one process group per
command.

Legacy shell and exec: one raw byte stream, stderr merged into stdout, no exit code. shell_v2 frames every
packet as id(1) + length(4, LE) + data; ids: stdin 0, stdout 1, stderr 2, exit 3, close-stdin 4, window-size 5.
There is no pseudo-terminal: `pty` requests run on pipes like `raw`. When the host closes the stream before
the command ends, its whole process group is killed.
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
from dataclasses import dataclass

from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.state import DeviceState, kill_group
from mai_bench.emulate.adbd.transport import ByteReader, Stream

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
_PACKET = struct.Struct("<BI")
# Environment variables passed through from the daemon so the stand-ins find Python and mai_bench.
_PASS_ENV = ("PYTHONPATH", "LANG", "LC_ALL")
if sys.version_info >= (3, 11):
    _OWN_GROUP: dict = {"process_group": 0}
else:
    _OWN_GROUP = {"preexec_fn": os.setpgrp}


@dataclass(frozen=True)
class ShellRequest:
    command: str  # empty: an interactive shell reading stdin
    v2: bool
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
    return ShellRequest(command=command, v2="v2" in args, term=term)


def shell_env(state: DeviceState, term: str) -> dict[str, str]:
    root = str(state.root)
    env = {"PATH": f"{root}/system/bin:/usr/bin:/bin", "HOME": root, "TMPDIR": f"{root}/{sandbox.TMP_DIR}",
           "USER": "shell", "LOGNAME": "shell", "SHELL": "/bin/sh", "TERM": term,
           "ANDROID_DATA": f"{root}/data", "EXTERNAL_STORAGE": f"{root}/sdcard"}
    env.update({k: os.environ[k] for k in _PASS_ENV if k in os.environ})
    return env


async def run(stream: Stream, state: DeviceState, request: ShellRequest) -> None:
    argv = ["/bin/sh", "-c", sandbox.rewrite_command(state.root, request.command)] if request.command else ["/bin/sh"]
    proc = await _spawn(state, argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE if request.v2 else asyncio.subprocess.STDOUT,
                        cwd=state.root, env=shell_env(state, request.term), **_OWN_GROUP)
    finished = False
    stdin = asyncio.create_task(_pump_stdin(stream, proc, request.v2))
    if request.v2:
        pumps = [asyncio.create_task(_pump_out(stream, proc.stdout, ID_STDOUT)),
                 asyncio.create_task(_pump_out(stream, proc.stderr, ID_STDERR))]
    else:
        pumps = [asyncio.create_task(_pump_out(stream, proc.stdout, None))]
    try:
        await asyncio.gather(*pumps)
        code = await proc.wait()
        finished = True
        if request.v2:
            # A process killed by signal N exits 128 + N, as adbd reports it.
            status = code if code >= 0 else 128 - code
            await stream.write(_PACKET.pack(ID_EXIT, 1) + bytes([status & 0xFF]))
    finally:
        for task in (stdin, *pumps):
            task.cancel()
        if not finished:
            kill_group(proc.pid)


async def _spawn(state: DeviceState, argv: list[str], **kwargs) -> asyncio.subprocess.Process:
    """Start `argv` in a process group of its own. Cancelled while asyncio still connects the pipes (the host
    closed the stream that early), asyncio would kill only the shell; this kills the group once it exists."""
    spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(*argv, **kwargs))
    spawn.add_done_callback(lambda task: _with_pid(task, state.track_group))
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        spawn.add_done_callback(lambda task: _with_pid(task, kill_group))
        raise


def _with_pid(task: asyncio.Future, action) -> None:
    if not task.cancelled() and task.exception() is None:
        action(task.result().pid)


async def _pump_out(stream: Stream, pipe: asyncio.StreamReader, packet_id: int | None) -> None:
    size = stream.max_payload - (_PACKET.size if packet_id is not None else 0)
    while True:
        data = await pipe.read(size)
        if not data:
            return
        if packet_id is None:
            await stream.write(data)
        else:
            await stream.write(_PACKET.pack(packet_id, len(data)) + data)


async def _pump_stdin(stream: Stream, proc: asyncio.subprocess.Process, v2: bool) -> None:
    reader = ByteReader(stream)
    pipe = proc.stdin
    try:
        while True:
            if v2:
                packet_id, length = _PACKET.unpack(await reader.read_exactly(_PACKET.size))
                data = bytes(await reader.read_exactly(length)) if length else b""
                if packet_id == ID_CLOSE_STDIN:
                    break
                if packet_id != ID_STDIN:
                    continue  # window-size changes mean nothing without a terminal
            else:
                view = await reader.read_some()
                if view is None:
                    break
                data = bytes(view)
            pipe.write(data)
            await pipe.drain()
    except (EOFError, ConnectionError):
        pass
    finally:
        pipe.close()
