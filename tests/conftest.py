"""Shared fixtures: one real adb server per test session on a free 127.0.0.1 port, and a factory for loopback
devices (one process each, with fault switches and a profile). Everything is stopped by PID at teardown; a
session-finish hook fails the run if any process they started is still alive."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd import jail
from mai_bench.emulate.adbd import auth
from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec, load_spec

ADB_CLI_TIMEOUT_S = 60.0

# Session ids (= PIDs) of every server and device the fixtures started, checked at session finish.
_STARTED: list[int] = []


def session_leftovers() -> dict[int, list[int]]:
    """Processes still alive in the sessions of servers and devices started by these fixtures."""
    leftovers = {sid: loopback_lib.session_processes(sid) for sid in _STARTED}
    return {sid: pids for sid, pids in leftovers.items() if pids}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leftovers = session_leftovers()
    if leftovers:
        for pids in leftovers.values():
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nERROR: fixtures left processes running (session id -> pids): {leftovers}")


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> adb_server_lib.AdbServer:
    """A real adb server (the adbutils wheel's binary) on a free 127.0.0.1 port, HOME in a temp folder."""
    server = adb_server_lib.start_server(tmp_path_factory.mktemp("adb-home"))
    _STARTED.append(server.pid)
    yield server
    adb_server_lib.stop_server(server)
    assert loopback_lib.session_processes(server.pid) == []


@pytest.fixture
def adb(adb_server: adb_server_lib.AdbServer):
    """Run the adb CLI against the session server: `adb("-s", serial, "shell", "true")` -> CompletedProcess."""
    env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(adb_server.home)}
    binary = adb_server_lib.adb_binary()

    def run(*args: str, timeout: float = ADB_CLI_TIMEOUT_S, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([binary, "-H", adb_server.host, "-P", str(adb_server.port), *args], env=env,
                              capture_output=True, timeout=timeout, input=input)

    return run


class LoopbackFactory:
    """Starts loopback devices for one test and stops them all (by PID) when it ends."""

    def __init__(self, server: adb_server_lib.AdbServer, base: Path):
        self.server = server
        self.base = base
        self.devices: list[loopback_lib.LoopbackDevice] = []

    def start(self, count: int = 1, *, faults: Faults = Faults(), props: Mapping[str, str] | None = None,
              profile: str = "loopback-sm8450", spec: LoopbackSpec | None = None,
              connect: bool = True, trust_server: bool = True,
              trusted_keys: Sequence[str] = ()) -> list[loopback_lib.LoopbackDevice]:
        """Start `count` devices; with `connect`, `adb connect` them and wait for `device` (or `unauthorized`
        with reject_auth, or when they authenticate hosts and `trust_server` is off). They trust `trusted_keys`
        and, with `trust_server`, the session server's key, as phones that allowed it before. A `hang` fault is
        applied once they are connected (a hung device cannot connect)."""
        isolation = jail.probe()
        if not isolation.faithful:  # never test against a device more lenient than a phone
            pytest.fail(f"this host cannot run a faithful loopback device: {isolation.reason}")
        spec = (spec or load_spec(profile)).with_faults(replace(faults, hang=False) if connect else faults)
        if props:
            spec = spec.with_props(**props)
        first = len(self.devices)
        roots = [self.base / f"device{first + i}" for i in range(count)]
        keys = [*trusted_keys, *([loopback_lib.server_public_key(self.server)] if trust_server else [])]
        started = loopback_lib.start_devices(spec, roots, trusted_keys=keys)
        self.devices.extend(started)
        _STARTED.extend(d.pid for d in started)
        if connect:
            for device in started:
                adb_server_lib.connect(self.server, device.serial)
            trusted = trust_server or not auth.auth_required(spec.props)
            state = "device" if trusted and not faults.reject_auth else "unauthorized"
            for device in started:
                adb_server_lib.wait_for_state(self.server, device.serial, (state,))
            if faults.hang:
                started = [self.set_faults(device, faults) for device in started]
        return started

    def one(self, **kwargs: Any) -> loopback_lib.LoopbackDevice:
        return self.start(1, **kwargs)[0]

    def set_faults(self, device: loopback_lib.LoopbackDevice, faults: Faults) -> loopback_lib.LoopbackDevice:
        updated = loopback_lib.set_faults(device, faults)
        self.devices[self.devices.index(device)] = updated
        return updated

    def close(self) -> None:
        for device in self.devices:
            try:
                adb_server_lib.disconnect(self.server, device.serial, timeout=5.0)
            except Exception:  # a killed or stopped device may not disconnect cleanly; stopping it still must
                pass
            loopback_lib.stop_device(device)
        leftovers = {d.serial: loopback_lib.session_processes(d.pid) for d in self.devices}
        assert not any(leftovers.values()), f"loopback devices left processes: {leftovers}"


@pytest.fixture
def loopback(adb_server: adb_server_lib.AdbServer, tmp_path: Path) -> LoopbackFactory:
    """Factory: `loopback.one(faults=Faults(no_shell_v2=True))`, `loopback.start(4)`; all stopped at teardown."""
    factory = LoopbackFactory(adb_server, tmp_path / "loopback")
    yield factory
    factory.close()
