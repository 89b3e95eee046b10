"""Where an adb server listens: parsed from `--adb-server HOST:PORT` or from adb's own environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mai_bench.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5037
HOST_ENV = "ANDROID_ADB_SERVER_ADDRESS"
PORT_ENV = "ANDROID_ADB_SERVER_PORT"


@dataclass(frozen=True, order=True)
class ServerAddress:
    """An adb server's TCP address. `str()` gives "HOST:PORT" ("[::1]:PORT" for IPv6)."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host) or "/" in self.host:
            raise UsageError(f"bad adb server host {self.host!r}", "give --adb-server as HOST:PORT, e.g. 127.0.0.1:5037")
        if not 0 < self.port < 65536:
            raise UsageError(f"adb server port {self.port} is out of range", "use a port between 1 and 65535")

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_default(self) -> bool:
        return self.port == DEFAULT_PORT and self.host in ("127.0.0.1", "localhost", "::1")

    def adb_flags(self) -> str:
        """The `adb` CLI flags that reach this server ("" for the default one), for fix messages."""
        if self.is_default:
            return ""
        host = "" if self.host in ("127.0.0.1", "localhost") else f"-H {self.host} "
        return f"{host}-P {self.port} "


def parse_server(text: str) -> ServerAddress:
    """Parse "HOST:PORT", "[IPV6]:PORT" or a bare "PORT" (on 127.0.0.1)."""
    value = text.strip()
    fix = "give --adb-server as HOST:PORT, e.g. 127.0.0.1:5037"
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise UsageError(f"bad adb server {text!r}", fix)
    elif ":" in value:
        host, _, port = value.rpartition(":")
    else:
        host, port = DEFAULT_HOST, value
    if not port.isdigit():
        raise UsageError(f"bad adb server {text!r}: port {port!r} is not a number", fix)
    return ServerAddress(host, int(port))


def default_server(environ: Mapping[str, str] | None = None) -> ServerAddress:
    """The server adb itself would use: $ANDROID_ADB_SERVER_ADDRESS:$ANDROID_ADB_SERVER_PORT, else 127.0.0.1:5037."""
    env = os.environ if environ is None else environ
    host = env.get(HOST_ENV, "").strip() or DEFAULT_HOST
    port_text = env.get(PORT_ENV, "").strip() or str(DEFAULT_PORT)
    if not port_text.isdigit():
        raise UsageError(f"{PORT_ENV}={port_text!r} is not a port number", f"set {PORT_ENV} to a number, or unset it")
    return ServerAddress(host, int(port_text))
