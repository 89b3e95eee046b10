"""Which service answers an OPEN: shell and exec, sync, port forwarding (`tcp:`, `reverse:`), and polite
refusals for what a loopback device cannot do (reboot, root, remount, switching transports). Anything else
is closed at once, as adbd does for an unknown service."""

from __future__ import annotations

from functools import partial

from mai_bench.emulate.adbd import forward, shell, sync
from mai_bench.emulate.adbd.transport import Connection, Service, Stream

# service prefix -> the one line printed instead of doing it
_REFUSED = {
    "reboot:": "reboot refused: a mai-bench loopback device cannot reboot",
    "root:": "adbd cannot run as root in production builds",
    "unroot:": "adbd not running as root",
    "remount:": "remount refused: a mai-bench loopback device has no system partition",
    "tcpip:": "tcpip refused: a mai-bench loopback device already listens on TCP",
    "usb:": "usb refused: a mai-bench loopback device has no USB",
    "disable-verity:": "verity cannot be disabled on a mai-bench loopback device",
    "enable-verity:": "verity cannot be enabled on a mai-bench loopback device",
}


def lookup(name: str, conn: Connection) -> Service | None:
    if name == "sync:":
        return partial(sync.run, state=conn.state)
    request = shell.parse_service(name)
    if request is not None:
        if request.v2 and "shell_v2" not in conn.state.features:
            return None
        return partial(shell.run, state=conn.state, request=request)
    if name.startswith(("tcp:", "reverse:")):
        return forward.lookup(name, conn)
    for prefix, message in _REFUSED.items():
        if name.startswith(prefix):
            return partial(_say, message=message)
    return None


async def _say(stream: Stream, message: str) -> None:
    await stream.write((message + "\n").encode())
