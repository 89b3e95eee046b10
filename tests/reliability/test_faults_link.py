"""Fault matrix, the link: the connection dropped during the push, the run and the collection; a hung device;
the adb server killed mid-run. Each drives the real CLI against loopback devices through a real adb server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.device.device import Device
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.results.store import collect_results
from mai_bench.hashing import sha256_file
from support import wait_for

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "tests" / "fixtures" / "logs"
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
PYNET = ROOT / "mai_bench" / "reference_models" / "pynet_v2_mobile.tflite"  # 3.7 MB: a push that takes a while
FAST = ("--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0")
GRACE_S = 2.0


def _result(proc) -> dict:
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_connection_dropped_during_push_is_an_infra_error_and_the_partial_file_is_never_used(
        adb_server, loopback, mai_bench, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(drop_after_bytes=1_000_000, benchmark_sleep_s=0.1))
    out = tmp_path / "out"
    proc = mai_bench(adb_server, "run", str(PYNET), "--device", device.serial, "--delegate", "xnnpack",
                     "--json", "--out", str(out), *FAST)
    assert proc.returncode == 3, proc.stderr[-3000:]
    result = _result(proc)
    assert result["status"] == "infra-error" and result["latency_ms"]["median"] is None
    assert "pushing" in result["raw_log"] and "connection dropped" in result["raw_log"]
    assert device.serial in result["raw_log"] and "fix:" in result["raw_log"]
    assert not device.argv_log.exists(), "the benchmark never started"
    saved = collect_results([out])
    assert [r.status for r in saved] == ["infra-error"], "the failed job is on disk too"

    # The device came back (the adb server reconnects by itself) holding part of the model: the next run
    # sees the content differ and pushes it whole.
    adb_server_lib.wait_for_state(adb_server, device.serial, ("device",))
    again = _result(mai_bench(adb_server, "run", str(PYNET), "--device", device.serial, "--delegate", "xnnpack",
                              "--json", *FAST))
    assert again["status"] == "ok"
    model = again["transfer"]["model"]
    assert model["cached"] is False and model["pushed_bytes"] == PYNET.stat().st_size
    on_device = Device(device.serial, adb_server.address).sha256(model["remote"], 30)
    assert on_device == sha256_file(PYNET)


def test_connection_dropped_during_the_run_is_survived_within_the_grace_period(
        adb_server, adb, loopback, mai_bench_bg) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=3))
    proc = mai_bench_bg(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                        "--json", "--reconnect-grace", "20", *FAST)
    wait_for(device.argv_log.exists, "the benchmark to start")
    assert adb("disconnect", device.serial).returncode == 0
    assert device.serial not in adb_server_lib.devices(adb_server), "the device is gone for a while"
    time.sleep(1.0)
    assert adb("connect", device.serial).returncode == 0
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["status"] == "ok" and result["latency_ms"]["count"] == 3
    assert len(device.argv_log.read_text().splitlines()) == 1, "the run went on; it was not started again"


def test_connection_dropped_during_collection_keeps_the_measurement(adb_server, loopback, mai_bench,
                                                                     tmp_path: Path) -> None:
    # A 2.7 MB log (vendor noise before the real output); the link drops 1 MB into reading it back.
    padding = "".join(f"INFO: vendor log line {i:07d} {'x' * 60}\n" for i in range(30000))
    log = tmp_path / "verbose.log"
    log.write_text(padding + (LOGS / "015_android-xnnpack-full-p5median.txt").read_text())
    device = loopback.one(faults=Faults(benchmark_log_file=str(log), drop_after_bytes=1_000_000))
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack", "--json",
                     "--reconnect-grace", "20", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc)
    assert "drop_after_bytes=1000000 reached" in device.log_path.read_text(), "the link did drop"
    assert result["status"] == "ok" and result["latency_ms"]["median"] == 576.856
    assert result["raw_log"] == log.read_text()


def test_hung_device_is_given_up_within_the_grace_period_plus_5_s(adb_server, loopback, mai_bench_bg) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=3))
    proc = mai_bench_bg(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                        "--json", "--reconnect-grace", str(GRACE_S), *FAST)
    wait_for(device.argv_log.exists, "the benchmark to start")
    os.kill(device.pid, signal.SIGSTOP)
    try:
        # The device comes back after the bound: had mai-bench still been waiting then, the run would end ok.
        bound = GRACE_S + 5 + 1  # 1 s for scheduling on a busy machine
        try:
            out, err = proc.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            out = err = None
    finally:
        os.kill(device.pid, signal.SIGCONT)
    if out is None:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err[-3000:]
    result = json.loads(out)
    assert result["status"] == "infra-error", "given up before the device answered again"
    assert f"past the reconnect grace period of {GRACE_S:g} s" in result["raw_log"]
    assert "no answer within" in result["raw_log"] and "--reconnect-grace" in result["raw_log"]


def test_adb_server_killed_mid_run_and_restarted_within_the_grace_period_completes(own_server,
                                                                                  mai_bench_bg) -> None:
    device = own_server.device(Faults(benchmark_sleep_s=3))
    proc = mai_bench_bg(own_server.server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                        "--json", "--reconnect-grace", "20", *FAST)
    wait_for(device.argv_log.exists, "the benchmark to start")
    own_server.kill()
    time.sleep(0.5)
    own_server.restart()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    result = json.loads(out)
    assert result["status"] == "ok" and result["latency_ms"]["count"] == 3
    assert len(device.argv_log.read_text().splitlines()) == 1


def test_adb_server_killed_mid_run_for_good_is_a_clean_infra_error(own_server, mai_bench_bg) -> None:
    device = own_server.device(Faults(benchmark_sleep_s=3))
    server = own_server.server
    proc = mai_bench_bg(server, "run", str(MODEL), "--device", device.serial, "--delegate", "xnnpack",
                        "--reconnect-grace", str(GRACE_S), *FAST)
    wait_for(device.argv_log.exists, "the benchmark to start")
    own_server.kill()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-3000:]
    assert "Traceback" not in err
    shown = " ".join((out + err).split())
    assert "infra-error" in shown and f"adb server {server.address}" in shown and "does not answer" in shown
    assert f"adb -P {server.port} start-server" in shown, "the fix says how to start it"
