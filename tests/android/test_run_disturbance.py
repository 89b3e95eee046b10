"""What the harness does to a device while its benchmark is timed (issue 12, item 5), on loopback devices through
the real adb server: no process started on the device, no lock refresh, the peak-memory sampler only when asked
for, and the device-side pieces this rests on (a shell's silence bound, its output as it comes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mai_bench.device import lock as lock_module
from mai_bench.device.device import Device
from mai_bench.device.errors import DeviceTimeout
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.plan import RunPlan
from support import cmdline, wait_for

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0"]
PEAK_FLAG = "--report_peak_memory_footprint"
SLEEP_S = 12.0  # the stand-in benchmark's run: the window below stays well inside it, even on a busy machine
WINDOW = (1.5, 4.5)  # seconds after the benchmark started


def cli(server, *args: str) -> list[str]:
    return [sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address]


def env(server) -> dict[str, str]:
    return {**os.environ, "HOME": str(server.home)}


def run_json(server, *args: str) -> dict:
    proc = subprocess.run(cli(server, "run", str(MODEL), *args, "--json", *FAST), capture_output=True, text=True,
                          timeout=300, env=env(server))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def newest_pid(device: Device) -> int:
    """The pid a fresh shell gets on the device: its PID namespace hands out one more per process started."""
    return int(device.shell(["sh", "-c", "echo $$"], 10, check=True).out)


def test_no_process_is_started_on_the_device_while_the_benchmark_runs(adb_server, loopback) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=SLEEP_S))
    client = Device(device.serial, adb_server.address)
    probe_cost = -newest_pid(client) + newest_pid(client)  # what one probe itself starts
    proc = subprocess.Popen(cli(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                                "--json", *FAST), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(adb_server))
    try:
        wait_for(device.argv_log.exists, "the benchmark to start", timeout=120)
        started = time.monotonic()
        time.sleep(WINDOW[0])
        first = newest_pid(client)
        during = [cmdline(pid) for pid in loopback_lib.shell_processes(device)]
        time.sleep(max(0.0, started + WINDOW[1] - time.monotonic()))
        last = newest_pid(client)
        runs = device.root / "data" / "local" / "tmp" / "mai-bench" / "runs"
        assert not list(runs.glob("*/rc")), "the window must end while the benchmark still runs"
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out)["status"] == "ok"
    # Before: about 20 `sleep` processes per second from the host's poll, one per second from the watchdog,
    # a new wait shell every 5 s.
    assert last - first - probe_cost == 0, f"processes started during the timed run: {last - first - probe_cost}"
    assert not [c for c in during if c.split()[:1] == ["sleep"]], during
    wrapper = [c for c in during if c.split()[:2][-1:] and c.split()[1].endswith("/run_benchmark.sh")]
    assert len(wrapper) == 2, f"the wrapper and its watchdog, nothing else of it: {during}"
    assert len(during) == 5, f"and the benchmark, and the one wait shell (`sh -c` in adbd's `sh -c`): {during}"


def test_peak_memory_only_when_asked_for(adb_server, loopback) -> None:
    device = loopback.one()
    plain = run_json(adb_server, "--device", device.serial, "--delegate", "xnnpack")
    asked = run_json(adb_server, "--device", device.serial, "--delegate", "xnnpack", "--peak-memory")
    calls = [json.loads(line)["argv"] for line in device.argv_log.read_text().splitlines()]
    assert len(calls) == 2
    assert not any(a.startswith(PEAK_FLAG) for a in calls[0]), calls[0]
    assert f"{PEAK_FLAG}=true" in calls[1], calls[1]
    assert not any(a.startswith(PEAK_FLAG) for a in plain["argv"]) and f"{PEAK_FLAG}=true" in asked["argv"]
    assert plain["settings"]["peak_memory"] is False and asked["settings"]["peak_memory"] is True
    assert asked["memory_mb"]["peak"] is not None and asked["memory_mb"]["peak"] > 0, "the host runner's sampler"


def test_the_plan_passes_peak_memory_only_when_asked_for() -> None:
    assert not any(f.startswith(PEAK_FLAG) for f in RunPlan().benchmark_flags("m"))
    assert f"{PEAK_FLAG}=true" in RunPlan(peak_memory=True).benchmark_flags("m")


def test_a_farm_plan_takes_peak_memory(tmp_path: Path) -> None:
    from mai_bench.errors import UsageError
    from mai_bench.farm.plan import load_plan

    plan = tmp_path / "plan.yaml"
    plan.write_text(f"models: [{MODEL}]\ndevices: [sm8450]\ndelegates: [xnnpack]\npeak_memory: true\n")
    assert load_plan(plan).run_plan("xnnpack").peak_memory is True
    plan.write_text(f"models: [{MODEL}]\ndevices: [sm8450]\ndelegates: [xnnpack]\npeak_memory: yes please\n")
    with pytest.raises(UsageError, match="peak_memory"):
        load_plan(plan)


@pytest.fixture
def device(adb_server, loopback) -> Device:
    return Device(loopback.one().serial, adb_server.address)


@pytest.fixture
def refreshes(monkeypatch) -> list[float]:
    """Every lock refresh of this test, by time.monotonic()."""
    seen: list[float] = []
    original = lock_module.Lock.refresh

    def counted(self, *args, **kwargs):
        seen.append(time.monotonic())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(lock_module.Lock, "refresh", counted)
    return seen


def test_no_lock_refresh_inside_a_timed_run_shorter_than_the_lock_expiry(device: Device, refreshes) -> None:
    with lock_module.held(device, "timed run", wait_s=0, stale_s=30, heartbeat_s=0.2) as mine:
        time.sleep(0.7)
        assert len(refreshes) >= 2, "outside a timed run the heartbeat refreshes as usual"
        before = len(refreshes)
        with lock_module.quiet(mine):
            entered = len(refreshes)
            time.sleep(1.5)  # 7 heartbeats' worth
            inside = len(refreshes)
        holder = lock_module.read_lock(device)
    assert entered == before + 1, "refreshed once, before the run"
    assert inside == entered, f"{inside - entered} refreshes during the timed run"
    assert holder.token == mine.token and not holder.stale


def test_a_timed_run_longer_than_the_lock_expiry_keeps_its_lock(device: Device, refreshes, monkeypatch) -> None:
    monkeypatch.setattr(lock_module, "QUIET_MARGIN_S", 1.5)  # held-back refreshes come 1.5 s before the expiry
    with lock_module.held(device, "long timed run", wait_s=0, stale_s=3, heartbeat_s=0.2) as mine:
        with lock_module.quiet(mine):
            entered = len(refreshes)
            time.sleep(4.5)  # past the expiry
            held_back = len(refreshes) - entered
            holder = lock_module.read_lock(device)
            with pytest.raises(lock_module.DeviceBusy):
                lock_module.acquire(device, "intruder", wait_s=0)
    assert holder.token == mine.token and not holder.stale
    assert 1 <= held_back <= 4, f"{held_back} refreshes: fewer than the usual heartbeat's 22, enough for the lock"


def test_a_silent_shell_is_a_timeout_and_its_output_arrives_as_it_comes(device: Device) -> None:
    pieces: list[bytes] = []
    with pytest.raises(DeviceTimeout, match="no answer within 1 s"):
        device.shell(["sh", "-c", "echo first; sleep 30; echo never"], 60, idle_s=1, on_output=pieces.append)
    assert b"".join(pieces) == b"first\n"
    pieces.clear()
    result = device.shell(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done"], 60, idle_s=5,
                          on_output=pieces.append)
    assert result.out == "1\n2\n3\n" and len(pieces) == 3
