"""The device-side process starter: runs inside the loopback device (its own root, uid 2000, PID namespace)
and forks every shell the daemon asks for, as adbd forks its subprocesses (`setsid()`, then `sh -c` or a
login `sh -`, on pipes or on a pseudo-terminal opened inside the device so `tty` names a `/dev/pts/N`).

It speaks to the daemon over one AF_UNIX SOCK_SEQPACKET socket, one JSON message per packet, file
descriptors riding along with SCM_RIGHTS:
- daemon -> zygote: `{"op": "spawn", "id", "argv", "env", "pty", "rows", "cols", "setsid"}` (in the zygote's
  folder, the device's `/`) (without a
  pty, with the child's stdin, stdout and stderr fds); `{"op": "kill", "pid", "sig"}` signals a child's process
  group (the daemon resizes a pty itself, through the master fd it was given).
- zygote -> daemon: `{"op": "spawned", "id", "pid"}` (with the pty master fd), `{"op": "failed", "id",
  "error"}`, and `{"op": "exit", "pid", "code"}` (negative: killed by that signal) when a child ends.
Only the standard library: it is started once per device and every shell is a fork of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import termios

MAX_MESSAGE = 1 << 20
MAX_FDS = 3
PID_NAMESPACE_FLAG = "--own-pid-namespace"  # faithful devices only: kill(-1) must never reach the host


def send(sock: socket.socket, message: dict, fds: tuple[int, ...] = ()) -> None:
    data = json.dumps(message).encode("utf-8", errors="surrogateescape")
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


_DEFAULT_SIGNALS = (signal.SIGCHLD, signal.SIGPIPE, signal.SIGHUP, signal.SIGINT, signal.SIGTERM)


def _spawn(message: dict, fds: list[int]) -> tuple[int, int | None]:
    """Start the child; returns its pid and, for a pty, the master fd (the caller sends and closes it).
    On pipes, posix_spawn (vfork: no copy of this process) in the zygote's folder, the device's `/`."""
    if not message.get("pty"):
        argv = message["argv"]
        session = {"setsid": True} if message.get("setsid", True) else {"setpgroup": 0}
        return os.posix_spawn(argv[0], argv, message["env"], setsigdef=_DEFAULT_SIGNALS,
                              file_actions=[(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)],
                              **session), None
    master, slave = os.openpty()  # in the device: its /dev/pts
    if message.get("rows") and message.get("cols"):
        set_winsize(master, int(message["rows"]), int(message["cols"]))
    pid = os.fork()
    if pid == 0:  # the child: a session of its own with the pty as its terminal, as adbd's setsid()
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for target in range(3):  # every other fd here is close-on-exec (PEP 446)
                os.dup2(slave, target, inheritable=True)
            for sig in _DEFAULT_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            argv = message["argv"]
            os.execve(argv[0], argv, message["env"])
        except OSError as error:
            os.write(2, f"{message['argv'][0]}: {error.strerror}\n".encode())
        os._exit(127)
    os.close(slave)
    return pid, master


def serve(sock: socket.socket, own_namespace: bool) -> None:
    # A child's end is seen through a pidfd where the kernel has them (Linux 5.3), else through SIGCHLD.
    watch: dict[int, int] = {}  # pidfd -> pid
    wake_r = -1
    if not hasattr(os, "pidfd_open"):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    while True:
        readable, _, _ = select.select([sock, *watch, *([wake_r] if wake_r >= 0 else [])], [], [])
        for fd in readable:
            if fd in watch:
                pid = watch.pop(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                send(sock, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})
        if wake_r in readable:
            os.read(wake_r, 4096)
            _reap(sock)
        if sock in readable:
            try:
                data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
            except ConnectionError:
                return
            if not data:  # the daemon went away: so does the device, every process of it
                if own_namespace:
                    os.kill(-1, signal.SIGKILL)  # in a PID namespace: all of its processes but init and this
                return
            for fd in fds:
                os.set_inheritable(fd, False)  # only the child's 0, 1 and 2 may reach its program
            pid = _handle(sock, json.loads(data), fds)
            if pid is not None and wake_r < 0:
                watch[os.pidfd_open(pid)] = pid


def _handle(sock: socket.socket, message: dict, fds: list[int]) -> int | None:
    """Carry out one request; returns the pid of a child it started."""
    op = message.get("op")
    try:
        if op == "spawn":
            try:
                pid, master = _spawn(message, fds)
            except OSError as error:
                send(sock, {"op": "failed", "id": message["id"], "error": str(error)})
                return
            send(sock, {"op": "spawned", "id": message["id"], "pid": pid}, () if master is None else (master,))
            if master is not None:
                os.close(master)
            return pid
        elif op == "kill":
            try:
                os.killpg(int(message["pid"]), int(message["sig"]))
            except (ProcessLookupError, PermissionError):
                pass
    finally:
        for fd in fds:
            os.close(fd)
    return None


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(sock, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    os.set_inheritable(sock.fileno(), False)
    sock.setblocking(True)
    serve(sock, own_namespace=argv[1:] == [PID_NAMESPACE_FLAG])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
