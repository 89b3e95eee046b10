"""A 20% slowdown is "slower" and a second sample of the same work is "not significant", from result documents
with known latencies (tests/synthetic.py: a benchmark_model log per round, read by the real parser and result
builder), so no machine load can flip the outcome. Measuring a real slowdown with LiteRT on this machine is a
benchmark, not a test: bench/bench_compare.py (figures in bench/RESULTS.md).

The samples are what bench_compare.py measures, made reproducible: tiny_isp at 384x384 takes about 8 ms on one
thread, 384x464 does 1.21x the work; 5 interleaved rounds of 20 runs per configuration, each run with 5% noise
and each round with 2% drift (seeded).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mai_bench.results.schema import result_from_dict
from mai_bench.stats.compare import FASTER, NOT_SIGNIFICANT, SLOWER, compare
from synthetic import host_result

ROUNDS = 5
RUNS = 20
BASE_MS = 8.0
WORK = 464 / 384  # a 384x464 input against 384x384: a real 21% slowdown
RUN_NOISE = 0.05
ROUND_DRIFT = 0.02
SEED = 20250601


def configuration(rng: np.random.Generator, width: int, factor: float, rounds: int = ROUNDS,
                  drift: float = ROUND_DRIFT) -> list:
    results = []
    for i in range(rounds):
        scale = BASE_MS * factor * rng.normal(1.0, drift)
        runs = scale * rng.lognormal(0.0, RUN_NOISE, RUNS)
        results.append(host_result(list(runs), input_shape=(1, 384, width, 4),
                                   created=f"2025-06-01T09:{i:02d}:{width % 60:02d}+00:00"))
    return results


@pytest.fixture(scope="module")
def measured() -> tuple[list, list, list]:
    """base, same (a second draw of the base work) and big (1.21x the work), as the bench measures them."""
    rng = np.random.default_rng(SEED)
    return configuration(rng, 384, 1.0), configuration(rng, 384, 1.0), configuration(rng, 464, WORK)


def test_the_documents_carry_the_known_latencies(measured) -> None:
    base, _, big = measured
    assert all(r.status == "ok" for r in base + big)
    assert all(r.latency_ms.count == RUNS and r.settings["runs"] == RUNS for r in base + big)
    medians = [r.latency_ms.median for r in big]
    assert all(BASE_MS * WORK * 0.85 < m < BASE_MS * WORK * 1.15 for m in medians), medians
    restored = result_from_dict(json.loads(json.dumps(base[0].to_dict())))
    assert restored.to_dict() == base[0].to_dict()


def test_a_20_percent_slowdown_is_slower(measured) -> None:
    base, _, big = measured
    (pair,) = compare(base, big).pairs
    assert pair.outcome == SLOWER, pair.to_dict()
    assert 1.1 <= pair.ratio.value <= 1.35 and pair.ratio.low > 1.0
    assert pair.a.summary.method == "bootstrap-rounds" and pair.a.summary.rounds == ROUNDS
    assert any("input_shape [1,384,384,4] vs [1,384,464,4]" in reason for reason in pair.reasons)
    (back,) = compare(big, base).pairs
    assert back.outcome == FASTER


def test_a_second_sample_of_the_same_work_is_not_significant(measured) -> None:
    base, same, _ = measured
    (pair,) = compare(base, same).pairs
    assert pair.outcome == NOT_SIGNIFICANT, pair.to_dict()
    assert 0.95 < pair.ratio.value < 1.05


def test_rounds_that_disagree_make_no_claim() -> None:
    """Round-to-round drift as large as the change (a machine whose load comes and goes between rounds): the
    intervals overlap and the outcome is "not significant", never a guess."""
    rng = np.random.default_rng(SEED)
    noisy = dict(rounds=3, drift=0.25)
    pair = compare(configuration(rng, 384, 1.0, **noisy), configuration(rng, 464, WORK, **noisy)).pairs[0]
    assert pair.a.summary.overlaps(pair.b.summary)
    assert pair.outcome == NOT_SIGNIFICANT, pair.to_dict()


def test_compare_command_exit_code(measured, tmp_path: Path) -> None:
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
    assert "not significant" in same.stdout
