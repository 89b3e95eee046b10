"""The host runner's reported average against a plain LiteRT `invoke()` loop on the same model and threads
(goal: ratio between 0.97 and 1.03): the runner adds nothing to what it measures.

Both run as separate processes, alternated A B A B so that drift and load hit both alike; the figure is the
ratio of the medians of their per-round averages.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "mai_bench" / "reference_models" / "microisp_1_0.tflite"
THREADS = 2
RUNS = 8
ROUNDS = 7

PLAIN = r"""
import sys, time
from ai_edge_litert.interpreter import Interpreter
import numpy as np
it = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]))
it.allocate_tensors()
inp = it.get_input_details()[0]
it.set_tensor(inp["index"], np.random.default_rng(0).uniform(-0.5, 0.5, inp["shape"]).astype(np.float32))
it.invoke()  # warm-up, as the runner's
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter_ns(); it.invoke(); times.append((time.perf_counter_ns() - t) / 1000)
print(sum(times) / len(times))
"""


def runner_avg() -> float:
    out = subprocess.run([sys.executable, "-m", "mai_bench.emulate.host_runner", f"--graph={MODEL}",
                          f"--num_threads={THREADS}", f"--num_runs={RUNS}", "--warmup_runs=1", "--min_secs=0",
                          "--warmup_min_secs=0"], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Inference \(avg\): ([0-9.e+]+)", out).group(1))


def plain_avg() -> float:
    out = subprocess.run([sys.executable, "-c", PLAIN, str(MODEL), str(THREADS), str(RUNS)], capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip())


def main() -> None:
    runner, plain = [], []
    for _ in range(ROUNDS):
        runner.append(runner_avg())
        plain.append(plain_avg())
    r, p = statistics.median(runner), statistics.median(plain)
    print(f"| figure ({MODEL.name}, {THREADS} threads, {ROUNDS} alternated rounds of {RUNS} runs) | ms |")
    print("|---|---|")
    print(f"| host runner, reported `Inference (avg)` (median of rounds) | {r / 1000:.1f} |")
    print(f"| plain `invoke()` loop, mean (median of rounds) | {p / 1000:.1f} |")
    print(f"\nratio runner / plain: {r / p:.3f} (goal 0.97 .. 1.03)")
    print(f"rounds runner: {[round(x / 1000, 1) for x in runner]}; plain: {[round(x / 1000, 1) for x in plain]}")


if __name__ == "__main__":
    main()
