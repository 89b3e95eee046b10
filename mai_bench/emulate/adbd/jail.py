"""Where a loopback device's processes run, and the daemon's handle on them.

Faithful (the default, and what the tests and CI require): bubblewrap gives the device its own root, built
from the device tree (`/system` read-only with Android's shell, mksh, and toybox's applets; `/data` read-only
but `/data/local/tmp` and `/sdcard` writable; the device's fake `/sys` and `/proc/cpuinfo`), a user namespace
in which everything runs as uid 2000 / gid 2000 (`shell`), and a PID namespace, so `ps` shows the device's
processes and stopping the device ends every one of them. From the host only what is needed to execute is
bound in, read-only, at its own path: the C library and the Python that runs the stand-ins.

Lenient (a host without user namespaces, bwrap, mksh or toybox, e.g. macOS): the same zygote runs on the
host, in the device folder, with the host's `/bin/sh`, and device paths in shell commands are rewritten to
host paths. Such a device is more forgiving than a phone; `mai-bench emulate` says so and its results are
marked lenient.

Either way one zygote process (`zygote.py`) per device forks every shell; `Zygote` is the daemon's asyncio
client for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mai_bench
from mai_bench.emulate.adbd import zygote as zygote_module

SHELL_UID = 2000
TOOLS = ("bwrap", "mksh", "toybox")
# Host folders bound read-only so the device can execute its binaries and the stand-ins' Python.
_HOST_SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Isolation:
    faithful: bool
    reason: str = ""  # why the device is lenient

    @property
    def label(self) -> str:
        return "faithful" if self.faithful else "lenient"


@lru_cache(maxsize=1)
def probe() -> Isolation:
    """Whether this host can run a faithful device: bwrap, mksh and toybox installed, and a user namespace
    with uid 2000 that bwrap can enter."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return Isolation(False, f"{', '.join(missing)} not installed (Debian: apt-get install bubblewrap mksh "
                                "toybox)")
    try:
        done = subprocess.run([shutil.which("bwrap"), "--unshare-user", "--unshare-pid", "--uid", str(SHELL_UID),
                               "--gid", str(SHELL_UID), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
                               sys.executable, "-I", "-S", "-c", "import os; print(os.getuid())"],
                              capture_output=True, timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Isolation(False, f"bubblewrap cannot start: {error}")
    if done.returncode != 0 or done.stdout.strip() != str(SHELL_UID).encode():
        detail = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        return Isolation(False, f"bubblewrap cannot create a user namespace with uid {SHELL_UID}: {detail} "
                                "(enable unprivileged user namespaces, e.g. sysctl kernel.unprivileged_userns_clone=1)")
    return Isolation(True)


def host_binds() -> list[str]:
    """Host paths the device needs to execute, each bound read-only at its own path (symlinks as symlinks)."""
    wanted = list(_HOST_SYSTEM)
    wanted += [sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(mai_bench.__file__).resolve().parent.parent)]
    # Python's own folders, not sys.path: its first entry is the daemon's working folder, the device tree.
    wanted += [path for name, path in sysconfig.get_paths().items() if name in ("stdlib", "platstdlib", "purelib",
                                                                              "platlib") and os.path.isdir(path)]
    chosen: list[str] = []
    for path in sorted({os.path.abspath(p) for p in wanted}, key=len):
        if not os.path.lexists(path) or any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            continue
        chosen.append(path)
    return chosen


def bwrap_argv(root: Path, state_dir: Path, run_dir: Path) -> list[str]:
    """bubblewrap's arguments for a device whose tree is `root` (see the module docstring)."""
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--hostname", "localhost", "--uid", str(SHELL_UID), "--gid", str(SHELL_UID)]
    for path in host_binds():
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        else:
            argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(root / "system"), "/system",
             "--symlink", "/system/etc", "/etc",
             "--ro-bind", str(root / "vendor"), "/vendor",
             "--ro-bind", str(root / "data"), "/data",
             "--bind", str(root / "data/local/tmp"), "/data/local/tmp",
             "--bind", str(root / "sdcard"), "/sdcard",
             "--ro-bind", str(root / "sys"), "/sys",
             "--proc", "/proc",
             "--ro-bind", str(root / "proc/cpuinfo"), "/proc/cpuinfo",
             "--dev", "/dev",
             "--ro-bind", str(state_dir), "/" + state_dir.name,
             "--bind", str(run_dir), f"/{state_dir.name}/{run_dir.name}",
             "--remount-ro", "/",
             "--chdir", "/"]
    return argv


@dataclass(eq=False)
class Child:
    """A process the zygote started: its pid (in the device), a pty master fd when it has a terminal, and
    a future with its exit code (negative: the signal that killed it)."""

    pid: int
    master: int | None
    exited: asyncio.Future


class ZygoteGone(Exception):
    """The device's zygote is not running (the device is stopping)."""


class Zygote:
    """The daemon's side of `zygote.py`: start it (in bwrap or on the host), spawn children, signal them."""

    def __init__(self, process: subprocess.Popen, sock: socket.socket):
        self.process = process
        self._sock = sock
        self._next_id = 1
        self._pending: dict[int, asyncio.Future] = {}
        self._children: dict[int, asyncio.Future] = {}
        self._early_exits: dict[int, int] = {}
        self._loop = asyncio.get_running_loop()
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._on_message)

    @classmethod
    async def start(cls, root: Path, state_dir: Path, run_dir: Path, isolation: Isolation,
                    env: dict[str, str]) -> Zygote:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        python = [sys.executable, "-I", "-S", str(Path(zygote_module.__file__).resolve()), str(theirs.fileno())]
        if isolation.faithful:
            argv = bwrap_argv(root, state_dir, run_dir) + ["--"] + python + [zygote_module.PID_NAMESPACE_FLAG]
        else:
            argv = python
        try:
            process = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
                                       cwd=root)
        finally:
            theirs.close()
        return cls(process, ours)

    async def spawn(self, argv: list[str], env: dict[str, str], *, pty: bool = False, rows: int = 0, cols: int = 0,
                    fds: tuple[int, ...] = (), new_session: bool = True) -> Child:
        """Start `argv` in the device's `/` (the zygote's folder): on `fds` (stdin, stdout, stderr), or on a new
        pty whose master fd the Child carries."""
        request_id = self._next_id
        self._next_id += 1
        reply = self._loop.create_future()
        self._pending[request_id] = reply
        self._send({"op": "spawn", "id": request_id, "argv": argv, "env": env, "pty": pty, "rows": rows,
                    "cols": cols, "setsid": new_session}, fds)
        message, master = await reply
        if message["op"] == "failed":
            raise OSError(message["error"])
        pid = message["pid"]
        exited = self._children.setdefault(pid, self._loop.create_future())
        if pid in self._early_exits:
            exited.set_result(self._early_exits.pop(pid))
        return Child(pid, master, exited)

    def kill(self, pid: int, sig: int = signal.SIGKILL) -> None:
        """Signal the process group of child `pid` (quietly nothing once the zygote is gone)."""
        try:
            self._send({"op": "kill", "pid": pid, "sig": int(sig)})
        except ZygoteGone:
            pass

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for future in (*self._pending.values(), *self._children.values()):
            if not future.done():
                future.set_exception(ZygoteGone())
                future.exception()  # nobody may be waiting: do not warn about it

    def _send(self, message: dict, fds: tuple[int, ...] = ()) -> None:
        if self._sock.fileno() < 0:
            raise ZygoteGone()
        try:
            zygote_module.send(self._sock, message, fds)
        except OSError as error:
            raise ZygoteGone() from error

    def _on_message(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self._sock, zygote_module.MAX_MESSAGE, 1, socket.MSG_CMSG_CLOEXEC)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self.close()
            return
        message = json.loads(data)
        if message["op"] in ("spawned", "failed"):
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result((message, fds[0] if fds else None))
            else:
                for fd in fds:
                    os.close(fd)
        elif message["op"] == "exit":
            future = self._children.pop(message["pid"], None)
            if future is None:
                self._early_exits[message["pid"]] = message["code"]  # before its "spawned" was read
            elif not future.done():
                future.set_result(message["code"])
