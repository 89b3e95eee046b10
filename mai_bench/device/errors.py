"""Device errors. Each names the device, its adb server and the command, keeps the exit code and the tail of
the output, and says what to do. All are infrastructure errors (exit 3) except `UnknownDevice`, a `--device`
value that names no profile and no attached serial (a usage error, exit 2)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from mai_bench.errors import InfraError, UsageError

OUTPUT_TAIL_CHARS = 2000  # enough for the last lines of a benchmark_model failure, short enough to print


def _tail(output: bytes | str | None) -> str:
    if not output:
        return ""
    text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
    return text[-OUTPUT_TAIL_CHARS:]


class DeviceError(InfraError):
    """A device or its adb server failed. `message` starts with the device and server; the command, exit code
    and output tail follow on their own lines."""

    def __init__(
        self,
        message: str,
        fix: str | None = None,
        *,
        serial: str | None = None,
        server: str | None = None,
        command: Sequence[str] | str | None = None,
        exit_status: int | None = None,
        output: bytes | str | None = None,
    ):
        self.reason = message
        self.serial = serial
        self.server = server
        self.command = command if command is None or isinstance(command, str) else tuple(command)
        self.exit_status = exit_status  # the command's; `exit_code` is the process exit code of every InfraError
        self.output = _tail(output)
        super().__init__(self._compose(message), fix)

    def _compose(self, message: str) -> str:
        where = []
        if self.serial:
            where.append(f"device {self.serial}")
        if self.server:
            where.append(f"adb server {self.server}")
        lines = [f"{' on '.join(where)}: {message}" if where else message]
        if self.command is not None:
            shown = self.command if isinstance(self.command, str) else shlex.join(self.command)
            lines.append(f"  command: {shown}")
        if self.exit_status is not None:
            lines.append(f"  exit status: {self.exit_status}")
        if self.output.strip():
            lines.append("  output (tail):\n    " + "\n    ".join(self.output.strip().splitlines()[-10:]))
        return "\n".join(lines)


class AdbServerUnreachable(DeviceError):
    """The adb server does not answer on HOST:PORT (not started, wrong port, or a firewall in the way)."""

    def __init__(self, server: str, detail: str):
        host, _, port = server.rpartition(":")
        fix = (
            f"start it on {host or 'that host'} with `adb -P {port} start-server` (add -a to let other machines in), "
            "or point --adb-server (or ANDROID_ADB_SERVER_PORT) at a running server"
        )
        super().__init__(f"does not answer ({detail})", fix, server=server)


class DeviceLost(DeviceError):
    """The connection to the device dropped or the device disappeared mid-command."""


class DeviceTimeout(DeviceError):
    """The device did not answer within the caller's timeout (hung, stopped, or far too slow)."""


class DeviceNotReady(DeviceError):
    """The device is attached but not usable: offline, unauthorized, in recovery, no USB permissions..."""

    def __init__(self, message: str, fix: str | None = None, *, state: str, **context):
        self.state = state
        super().__init__(message, fix, **context)


class DeviceNotFound(DeviceError):
    """No attached device fits the request. `attached`, when known, lists what is there as
    "SERIAL on SERVER (state, profile)"."""

    def __init__(self, message: str, fix: str | None = None, *, attached: Sequence[str] | None = None, **context):
        self.attached = None if attached is None else tuple(attached)
        if self.attached is not None:
            message = f"{message}; attached: {', '.join(self.attached) or 'nothing'}"
        super().__init__(message, fix, **context)


class UnknownDevice(UsageError):
    """A `--device` value that is neither a known profile nor an attached serial (a typo, most often)."""

    def __init__(self, message: str, fix: str | None = None, *, attached: Sequence[str] = ()):
        self.attached = tuple(attached)
        listing = ", ".join(self.attached) if self.attached else "nothing"
        super().__init__(f"{message}; attached: {listing}", fix)
