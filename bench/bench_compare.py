"""`compare` on a real slowdown: tiny_isp measured with the host runner (real LiteRT, XNNPACK, one thread) at
384x384 and at 384x464, which does 1.21x the work: a real 21% slowdown made by work, not by threads (on this
shared 2-core machine two threads were slower than one under load). A second measurement of 384x384 is the
"identical" side.

Each trial measures 5 rounds of 20 runs per configuration, interleaved (base, same, big, base, ...), so load that
comes and goes hits each configuration alike. Goal: the slowdown is "slower" and the identical pair "not
significant" in every trial. The suite's test (tests/stats/test_stats_slowdown.py) classifies result documents
with these latencies built in, so no load can flip it; this script is where the classification meets a real
machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mai_bench.measure import measure_on_host
from mai_bench.plan import RunPlan
from mai_bench.stats.compare import NOT_SIGNIFICANT, SLOWER, compare

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp.tflite"
TRIALS = 3
ROUNDS = 5
WIDTHS = {"base": 384, "same": 384, "big": 464}


def plan(width: int) -> RunPlan:
    return RunPlan(input_shape=(1, 384, width, 4), threads=1, runs=20, warmup=2, min_secs=0)


def trial() -> dict[str, list]:
    measured: dict[str, list] = {name: [] for name in WIDTHS}
    for _ in range(ROUNDS):
        for name, width in WIDTHS.items():
            result = measure_on_host(MODEL, plan(width))
            if result.status != "ok":
                raise SystemExit(f"{name} run failed ({result.status}):\n{result.raw_log[-2000:]}")
            measured[name].append(result)
    return measured


def ratio_text(pair) -> str:
    r = pair.ratio
    return f"{r.value:.3f} ({r.low:.3f}-{r.high:.3f})" if r.low is not None else f"{r.value:.3f}"


def main() -> int:
    print("| trial | base median ms | big / base (95% CI) | outcome | same / base (95% CI) | outcome |")
    print("|---|---|---|---|---|---|")
    met = 0
    for i in range(1, TRIALS + 1):
        measured = trial()
        (slow,) = compare(measured["base"], measured["big"]).pairs
        (same,) = compare(measured["base"], measured["same"]).pairs
        met += slow.outcome == SLOWER and same.outcome == NOT_SIGNIFICANT
        print(f"| {i} | {slow.a.summary.center_ms:.3f} | {ratio_text(slow)} | {slow.outcome} | {ratio_text(same)} "
              f"| {same.outcome} |", flush=True)
    print(f"\ngoal: the 1.21x slowdown \"slower\" and the identical pair \"not significant\" in every trial -> "
          f"{met} of {TRIALS}, {'met' if met == TRIALS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
