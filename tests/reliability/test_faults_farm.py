"""Fault matrix, the farm: mai-bench SIGKILLed mid-farm then `--resume`; a 4-device farm in which one device is
dropped, one hangs and one has a crashing binary; two mai-bench processes aimed at one device."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from mai_bench.emulate.adbd.spec import Faults
from mai_bench.farm.journal import read_journal
from support import wait_for

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
FAST = ("--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0")


def _write_plan(path: Path, server, devices, **extra) -> Path:
    plan = {"servers": [server.address], "devices": [d.serial for d in devices],
            "models": [str(MODELS / "tiny_isp.tflite"), str(MODELS / "gpu_unsupported_op.tflite")],
            "delegates": ["xnnpack", "cpu"], "runs": 2, "warmup": 1, "min_secs": 0,
            "input_shape": [1, 16, 16, 4], "thermal": {"cooldown_timeout_s": 0}, "lock_wait_s": 60}
    plan.update(extra)
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def _farm_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "mai_bench.cli.main", "farm", *args]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_mai_bench_killed_mid_farm_leaves_no_corrupt_file_and_resume_completes_the_rest(
        adb_server, loopback, tmp_path: Path) -> None:
    devices = loopback.start(2, faults=Faults(benchmark_sleep_s=0.6))
    plan = _write_plan(tmp_path / "plan.yaml", adb_server, devices)
    out = tmp_path / "out"
    journal = out / "results.jsonl"
    farm = subprocess.Popen(_farm_argv(str(plan), "--out", str(out)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _lines(journal) >= 3, "three finished jobs")
    finally:
        os.kill(farm.pid, signal.SIGKILL)
        farm.communicate()
    assert farm.returncode == -signal.SIGKILL

    kept = read_journal(journal)  # raises on a damaged line; a torn last line is skipped
    assert 3 <= len(kept) < 8 and all(r.status == "ok" for r in kept)
    assert sorted(p.name for p in out.iterdir()) == ["results.jsonl"], "no summary or temporary file half-written"
    # Killed between taking a device's lock folder and writing its owner file, a farm leaves a lock nobody
    # owns: it is broken once 15 s old (made 20 s old here). A lock it left whole is broken at once (its
    # process is gone).
    locks = [d.root / "data" / "local" / "tmp" / "mai-bench" / "lock" for d in devices]
    locks[0].mkdir(parents=True, exist_ok=True)
    (locks[0] / "owner").unlink(missing_ok=True)
    os.utime(locks[0], (time.time() - 20, time.time() - 20))

    resumed = subprocess.run(_farm_argv(str(plan), "--out", str(out), "--resume", "--json"), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["skipped"] == len(kept) and outcome["ran"] == 8 - len(kept)
    assert len(outcome["jobs"]) == 8 and {job["outcome"] for job in outcome["jobs"]} == {"passed"}
    final = read_journal(journal)
    assert final[:len(kept)] == kept, "the results measured before the kill are kept as they were"
    assert len({r.extra["job_id"] for r in final}) == 8 and all(r.status == "ok" for r in final)
    assert not any(lock.exists() for lock in locks)


def test_four_device_farm_with_a_dropped_a_hung_and_a_crashing_device(adb_server, loopback, tmp_path: Path,
                                                                     monkeypatch) -> None:
    from mai_bench.android import remote_run
    from mai_bench.farm import runner
    from mai_bench.farm.session import run_plan_file

    monkeypatch.setattr(remote_run, "RECONNECT_GRACE_S", 2.0)
    monkeypatch.setattr(runner, "PROBE_TIMEOUT_S", 2.0)
    healthy = loopback.one(faults=Faults(benchmark_sleep_s=0.3))
    crashing = loopback.one(faults=Faults(crashing_benchmark=True))
    dropped = loopback.one(faults=Faults(benchmark_sleep_s=3))
    hung = loopback.one(faults=Faults(benchmark_sleep_s=3))
    devices = [healthy, crashing, dropped, hung]
    plan = _write_plan(tmp_path / "plan.yaml", adb_server, devices, models=[str(MODELS / "tiny_isp.tflite")])

    def strike(device, sig) -> None:
        wait_for(device.argv_log.exists, f"the first benchmark on {device.serial}", timeout=120)
        os.kill(device.pid, sig)

    strikers = [threading.Thread(target=strike, args=(dropped, signal.SIGKILL)),
                threading.Thread(target=strike, args=(hung, signal.SIGSTOP))]
    for thread in strikers:
        thread.start()
    try:
        outcome = run_plan_file(plan, out_dir=tmp_path / "out")
    finally:
        for thread in strikers:
            thread.join()
        os.kill(hung.pid, signal.SIGCONT)
    assert outcome.exit_code == 3

    results = read_journal(tmp_path / "out" / "results.jsonl")
    assert len(results) == 8, "every job has its result, nothing finished is lost"
    by_device = {d.serial: [r for r in results if r.device.serial == d.serial] for d in devices}
    assert [r.status for r in by_device[healthy.serial]] == ["ok", "ok"]
    assert all(r.latency_ms.median is not None and r.latency_ms.count == 2 for r in by_device[healthy.serial])
    assert [r.status for r in by_device[crashing.serial]] == ["crashed", "crashed"]
    assert all("Segmentation fault" in r.raw_log for r in by_device[crashing.serial])
    for device, sign in ((dropped, "went offline"), (hung, "no answer within")):
        first, second = by_device[device.serial]
        assert first.status == second.status == "infra-error"
        assert sign in first.raw_log and "past the reconnect grace period of 2 s" in first.raw_log, first.raw_log
        assert second.warnings[0].startswith(f"not run: device {adb_server.address}/{device.serial} was lost")
    outcomes = {}
    for verdict in outcome.verdicts:
        outcomes.setdefault(verdict.result.device.serial, []).append(verdict.outcome)
    assert outcomes == {healthy.serial: ["passed", "passed"], crashing.serial: ["failed", "failed"],
                        dropped.serial: ["error", "error"], hung.serial: ["error", "error"]}


def test_two_mai_bench_processes_on_one_device_never_share_it(adb_server, loopback, mai_bench, mai_bench_bg) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=3))
    model = str(MODELS / "tiny_isp.tflite")
    first = mai_bench_bg(adb_server, "run", model, "--device", device.serial, "--delegate", "xnnpack", "--json",
                         "--input-shape", "1,16,16,4", *FAST)
    wait_for(device.argv_log.exists, "the first run's benchmark")
    second = mai_bench(adb_server, "run", model, "--device", device.serial, "--delegate", "xnnpack", "--json",
                       "--input-shape", "1,16,16,4", "--lock-wait", "0.5", *FAST)
    assert second.returncode == 3, second.stderr[-3000:]
    busy = json.loads(second.stdout)
    assert busy["status"] == "infra-error"
    assert f"the device is in use by mai-bench run (pid {first.pid}, on" in busy["raw_log"]
    assert "raise the lock wait" in busy["raw_log"]
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-3000:]
    assert json.loads(out)["status"] == "ok"
    assert len(device.argv_log.read_text().splitlines()) == 1, "the second run never started a benchmark"
    assert not (device.root / "data" / "local" / "tmp" / "mai-bench" / "lock").exists(), "the lock is released"
