"""A real slowdown, measured with the host runner (real LiteRT), is "slower"; two identical runs are "not
significant".

On this shared 2-core machine the slowdown is made by work, not by threads (two threads were slower than one
under load): a 384x464 input does 1.21x the work of 384x384, a real 20% slowdown. Rounds of 20 runs are
interleaved so load drift hits each configuration alike (3 trials of 3 under load: 1.20-1.21x, slower each time;
the identical pair 0.98-1.0x, not significant).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.measure import measure_on_host
from mai_bench.plan import RunPlan
from mai_bench.stats.compare import NOT_SIGNIFICANT, SLOWER, compare

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "tiny_isp.tflite"
ROUNDS = 5


def plan(width: int) -> RunPlan:
    return RunPlan(input_shape=(1, 384, width, 4), threads=1, runs=20, warmup=2, min_secs=0)


@pytest.fixture(scope="module")
def measured():
    base, same, big = [], [], []
    for _ in range(ROUNDS):
        base.append(measure_on_host(MODEL, plan(384)))
        same.append(measure_on_host(MODEL, plan(384)))
        big.append(measure_on_host(MODEL, plan(464)))
    for result in base + same + big:
        assert result.status == "ok", result.raw_log[-2000:]
    return base, same, big


def test_real_slowdown_is_slower(measured) -> None:
    base, _, big = measured
    (pair,) = compare(base, big).pairs
    assert pair.outcome == SLOWER, pair.to_dict()
    assert 1.1 <= pair.ratio.value <= 1.35 and pair.ratio.low > 1.0
    assert pair.a.summary.method == "bootstrap-rounds" and pair.a.summary.rounds == ROUNDS
    assert any("input_shape [1,384,384,4] vs [1,384,464,4]" in reason for reason in pair.reasons)


def test_identical_runs_are_not_significant(measured) -> None:
    base, same, _ = measured
    (pair,) = compare(base, same).pairs
    assert pair.outcome == NOT_SIGNIFICANT, pair.to_dict()


def test_compare_command_exit_code_on_real_results(measured, tmp_path: Path) -> None:
    files = {}
    for name, results in zip(("base", "same", "big"), measured):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps([r.to_dict() for r in results]))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "compare", *args, "--fail-on", "slower"],
                              capture_output=True, text=True, timeout=120)

    slower = run(str(files["base"]), str(files["big"]))
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "slower" in slower.stdout
    same = run(str(files["base"]), str(files["same"]))
    assert same.returncode == 0, same.stdout + same.stderr
