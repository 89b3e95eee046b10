"""A real adb server and loopback devices for the benchmarks, on free 127.0.0.1 ports, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from mai_bench.device import adb_server
from mai_bench.emulate import loopback
from mai_bench.emulate.adbd.spec import Faults, load_spec


@contextlib.contextmanager
def loopback_devices(count: int = 1, faults: Faults = Faults()) -> Iterator[tuple[adb_server.AdbServer, list]]:
    with tempfile.TemporaryDirectory(prefix="mai-bench-bench-") as tmp:
        root = Path(tmp)
        server = adb_server.start_server(root / "home")
        devices = []
        try:
            devices = loopback.start_devices(load_spec("loopback-sm8450").with_faults(faults),
                                             [root / f"device{i}" for i in range(count)])
            loopback.connect_devices(server, devices)
            yield server, devices
        finally:
            for device in devices:
                loopback.stop_device(device)
            adb_server.stop_server(server)


def adb_env(server: adb_server.AdbServer) -> dict[str, str]:
    return {**os.environ, **adb_server.ISOLATION_ENV, "HOME": str(server.home)}


def adb_argv(server: adb_server.AdbServer, *args: str) -> list[str]:
    return [adb_server.adb_binary(), "-H", server.host, "-P", str(server.port), *args]
