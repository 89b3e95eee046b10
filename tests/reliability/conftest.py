"""Fixtures for the fault matrix and the hostile-input tests: the real `mai-bench` CLI in a subprocess
(waited for, or in the background), and an adb server of a test's own for the rows that kill one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults, load_spec


def mai_bench_argv(server: adb_server_lib.AdbServer | None, *args: str) -> list[str]:
    extra = ["--adb-server", server.address] if server is not None else []
    return [sys.executable, "-m", "mai_bench.cli.main", *args, *extra]


def cli_env(server: adb_server_lib.AdbServer | None) -> dict[str, str]:
    env = dict(os.environ)
    if server is not None:
        env["HOME"] = str(server.home)
    return env


@pytest.fixture
def mai_bench() -> Callable[..., subprocess.CompletedProcess]:
    """`mai_bench(server, "run", ...)`: the CLI in a subprocess, text output captured."""

    def run(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(mai_bench_argv(server, *args), capture_output=True, text=True, timeout=timeout,
                              env=cli_env(server))

    return run


@pytest.fixture
def mai_bench_bg():
    """`proc = mai_bench_bg(server, "run", ...)`: the CLI started in the background; killed at teardown if it
    is still running (by its PID)."""
    started: list[subprocess.Popen] = []

    def start(server, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(mai_bench_argv(server, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=cli_env(server))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


class OwnServer:
    """An adb server of one test's own, with loopback devices on it: a test may kill it, and start it again on
    the same port. Everything is stopped by PID at teardown, and nothing may be left running."""

    def __init__(self, base: Path):
        self.base = base
        self.server = adb_server_lib.start_server(base / "adb-home")
        self.servers = [self.server]
        self.devices: list[loopback_lib.LoopbackDevice] = []

    def device(self, faults: Faults = Faults()) -> loopback_lib.LoopbackDevice:
        spec = load_spec("loopback-sm8450").with_faults(faults)
        device = loopback_lib.start_device(spec, self.base / f"device{len(self.devices)}")
        self.devices.append(device)
        loopback_lib.connect_devices(self.server, [device])
        return device

    def kill(self) -> None:
        """Stop the server by its PID, as a crash or `adb kill-server` would end it."""
        adb_server_lib.stop_server(self.server)

    def restart(self) -> adb_server_lib.AdbServer:
        """A new server on the same port and HOME; the devices are connected to it again."""
        self.server = adb_server_lib.start_server(self.base / "adb-home", self.server.port)
        self.servers.append(self.server)
        loopback_lib.connect_devices(self.server, self.devices)
        return self.server

    def close(self) -> None:
        for device in self.devices:
            loopback_lib.stop_device(device)
        for server in self.servers:
            adb_server_lib.stop_server(server)
        left = {p: loopback_lib.session_processes(p) for p in [d.pid for d in self.devices]
                + [s.pid for s in self.servers]}
        assert not any(left.values()), f"processes left running: {left}"


@pytest.fixture
def own_server(tmp_path: Path) -> OwnServer:
    owned = OwnServer(tmp_path / "own")
    yield owned
    owned.close()
