"""Loopback devices run LiteRT's real GPU accelerator: `benchmark_model --use_gpu=true` inside the device's
sandbox (bubblewrap, uid 2000) finds the host's Vulkan device itself (SwiftShader here), and `mai-bench run
--delegate gpu` classifies its real decisions, as do farm thresholds. A spec with `gpu: false` keeps the phone
without a GPU delegate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import yaml

from mai_bench.emulate.adbd.spec import load_spec
from mai_bench.farm.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
SMALL = ["--input-shape", "1,64,64,4", "--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2",
         "--cooldown-timeout", "0"]


def mai_bench(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VK_")}
    env["HOME"] = str(server.home)
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_an_op_the_accelerator_rejects_is_a_fallback_with_its_own_counts_on_the_device(adb_server, loopback):
    device = loopback.one()
    refused = mai_bench(adb_server, "run", str(MODELS / "gpu_unsupported_op.tflite"), "--device", device.serial,
                        "--delegate", "gpu", "--json", *SMALL)
    assert refused.returncode == 1, refused.stderr[-2000:]
    result = json.loads(refused.stdout)
    assert result["status"] == "delegate-fallback"
    log = result["raw_log"]
    # The accelerator's own words, from inside the device, and the counts it gave.
    assert "LOCAL_RESPONSE_NORMALIZATION: Operation is not supported." in log
    assert "4 operations will run on the GPU, and the remaining 3 operations will run on the CPU." in log
    assert "Selected adapter: SwiftShader Device (Subzero)" in log
    d = result["delegation"]
    assert (d["nodes_delegated"], d["nodes_total"], d["full"], d["failed"]) == (4, 7, False, False)
    assert d["names"] == ["GPU WebGPU"]
    assert result["device"]["emulated"] is True
    props = result["device"]["properties"]
    assert props["gpu.software"] == "true" and props["gpu.adapter"] == "SwiftShader Device (Subzero)"
    assert any("software GPU" in w for w in result["warnings"])
    # --require_full_delegation refused to time the CPU's share; --allow-fallback times it, never as GPU numbers.
    assert result["latency_ms"]["count"] is None
    allowed = mai_bench(adb_server, "run", str(MODELS / "gpu_unsupported_op.tflite"), "--device", device.serial,
                        "--delegate", "gpu", "--allow-fallback", "--json", *SMALL)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    timed = json.loads(allowed.stdout)
    assert timed["status"] == "delegate-fallback" and timed["latency_ms"]["count"] >= 3
    assert (timed["delegation"]["nodes_delegated"], timed["delegation"]["nodes_total"]) == (4, 7)
    record = json.loads(device.argv_log.read_text().splitlines()[-1])
    assert "--use_gpu=true" in record["argv"]


def test_a_whole_graph_on_the_devices_gpu_is_ok(adb_server, loopback):
    device = loopback.one()
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial,
                     "--delegate", "gpu", "--json", *SMALL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "ok"
    d = result["delegation"]
    assert d["full"] is True and d["nodes_delegated"] == d["nodes_total"] == 12
    assert "Explicitly applied GPU delegate, and the model graph will be completely executed" in result["raw_log"]
    assert result["latency_ms"]["median"] > 0


def test_a_spec_without_gpu_keeps_the_phone_without_a_gpu_delegate(adb_server, loopback):
    device = loopback.one(spec=replace(load_spec("loopback-sm8450"), gpu=False))
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial,
                     "--delegate", "gpu", "--json", *SMALL)
    assert proc.returncode == 1, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "delegate-failed"
    assert "GPU acceleration is unsupported on this platform." in result["raw_log"]
    assert "Selected adapter" not in result["raw_log"]
    assert "gpu.adapter" not in result["device"]["properties"]


def test_a_farm_threshold_judges_the_real_delegates_decision(adb_server, loopback, tmp_path: Path):
    device = loopback.one()
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "servers": [adb_server.address], "devices": [device.serial], "delegates": ["gpu"],
        "models": [str(MODELS / "tiny_isp.tflite"), str(MODELS / "gpu_unsupported_op.tflite")],
        "runs": 2, "warmup": 1, "min_secs": 0, "input_shape": [1, 16, 16, 4],
        "thermal": {"cooldown_timeout_s": 0}, "lock_wait_s": 30, "thresholds": {"require_full_delegation": True}}))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VK_")}
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "farm", str(plan), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = {r.model.name: r for r in read_journal(out / "results.jsonl")}
    assert results["tiny_isp"].status == "ok" and results["tiny_isp"].delegation.full is True
    fallback = results["gpu_unsupported_op"]
    assert fallback.status == "delegate-fallback"
    assert (fallback.delegation.nodes_delegated, fallback.delegation.nodes_total) == (4, 7)
    assert "1 passed, 1 failed" in (out / "summary.md").read_text()
