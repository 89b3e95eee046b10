"""Farm fixtures: two real adb servers of the farm tests' own on free 127.0.0.1 ports, and a factory for loopback
devices on either of them (restartable on the same port, to come back after being killed). Everything is
stopped by PID, and the tests fail if any process they started is left running."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults, load_spec

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
JUNIT_XSD = ROOT / "tests" / "fixtures" / "junit" / "jenkins-junit.xsd"


@pytest.fixture(scope="module")
def farm_servers(tmp_path_factory: pytest.TempPathFactory):
    """Two adb servers, as two farm hosts would run them."""
    servers = []
    try:
        for index in range(2):
            servers.append(adb_server_lib.start_server(tmp_path_factory.mktemp(f"farm-adb-home{index}")))
        yield servers
    finally:
        for server in servers:
            adb_server_lib.stop_server(server)
        assert not [pid for s in servers for pid in loopback_lib.session_processes(s.pid)]


class FarmDevices:
    """Loopback devices on the farm's servers; `kill` drops one like a crash, `restart` brings it back."""

    def __init__(self, base: Path):
        self.base = base
        self.devices: list[tuple[adb_server_lib.AdbServer, loopback_lib.LoopbackDevice]] = []
        self.dead: list[loopback_lib.LoopbackDevice] = []

    def start(self, server: adb_server_lib.AdbServer, count: int, faults: Faults = Faults()):
        spec = load_spec("loopback-sm8450").with_faults(faults)
        roots = [self.base / f"device{len(self.devices) + i}" for i in range(count)]
        started = loopback_lib.start_devices(spec, roots)
        self.devices += [(server, d) for d in started]
        loopback_lib.connect_devices(server, started)
        return started

    def server_of(self, device: loopback_lib.LoopbackDevice) -> adb_server_lib.AdbServer:
        return next(s for s, d in self.devices if d.serial == device.serial)

    def kill(self, device: loopback_lib.LoopbackDevice) -> None:
        """SIGKILL the device process, as a crash or a pulled cable would end it."""
        os.kill(device.pid, signal.SIGKILL)
        device.process.wait()
        self.dead.append(device)

    def restart(self, device: loopback_lib.LoopbackDevice,
                faults: Faults | None = None) -> loopback_lib.LoopbackDevice:
        """The same device (port, sandbox and all) started again, with other faults if given, and reconnected."""
        server = self.server_of(device)
        loopback_lib.stop_device(device)  # reaps what its shells left behind
        adb_server_lib.disconnect(server, device.serial)
        spec = device.spec if faults is None else device.spec.with_faults(faults)
        again = loopback_lib.start_device(spec, device.root, port=device.port)
        index = next(i for i, (_, d) in enumerate(self.devices) if d.serial == device.serial)
        self.devices[index] = (server, again)
        loopback_lib.connect_devices(server, [again])
        return again

    def argv_calls(self, device: loopback_lib.LoopbackDevice) -> int:
        """How many times benchmark_model was started on the device."""
        log = device.argv_log
        return len(log.read_text().splitlines()) if log.exists() else 0

    def close(self) -> None:
        for server, device in self.devices:
            try:
                adb_server_lib.disconnect(server, device.serial, timeout=5.0)
            except Exception:  # a killed device may not disconnect cleanly; stopping it still must happen
                pass
            loopback_lib.stop_device(device)
        for device in self.dead:
            loopback_lib.stop_device(device)
        leftovers = {d.serial: loopback_lib.session_processes(d.pid) for _, d in self.devices}
        assert not any(leftovers.values()), f"loopback devices left processes: {leftovers}"


@pytest.fixture
def farm_devices(farm_servers, tmp_path: Path):
    factory = FarmDevices(tmp_path / "devices")
    yield factory
    factory.close()
