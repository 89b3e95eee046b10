"""LiteRT's GPU accelerator on this host (issue 14): MicroISP 1.0 reference at Full HD.

1. `mai-bench check` wall time with the GPU probe (the accelerator compiles the model on this host's Vulkan
   device in a child process, beside the other checks); goal at most 3 s. Reference in the same run: the same
   check with --no-gpu-probe.
2. The GPU accelerator on SwiftShader (a software Vulkan device: this machine's CPU) against XNNPACK on the CPU,
   one `mai-bench run --delegate gpu,xnnpack` (2 threads), recorded with no goal: a software GPU's runtime says
   nothing about a phone's GPU.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "mai_bench" / "reference_models" / "microisp_1_0.tflite"
REPEAT = 5
RUNS = 3


def cli(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VK_")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=1800)
    return time.perf_counter() - start, proc


def main() -> None:
    with_probe, without, probe = [], [], []
    for _ in range(REPEAT):  # alternated, so load from other work falls on both
        seconds, proc = cli("check", str(MODEL), "--json")
        report = json.loads(proc.stdout)
        with_probe.append(seconds)
        probe.append(report["gpu_accelerator"]["seconds"])
        seconds, _ = cli("check", str(MODEL), "--json", "--no-gpu-probe")
        without.append(seconds)
    decision = report["gpu_accelerator"]["decision"]
    device = report["gpu_accelerator"]["vulkan"]["device"]
    median = statistics.median(with_probe)
    print(f"`check` on {MODEL.name}, median of {REPEAT} (GPU device: {device['name']}, "
          f"fully accelerated: {decision['fully_accelerated']})\n")
    print("| figure | seconds |\n|---|---|")
    print(f"| `mai-bench check` with the GPU probe | {median:.2f} |")
    print(f"| `mai-bench check --no-gpu-probe` (reference) | {statistics.median(without):.2f} |")
    print(f"| the probe's own time (child process: start, LiteRT, compile) | {statistics.median(probe):.2f} |")
    print(f"\ngoal: at most 3 s -> {'met' if median <= 3.0 else 'NOT met'}\n")

    seconds, proc = cli("run", str(MODEL), "--device", "local", "--delegate", "gpu,xnnpack", "--runs", str(RUNS),
                        "--warmup", "1", "--min-secs", "0", "--threads", "2", "--json")
    gpu, xnnpack = json.loads(proc.stdout)
    print(f"one `mai-bench run --delegate gpu,xnnpack`, {RUNS} timed runs after 1 warm-up, 2 threads "
          f"({seconds:.0f} s in all)\n")
    print("| delegate | status | init ms | first ms | median ms | min ms | max ms |\n|---|---|---|---|---|---|---|")
    for r in (gpu, xnnpack):
        lat = r["latency_ms"]
        name = (f"gpu ({r['device']['properties'].get('gpu.adapter')}, software)"
                if r["device"]["properties"].get("gpu.software") == "true" else r["delegate"])
        print(f"| {name} | {r['status']} | {lat['init']:.0f} | {lat['first']:.0f} | {lat['median']:.0f} | "
              f"{lat['min']:.0f} | {lat['max']:.0f} |")
    error = gpu["extra"].get("gpu_vs_cpu", {})
    print(f"\nsoftware GPU / XNNPACK median: {gpu['latency_ms']['median'] / xnnpack['latency_ms']['median']:.1f}x "
          f"(recorded, no goal); GPU output vs CPU FP32: max abs error {error.get('max_abs_error')}, "
          f"PSNR {error.get('psnr_db')} dB")


if __name__ == "__main__":
    main()
