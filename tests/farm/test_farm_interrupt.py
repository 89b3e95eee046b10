"""Stopping cleanly: Ctrl-C in `mai-bench farm` stops the benchmark running on the device and releases the device's
lock, as Ctrl-C in `mai-bench run` does; a result measured after breaking someone else's lock says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import support
import yaml

from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.farm.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'mai-bench'; from mai_bench.cli.main import main; main()"]
WAIT_S = 120.0  # a bound on waiting for something to happen, never a measured duration
# Far longer than WAIT_S (and than the runs' own time limit, 420 s by default): within a test, only a stop ends it.
LONG_BENCHMARK_S = 900.0


def lock_dir(device: loopback_lib.LoopbackDevice) -> Path:
    """The device's lock folder (mai_bench.device.lock.LOCK_PATH) inside the loopback device's root."""
    return device.root / "data" / "local" / "tmp" / "mai-bench" / "lock"


def wait_for(condition, what: str) -> None:
    support.wait_for(condition, what, timeout=WAIT_S)


def started(device: loopback_lib.LoopbackDevice) -> bool:
    """benchmark_model (the stand-in) has started on the device and is running."""
    log = device.argv_log
    return log.exists() and bool(log.read_text().strip()) and bool(loopback_lib.shell_processes(device))


def write_plan(path: Path, server, **extra) -> Path:
    plan = {"servers": [server.address], "models": [str(MODELS / "tiny_isp.tflite")], "devices": ["sm8450"],
            "delegates": ["cpu"], "runs": 1, "warmup": 0, "min_secs": 0, "input_shape": [1, 16, 16, 4],
            "thermal": {"cooldown_timeout_s": 0}, "lock_wait_s": 30, **extra}
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def test_ctrl_c_in_a_farm_stops_the_device_benchmark_and_releases_the_lock(farm_servers, farm_devices,
                                                                           tmp_path: Path) -> None:
    first, _ = farm_servers
    device = farm_devices.start(first, 1, Faults(benchmark_sleep_s=LONG_BENCHMARK_S))[0]
    plan = write_plan(tmp_path / "plan.yaml", first)
    out = tmp_path / "out"
    farm = subprocess.Popen([*CLI, "farm", str(plan), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: started(device) or farm.poll() is not None, "the benchmark to start on the device")
        assert farm.poll() is None, farm.communicate()[1][-3000:]
        assert lock_dir(device).is_dir(), "the farm holds the device's lock while its benchmark runs"
        farm.send_signal(signal.SIGINT)
        _, err = farm.communicate(timeout=WAIT_S)
    finally:
        if farm.poll() is None:
            farm.kill()
            farm.communicate()
    assert farm.returncode == 130, err[-3000:]
    # The wrapper's watchdog may take a moment to see its benchmark gone; nothing may stay behind.
    wait_for(lambda: not loopback_lib.shell_processes(device), "the device's benchmark processes to end")
    assert not lock_dir(device).exists(), "the lock was released\n" + err[-3000:]
    assert not list((device.root / "data" / "local" / "tmp" / "mai-bench" / "runs").glob("*/child.pid")), \
        "the run folder was cleaned up"
    assert "Traceback" not in err, err[-3000:]
    assert "Ctrl-C: stopping" in err and "--resume" in err

    (result,) = read_journal(out / "results.jsonl")
    assert result.status == "infra-error" and "interrupted by Ctrl-C" in result.warnings[0]

    # The interrupted job is not done: --resume runs it again, to the end this time.
    loopback_lib.set_faults(device, Faults(benchmark_sleep_s=0.1))
    resumed = subprocess.run([*CLI, "farm", str(plan), "--out", str(out), "--resume", "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["ran"] == 1
    assert [r.status for r in read_journal(out / "results.jsonl")] == ["infra-error", "ok"]


def test_a_run_after_breaking_the_lock_of_a_killed_run_warns_that_its_benchmark_still_runs(
        adb_server, loopback, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=LONG_BENCHMARK_S))
    env = {**os.environ, "HOME": str(adb_server.home)}
    argv = [*CLI, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial, "--adb-server",
            adb_server.address, "--delegate", "cpu", "--runs", "1", "--warmup", "0", "--min-secs", "0",
            "--cooldown-timeout", "0", "--input-shape", "1,16,16,4", "--json"]
    killed = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for(lambda: started(device) or killed.poll() is not None, "the first benchmark to start")
        assert killed.poll() is None
    finally:
        killed.kill()  # SIGKILL: no cleanup at all, its lock and its benchmark stay on the device
        killed.wait()
    assert lock_dir(device).is_dir()
    leftover = set(loopback_lib.shell_processes(device))
    assert leftover

    device = loopback.set_faults(device, Faults(benchmark_sleep_s=0.1))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "ok"
    notes = [w for w in result["warnings"] if "lock" in w]
    assert len(notes) == 1, result["warnings"]
    assert "still running on the device" in notes[0] and "shared the device" in notes[0]
    assert not lock_dir(device).exists()


def test_a_run_after_breaking_a_stale_lock_of_another_host_warns_that_its_holder_may_be_alive(
        adb_server, loopback, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=0.1))
    # A lock another host's mai-bench took long ago and stopped refreshing: broken as stale, but nobody here can
    # tell whether that process is gone.
    folder = lock_dir(device)
    folder.mkdir(parents=True)
    (folder / "owner").write_text("owner=mai-bench farm nightly\nhost=farm-host-2\npid=4242\ntoken=abc\n"
                                  "time=1000\nstale_s=180\nmachine=another-boot-id\n")
    env = {**os.environ, "HOME": str(adb_server.home)}
    proc = subprocess.run([*CLI, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial, "--adb-server",
                           adb_server.address, "--delegate", "cpu", "--runs", "1", "--warmup", "0", "--min-secs",
                           "0", "--cooldown-timeout", "0", "--input-shape", "1,16,16,4", "--json"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    notes = [w for w in result["warnings"] if "lock" in w]
    assert len(notes) == 1, result["warnings"]
    assert "mai-bench farm nightly" in notes[0] and "farm-host-2" in notes[0] and "may still be" in notes[0]
    assert not folder.exists()


def test_a_run_that_takes_a_free_device_has_no_lock_warning(adb_server, loopback) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=0.1))
    env = {**os.environ, "HOME": str(adb_server.home)}
    proc = subprocess.run([*CLI, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial, "--adb-server",
                           adb_server.address, "--delegate", "cpu", "--runs", "1", "--warmup", "0", "--min-secs",
                           "0", "--cooldown-timeout", "0", "--input-shape", "1,16,16,4", "--json"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not [w for w in json.loads(proc.stdout)["warnings"] if "lock" in w]
