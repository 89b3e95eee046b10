"""`--use_gpu=true` on the host runner and `mai-bench run --device local --delegate gpu`: LiteRT's real GPU
accelerator on this host's Vulkan device (SwiftShader here), its decisions in benchmark_model's phone format,
classified by the same parser as a phone's log, and its output against the CPU's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import classify
from mai_bench.session import RawRun

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
RUNNER = [sys.executable, "-m", "mai_bench.emulate.host_runner"]
SMALL = ["--input_layer=raw", "--input_layer_shape=1,64,64,4", "--num_runs=3", "--min_secs=0", "--warmup_runs=1",
         "--warmup_min_secs=0"]
RUN_SMALL = ["--input-shape", "1,64,64,4", "--runs", "3", "--warmup", "1", "--min-secs", "0"]
REPLACING = re.compile(r"VERBOSE: Replacing (\d+) out of (\d+) node\(s\) with delegate \(GPU WebGPU\) node, "
                       r"yielding (\d+) partitions for subgraph 0\.")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VK_", "MAI_BENCH_"))}
    env.update(extra)
    return env


def runner(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(RUNNER + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, env=env or _env())
    return proc.returncode, proc.stdout


def mai_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env=_env())


def test_the_runner_prints_the_accelerators_partial_decision_in_the_phone_format():
    code, log = runner(f"--graph={MODELS / 'gpu_unsupported_op.tflite'}", "--use_gpu=true", *SMALL)
    assert code == 0, log[-3000:]
    lines = log.splitlines()
    assert "INFO: Created TensorFlow Lite delegate for GPU." in lines and "INFO: GPU delegate created." in lines
    head = lines.index("ERROR: Following operations are not supported by GPU delegate:")
    assert lines[head + 1:head + 3] == ["LOCAL_RESPONSE_NORMALIZATION: Operation is not supported.",
                                       "4 operations will run on the GPU, and the remaining 3 operations will run "
                                       "on the CPU."]
    assert [m.groups() for m in map(REPLACING.fullmatch, lines) if m] == [("4", "7", "1")]
    assert ("INFO: Explicitly applied GPU delegate, and the model graph will be partially executed by the delegate "
            "w/ 1 delegate kernels.") in lines
    assert not any("registry.cc" in line or "compiler_plugin" in line for line in lines), "LiteRT's chatter is out"
    parsed = parse_log(log)
    assert parsed.status == "ok" and parsed.count == 3
    assert parsed.unsupported_ops == ("LOCAL_RESPONSE_NORMALIZATION",)
    status, delegation = classify(RunPlan(delegate="gpu"), parsed, RawRun((), log, code, 1.0))
    assert status == "delegate-fallback"
    assert (delegation.nodes_delegated, delegation.nodes_total, delegation.names) == (4, 7, ("GPU WebGPU",))


def test_require_full_delegation_refuses_the_partial_graph_before_timing():
    code, log = runner(f"--graph={MODELS / 'gpu_unsupported_op.tflite'}", "--use_gpu=true",
                       "--require_full_delegation=true", *SMALL)
    assert code == 1
    assert log.splitlines()[-2:] == ["ERROR: Disallowed CPU fallback detected.", "ERROR: Benchmarking failed."]
    assert "count=" not in log


def test_without_a_vulkan_device_the_gpu_delegate_is_not_applied(tmp_path: Path):
    missing = str(tmp_path / "no_icd.json")
    code, log = runner(f"--graph={MODELS / 'tiny_isp.tflite'}", "--use_gpu=true", *SMALL,
                       env=_env(VK_ICD_FILENAMES=missing, XDG_RUNTIME_DIR=str(tmp_path)))
    assert code == 1
    assert "No adapters found" in log  # the accelerator's own reason
    assert log.splitlines()[-2:] == ["ERROR: Failed to apply GPU delegate.", "ERROR: Benchmarking failed."]
    status, delegation = classify(RunPlan(delegate="gpu"), parse_log(log), RawRun((), log, code, 1.0))
    assert status == "delegate-failed" and delegation.failed
    assert any("No adapters found" in reason for reason in delegation.reasons)


def test_a_forced_opencl_backend_cannot_be_honoured():
    code, log = runner(f"--graph={MODELS / 'tiny_isp.tflite'}", "--use_gpu=true", "--gpu_backend=cl", *SMALL)
    assert code == 1 and "--gpu_backend=cl cannot be honoured" in log and "Failed to apply GPU delegate." in log


def test_run_local_gpu_full_graph_is_ok_software_labelled_and_compared_with_the_cpu():
    proc = mai_bench("run", str(MODELS / "tiny_isp.tflite"), "--device", "local", "--delegate", "gpu",
                     "--precision", "fp32", "--json", *RUN_SMALL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "ok"
    d = result["delegation"]
    assert d["full"] is True and (d["nodes_delegated"], d["nodes_total"]) == (12, 12)
    assert "--gpu_precision_loss_allowed=false" in result["argv"]
    assert result["latency_ms"]["count"] >= 3 and result["latency_ms"]["median"] > 0
    props = result["device"]["properties"]
    assert props["gpu.software"] == "true" and props["gpu.adapter_type"] == "CPU / Software"
    assert props["gpu.vulkan_icd"].endswith(".json")
    assert any("software GPU" in w and "never comparable" in w for w in result["warnings"])
    error = result["extra"]["gpu_vs_cpu"]
    assert error["precision"].startswith("fp32")
    assert 0 <= error["max_abs_error"] < 1e-4 and error["elements"] == 128 * 128 * 3
    assert error["psnr_db"] is None or error["psnr_db"] > 80


def test_run_local_gpu_partial_graph_is_a_fallback_with_the_accelerators_counts():
    refused = mai_bench("run", str(MODELS / "gpu_unsupported_op.tflite"), "--device", "local", "--delegate", "gpu",
                        "--json", *RUN_SMALL)
    assert refused.returncode == 1, refused.stderr[-3000:]
    result = json.loads(refused.stdout)
    assert result["status"] == "delegate-fallback" and result["latency_ms"]["count"] is None
    assert (result["delegation"]["nodes_delegated"], result["delegation"]["nodes_total"]) == (4, 7)
    allowed = mai_bench("run", str(MODELS / "gpu_unsupported_op.tflite"), "--device", "local", "--delegate", "gpu",
                        "--allow-fallback", "--json", *RUN_SMALL)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    timed = json.loads(allowed.stdout)
    assert timed["status"] == "delegate-fallback" and timed["latency_ms"]["count"] >= 3
    assert timed["extra"]["gpu_vs_cpu"]["max_abs_error"] < 1e-3


def test_fidelity_input_compares_the_gpu_output_with_the_cpu_fp32_output(tmp_path: Path):
    data = tmp_path / "data"
    assert mai_bench("data", "synth", str(data), "--count", "1", "--size", "128x128").returncode == 0
    (raw,) = sorted((data / "mediatek_raw").glob("*.png"))
    proc = mai_bench("run", str(MODELS / "tiny_isp.tflite"), "--device", "local", "--delegate", "gpu",
                     "--fidelity-input", str(raw), "--json", *RUN_SMALL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fidelity = json.loads(proc.stdout)["extra"]["fidelity"]
    assert fidelity["reference"] == "host LiteRT FP32" and fidelity["gpu_precision"].startswith("fp16 allowed")
    assert fidelity["max_abs_diff"] < 1e-3
    assert fidelity["psnr_vs_host"] is None or fidelity["psnr_vs_host"] > 60


def test_eval_on_the_gpu_scores_its_outputs_and_their_error_against_the_cpu(tmp_path: Path):
    data = tmp_path / "data"
    assert mai_bench("data", "synth", str(data), "--count", "2", "--size", "64x96").returncode == 0
    on_cpu = json.loads(mai_bench("eval", str(MODELS / "gpu_unsupported_op.tflite"), "--data", str(data),
                                  "--json").stdout)
    proc = mai_bench("eval", str(MODELS / "gpu_unsupported_op.tflite"), "--data", str(data), "--delegate", "gpu",
                     "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    on_gpu = json.loads(proc.stdout)
    assert on_gpu["delegate"] == "gpu" and "delegate" not in on_cpu
    gpu = on_gpu["gpu"]
    assert gpu["accelerator"]["unsupported"] == [{"op": "LOCAL_RESPONSE_NORMALIZATION",
                                                  "reason": "Operation is not supported."}]
    assert (gpu["accelerator"]["gpu_ops"], gpu["accelerator"]["cpu_ops"]) == (4, 3)
    assert [p["name"] for p in gpu["per_image"]] == [s["name"] for s in on_gpu["per_image"]]
    assert all(p["max_abs_error"] < 1e-3 for p in gpu["per_image"])
    # The CPU side of the comparison is the ordinary eval's output.
    assert np.allclose(gpu["cpu_mean_psnr"], on_cpu["mean_psnr"])
    assert abs(on_gpu["mean_psnr"] - on_cpu["mean_psnr"]) < 0.01
