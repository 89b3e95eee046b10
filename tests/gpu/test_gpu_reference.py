"""A reference model end to end on LiteRT's GPU accelerator at Full HD (the challenge's MicroISP 1.0 baseline),
on SwiftShader: slow (seconds per run on 2 cores), so one run after one warm-up. The accelerator's decision for
all three reference models is asserted by tests/model/test_check_gpu_accelerator.py (compile only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "mai_bench" / "reference_models"


def test_microisp_1_0_runs_whole_on_the_gpu_at_full_hd_within_fp32_error_of_the_cpu():
    env = {k: v for k, v in os.environ.items() if not k.startswith("VK_")}
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "run", str(REFERENCE / "microisp_1_0.tflite"),
                           "--device", "local", "--delegate", "gpu", "--runs", "1", "--warmup", "1", "--min-secs", "0",
                           "--threads", "2", "--json"], capture_output=True, text=True, timeout=280, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "ok"
    assert result["model"]["input_shape"] == [1, 544, 960, 4] and result["model"]["output_shape"] == [1, 1088, 1920, 3]
    d = result["delegation"]
    assert d["full"] is True and d["nodes_delegated"] == d["nodes_total"] == 298
    assert result["latency_ms"]["count"] == 1 and result["latency_ms"]["first"] > 0
    assert result["device"]["properties"]["gpu.software"] == "true"
    error = result["extra"]["gpu_vs_cpu"]
    assert error["elements"] == 1088 * 1920 * 3 and error["max_abs_error"] < 1e-4
