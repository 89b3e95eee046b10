"""The preinstalled benchmark_model on a loopback device runs the host runner (real LiteRT on the host CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import adbutils

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "tiny_isp_static.tflite"


def test_benchmark_model_runs_the_host_runner(loopback, adb_server):
    device = loopback.one()
    handle = adbutils.AdbClient(host=adb_server.host, port=adb_server.port).device(device.serial)
    handle.sync.push(str(MODEL), "/data/local/tmp/model.tflite")
    flags = ["--graph=/data/local/tmp/model.tflite", "--num_runs=3", "--warmup_runs=1", "--min_secs=0",
             "--warmup_min_secs=0", "--num_threads=1"]
    result = handle.shell2(["benchmark_model", *flags], timeout=120, v2=True)
    assert result.returncode == 0, result.output
    assert "INFO: STARTING!" in result.stdout and "count=3 " in result.stdout
    assert "Inference timings in us:" in result.stdout
    record = json.loads(device.argv_log.read_text().splitlines()[-1])
    assert record["argv"][0] == "--graph=/data/local/tmp/model.tflite"  # a device path: the shell runs in the device
    assert record["argv"][1:] == flags[1:]
