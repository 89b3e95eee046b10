"""The device-side process starter: runs inside the loopback device (its own root, uid 2000, PID namespace)
and forks every shell the daemon asks for, as adbd forks its subprocesses (`setsid()`, then `sh -c` or a
login `sh -`, on pipes or on a pseudo-terminal opened inside the device so `tty` names a `/dev/pts/N`).

It speaks to the daemon over one AF_UNIX SOCK_SEQPACKET socket, one JSON message per packet, file
descriptors riding along with SCM_RIGHTS:
- daemon -> zygote: `{"op": "spawn", "id", "argv", "env", "cwd", "pty", "raw", "rows", "cols", "setsid"}` (without a
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
import tty

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


def _spawn(message: dict, fds: list[int]) -> tuple[int, int | None]:
    """Fork the child; returns its pid and, for a pty, the master fd (the caller sends and closes it)."""
    master = slave = None
    if message.get("pty"):
        master, slave = os.openpty()
        if message.get("rows") and message.get("cols"):
            set_winsize(master, int(message["rows"]), int(message["cols"]))
        if message.get("raw"):
            tty.setraw(slave)  # adbd's non-protocol "raw" subprocess: a pty with no line discipline
        child_fds = [slave, slave, slave]
    else:
        child_fds = fds
    pid = os.fork()
    if pid == 0:  # the child: a session of its own, as adbd's setsid()
        try:
            if message.get("setsid", True) or slave is not None:
                os.setsid()
            else:
                os.setpgid(0, 0)  # a lenient device keeps its shells in its own session, to find them on stop
            if slave is not None:
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for target, fd in enumerate(child_fds):  # every other fd here is close-on-exec (PEP 446)
                os.dup2(fd, target, inheritable=True)
            for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            os.chdir(message.get("cwd") or "/")
            argv = message["argv"]
            os.execve(argv[0], argv, message["env"])
        except OSError as error:
            os.write(2, f"{message['argv'][0]}: {error.strerror}\n".encode())
        os._exit(127)
    if slave is not None:
        os.close(slave)
    return pid, master


def serve(sock: socket.socket, own_namespace: bool) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    while True:
        readable, _, _ = select.select([sock, wake_r], [], [])
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
            _handle(sock, json.loads(data), fds)


def _handle(sock: socket.socket, message: dict, fds: list[int]) -> None:
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
        elif op == "kill":
            try:
                os.killpg(int(message["pid"]), int(message["sig"]))
            except (ProcessLookupError, PermissionError):
                pass
    finally:
        for fd in fds:
            os.close(fd)


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
