"""Fault matrix, the device: the benchmark binary crashes or hangs, the storage is full, the device is
unauthorized or offline. Each drives the real CLI against loopback devices through a real adb server."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from mai_bench.android.staging import content_path
from mai_bench.device import adb_server as adb_server_lib
from mai_bench.device.device import Device
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.results.store import collect_results
from mai_bench.hashing import sha256_file
from support import cmdline, wait_for

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"  # 1292 bytes
FAST = ("--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0")


def _device_processes(device: loopback_lib.LoopbackDevice) -> list[int]:
    """The loopback device's process table, less its adbd."""
    return loopback_lib.shell_processes(device)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_crashing_benchmark_is_crashed_with_the_log_tail(adb_server, loopback, mai_bench, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(crashing_benchmark=True))
    out = tmp_path / "out"
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                     "--out", str(out), *FAST)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    shown = proc.stdout
    assert "crashed" in shown and "the benchmark's last lines:" in shown
    tail = shown[shown.index("the benchmark's last lines:"):]
    assert "Running benchmark for at least 1 iterations" in tail and "Segmentation fault" in tail
    [saved] = collect_results([out])
    assert saved.status == "crashed" and saved.exit_code == 139 and saved.latency_ms.median is None
    assert saved.raw_log.rstrip().endswith("Segmentation fault")


def test_hanging_benchmark_is_killed_on_the_device_and_leaves_no_process(adb_server, loopback,
                                                                         mai_bench_bg) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=60))
    proc = mai_bench_bg(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                        "--json", "--run-timeout", "2", *FAST)
    running = wait_for(lambda: [p for p in _device_processes(device) if "benchmark_model" in cmdline(p)],
                        "the benchmark in the device's process table")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-3000:]
    result = json.loads(out)
    assert result["status"] == "timeout"
    assert "Inference timings in us" not in result["raw_log"], "killed, not waited for the stand-in's 60 s"
    assert any("exceeded its time limit" in w for w in result["warnings"])
    assert not [p for p in running if p in loopback_lib.session_processes(device.pid)], "the benchmark was killed"
    # The wrapper's watchdog may outlive it by a moment; then nothing is left.
    wait_for(lambda: not _device_processes(device), "the device's process table to empty", timeout=5)
    runs = device.root / "data" / "local" / "tmp" / "mai-bench" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "the run folder is removed"


def test_full_storage_is_a_clear_error_before_the_run_and_no_partial_file_is_used(
        adb_server, loopback, mai_bench, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(storage_full_after_bytes=0))
    out = tmp_path / "out"
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                     "--out", str(out), *FAST)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    shown = _one_line(proc.stdout)
    assert "infra-error" in shown and "No space left on device" in shown
    assert "free space on the device" in shown and f"-s {device.serial} shell df -h" in shown
    assert not device.argv_log.exists(), "nothing ran"
    assert [r.status for r in collect_results([out])] == ["infra-error"]

    # Space for the 923-byte wrapper, not for the 1292-byte model: the push fails in the middle of the file.
    device = loopback.set_faults(device, Faults(storage_full_after_bytes=1000))
    again = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack", *FAST)
    assert again.returncode == 3 and "No space left on device" in _one_line(again.stdout)
    assert not device.argv_log.exists()

    # Whatever half-written copy a device keeps is found different by its sha256 and pushed again in full.
    remote = content_path("models", sha256_file(MODEL), MODEL.name)
    partial = device.root / remote.lstrip("/")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(MODEL.read_bytes()[:1000])
    device = loopback.set_faults(device, Faults(benchmark_sleep_s=0.1))
    fine = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack", "--json",
                     *FAST)
    assert fine.returncode == 0, fine.stderr[-3000:]
    result = json.loads(fine.stdout)
    assert result["status"] == "ok"
    assert result["transfer"]["model"]["cached"] is False
    assert result["transfer"]["model"]["pushed_bytes"] == MODEL.stat().st_size
    assert Device(device.serial, adb_server.address).sha256(remote, 30) == sha256_file(MODEL)


def test_unauthorized_device_gives_its_state_and_the_fix(adb_server, loopback, mai_bench) -> None:
    device = loopback.one(faults=Faults(reject_auth=True))
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack", *FAST)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    shown = _one_line(proc.stderr)
    assert f"device {device.serial} on adb server {adb_server.address}: the device is unauthorized" in shown
    assert "accept the 'Allow USB debugging' prompt" in shown
    assert not device.argv_log.exists()


def test_offline_device_gives_its_state_and_the_fix(adb_server, loopback, mai_bench) -> None:
    device = loopback.one()
    os.kill(device.pid, signal.SIGKILL)  # the adb server keeps a TCP device it lost, offline, and retries
    device.process.wait()
    wait_for(lambda: adb_server_lib.devices(adb_server).get(device.serial) == "offline", "the device offline")
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack", *FAST)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    shown = _one_line(proc.stderr)
    assert f"device {device.serial} on adb server {adb_server.address}: the device is offline" in shown
    assert f"disconnect {device.serial}` then `adb -P {adb_server.port} connect {device.serial}`" in shown
