"""Summaries, warnings and comparisons on results built from plain values (a 20% slowdown from result documents
with realistic latencies is in test_stats_slowdown.py; measured for real in bench/bench_compare.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.results.schema import (BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result,
                                      result_from_dict)
from mai_bench.stats import advice as advice_lib
from mai_bench.stats.compare import (FASTER, FIXED, NEW_FAILURE, NOT_COMPARABLE, NOT_SIGNIFICANT, SLOWER, compare,
                                     ratio)
from mai_bench.stats.config import group_by_config
from mai_bench.stats.summary import (BOOTSTRAP, NO_INTERVAL, NORMAL_MEAN, NORMAL_MEDIAN, Z95, summarize)

MODEL_SHA = "a" * 64
BINARY_SHA = "b" * 64


def make(median: float | None = 10.0, *, avg: float | None = None, std: float | None = 0.5, count: int | None = 50,
         first: float | None = None, status: str = "ok", model_sha: str = MODEL_SHA, name: str = "isp",
         delegate: str = "gpu", serial: str = "R5CT1", profile: str | None = "sm8450", binary_sha: str = BINARY_SHA,
         threads: int | None = None, created: str = "2025-01-01T00:00:00+00:00", thermal: dict | None = None,
         extra: dict | None = None, backend: str = "adb") -> Result:
    avg = median if avg is None and median is not None else avg
    return Result(
        status=status,
        model=ModelRef(path=f"/m/{name}.tflite", name=name, sha256=model_sha, size_bytes=1000,
                       input_shape=(1, 544, 960, 4), output_shape=(1, 1088, 1920, 3)),
        device=DeviceRef(serial=serial, backend=backend, soc="SM8450", profile=profile),
        delegate=delegate, settings={"threads": threads, "input_shape": [1, 544, 960, 4]}, argv=("benchmark_model",),
        binary=BinaryRef(name="benchmark_model", sha256=binary_sha),
        latency_ms=Latency(first=first, avg=avg, std=std, median=median, count=count,
                           min=None if median is None else median * 0.9, max=None if median is None else median * 1.2),
        memory_mb=Memory(), delegation=Delegation(requested=delegate), raw_log="", tool_version="0.1.0",
        created_at=created, thermal=thermal or {}, extra=extra or {})


def rounds(*medians: float, **kwargs) -> list[Result]:
    return [make(m, created=f"2025-01-01T00:00:{i:02d}+00:00", **kwargs) for i, m in enumerate(medians)]


# --- summaries ---------------------------------------------------------------------------------------------

def test_one_round_with_a_median_uses_the_median_standard_error() -> None:
    s = summarize([make(10.0, std=2.0, count=100)])
    se = math.sqrt(math.pi / 2) * 2.0 / 10.0
    assert (s.method, s.statistic, s.center_ms, s.rounds) == (NORMAL_MEDIAN, "median", 10.0, 1)
    assert s.se_ms == pytest.approx(se)
    assert (s.ci_low_ms, s.ci_high_ms) == pytest.approx((10.0 - Z95 * se, 10.0 + Z95 * se))


def test_one_round_without_a_median_uses_the_mean() -> None:
    s = summarize([make(None, avg=20.0, std=4.0, count=16)])
    assert (s.method, s.statistic, s.center_ms) == (NORMAL_MEAN, "avg", 20.0)
    assert (s.ci_low_ms, s.ci_high_ms) == pytest.approx((20.0 - Z95 * 1.0, 20.0 + Z95 * 1.0))


@pytest.mark.parametrize("std, count", [(None, 50), (1.0, 1), (1.0, None)])
def test_one_round_without_spread_has_no_interval(std, count) -> None:
    s = summarize([make(10.0, std=std, count=count)])
    assert s.method == NO_INTERVAL and s.center_ms == 10.0
    assert s.ci_low_ms is None and s.ci_high_ms is None and s.se_ms is None and not s.has_interval


def test_rounds_are_bootstrapped_and_reproducible() -> None:
    results = rounds(10.0, 11.0, 9.0, 10.5, 30.0)
    s = summarize(results)
    assert s.method == BOOTSTRAP and s.center_ms == 10.5 and s.samples_ms == (10.0, 11.0, 9.0, 10.5, 30.0)
    assert 9.0 <= s.ci_low_ms <= 10.5 <= s.ci_high_ms <= 30.0
    assert summarize(results) == s  # seeded: the same input gives the same interval
    assert any(w.kind == advice_lib.ROUNDS_DISAGREE for w in s.warnings)


def test_failed_rounds_are_not_samples_but_are_reported() -> None:
    results = rounds(10.0, 10.2) + [make(None, status="crashed", created="2025-01-01T00:01:00+00:00")]
    s = summarize(results)
    assert (s.rounds, s.measured_rounds, s.samples_ms) == (3, 2, (10.0, 10.2))
    failed = [w for w in s.warnings if w.kind == advice_lib.FAILED_ROUNDS]
    assert failed and "crashed" in failed[0].message and failed[0].fix


def test_nothing_measured_has_no_centre() -> None:
    s = summarize([make(None, avg=None, status="delegate-failed")])
    assert s.center_ms is None and s.method == NO_INTERVAL and s.measured_rounds == 0


def test_summarize_refuses_mixed_configurations() -> None:
    with pytest.raises(ValueError):
        summarize([make(10.0), make(10.0, delegate="nnapi")])


def test_group_by_config_keeps_rounds_together_and_sorted() -> None:
    late, early = make(10.0, created="2025-01-02T00:00:00+00:00"), make(11.0, created="2025-01-01T00:00:00+00:00")
    groups = group_by_config([late, make(5.0, threads=2), early])
    assert [len(v) for v in groups.values()] == [2, 1]
    assert list(groups.values())[0] == [early, late]


# --- warnings ----------------------------------------------------------------------------------------------

def kinds(result: Result) -> set[str]:
    return {a.kind for a in advice_lib.result_advice(result)}


def test_a_clean_result_has_no_warnings() -> None:
    assert kinds(make(10.0, std=0.5, first=12.0)) == set()


def test_high_spread_and_slow_first_run_each_carry_a_fix() -> None:
    found = advice_lib.result_advice(make(10.0, std=1.5, first=16.0))
    assert {a.kind for a in found} == {advice_lib.HIGH_SPREAD, advice_lib.SLOW_FIRST_RUN}
    by_kind = {a.kind: a for a in found}
    assert "--warmup" in by_kind[advice_lib.SLOW_FIRST_RUN].fix
    assert "background apps" in by_kind[advice_lib.HIGH_SPREAD].fix and "15%" in by_kind[advice_lib.HIGH_SPREAD].message


def test_thermal_record_of_a_device_run() -> None:
    record = {"limits_c": {"soc": 45.0, "battery": 40.0}, "waited_s": 180.0, "soc_before_c": 47.0,
              "soc_after_c": 52.5, "hot_before": ["CPU/GPU at 47.0 C (limit 45 C)"],
              "hot_after": ["CPU/GPU at 52.5 C (limit 45 C)"]}
    found = {a.kind: a for a in advice_lib.result_advice(make(10.0, thermal=record))}
    assert set(found) == {advice_lib.THERMAL, advice_lib.THERMAL_START}
    assert "52.5" in found[advice_lib.THERMAL].message and "cool" in found[advice_lib.THERMAL].fix
    start = found[advice_lib.THERMAL_START]
    assert "--cooldown-timeout" in start.fix and "180 s" in start.message


def test_thermal_before_after_limit_in_extra() -> None:
    hot = {"thermal": {"before": {"max_temp_c": 38.0}, "after": {"thermal_c": {"cpu": 41.0, "gpu": 47.5}},
                       "limit_c": 45.0}}
    found = advice_lib.result_advice(make(10.0, extra=hot))
    assert [a.kind for a in found] == [advice_lib.THERMAL]
    assert "38.0" in found[0].message and "47.5" in found[0].message
    cool = {"thermal": {"before": 38.0, "after": 44.0, "limit_c": 45.0}}
    assert kinds(make(10.0, extra=cool)) == set()
    assert kinds(make(10.0, extra={"thermal": "garbage"})) == set()


# --- comparisons -------------------------------------------------------------------------------------------

def only_pair(a: list[Result], b: list[Result], **kwargs):
    comparison = compare(a, b, **kwargs)
    assert len(comparison.pairs) == 1
    return comparison.pairs[0]


def test_identical_rounds_are_not_significant() -> None:
    pair = only_pair(rounds(10.0, 10.3, 9.8), rounds(10.0, 10.3, 9.8))
    assert pair.outcome == NOT_SIGNIFICANT and pair.ratio.value == 1.0 and pair.ratio.method == BOOTSTRAP


def test_clear_changes_are_slower_or_faster() -> None:
    old, new = rounds(10.0, 10.1, 9.9, 10.05), rounds(12.0, 12.1, 11.9, 12.05)
    slower = only_pair(old, new)
    assert slower.outcome == SLOWER and slower.ratio.value == pytest.approx(1.2, abs=0.01)
    assert slower.ratio.low > 1.0
    assert only_pair(new, old).outcome == FASTER


def test_separate_intervals_below_the_threshold_are_not_significant() -> None:
    pair = only_pair(rounds(10.0, 10.01, 10.02), rounds(10.3, 10.31, 10.32))  # +3%, intervals apart
    assert not pair.a.summary.overlaps(pair.b.summary)
    assert pair.outcome == NOT_SIGNIFICANT
    assert only_pair(rounds(10.0, 10.01, 10.02), rounds(10.3, 10.31, 10.32), threshold=0.01).outcome == SLOWER


def test_overlapping_intervals_are_not_significant_even_when_large() -> None:
    pair = only_pair(rounds(5.0, 10.0, 15.0), rounds(6.0, 12.0, 18.0))
    assert pair.ratio.value == pytest.approx(1.2) and pair.outcome == NOT_SIGNIFICANT


def test_one_round_each_uses_the_delta_method_and_says_so() -> None:
    pair = only_pair([make(10.0, std=0.5, count=100)], [make(12.0, std=0.5, count=100)])
    assert pair.outcome == SLOWER and pair.ratio.method == "delta-log"
    se_log = math.hypot(pair.a.summary.se_ms / 10.0, pair.b.summary.se_ms / 12.0)
    assert pair.ratio.low == pytest.approx(1.2 * math.exp(-Z95 * se_log))
    assert any("one round" in reason for reason in pair.reasons)


def test_without_intervals_the_threshold_decides() -> None:
    pair = only_pair([make(10.0, std=None)], [make(11.0, std=None)])
    assert pair.outcome == SLOWER and any("threshold alone" in r for r in pair.reasons)
    assert ratio(pair.a.summary, pair.b.summary).low is None


def test_new_failure_and_fixed() -> None:
    ok, failed = [make(10.0)], [make(None, avg=None, status="delegate-failed")]
    new_failure = only_pair(ok, failed)
    assert new_failure.outcome == NEW_FAILURE and "delegate-failed" in new_failure.reasons[0]
    assert only_pair(failed, ok).outcome == FIXED
    flaky = rounds(10.0, 10.1) + [make(None, status="crashed", created="2025-01-01T00:09:00+00:00")]
    assert only_pair(rounds(10.0, 10.1), flaky).outcome == NEW_FAILURE
    both = only_pair(failed, [make(None, avg=None, status="crashed")])
    assert both.outcome == NOT_COMPARABLE and "neither side measured" in both.reasons[0]


@pytest.mark.parametrize("change, expected", [
    ({"model_sha": "c" * 64}, "different model"),
    ({"delegate": "nnapi"}, "different delegate (gpu vs nnapi)"),
    ({"profile": "sm8550", "serial": "X"}, "different device (sm8450 vs sm8550)"),
    ({"binary_sha": "d" * 64}, "different benchmark binary"),
])
def test_not_comparable_says_which_part_differs(change, expected) -> None:
    pair = only_pair([make(10.0)], [make(10.0, **change)])
    assert pair.outcome == NOT_COMPARABLE and pair.ratio is None
    assert any(reason.startswith(expected) for reason in pair.reasons), pair.reasons


def test_unmatched_configurations_stand_alone() -> None:
    a = [make(10.0, name="one", model_sha="1" * 64), make(10.0, name="two", model_sha="2" * 64)]
    b = [make(10.0, name="one", model_sha="1" * 64), make(10.0, name="three", model_sha="3" * 64),
         make(10.0, name="four", model_sha="4" * 64)]
    comparison = compare(a, b)
    outcomes = sorted((p.label.split(" /")[0], p.outcome, p.reasons[:1]) for p in comparison.pairs)
    assert ("one", NOT_SIGNIFICANT) in [o[:2] for o in outcomes]
    assert ("two", NOT_COMPARABLE, ("only in A",)) in outcomes
    assert ("three", NOT_COMPARABLE, ("only in B",)) in outcomes
    assert ("four", NOT_COMPARABLE, ("only in B",)) in outcomes
    assert comparison.counts() == {NOT_SIGNIFICANT: 1, NOT_COMPARABLE: 3}


def test_workload_settings_pair_but_are_named() -> None:
    a = [make(10.0, threads=1), make(6.0, threads=2)]
    b = [make(10.0, threads=1), make(9.0, threads=4)]
    comparison = compare(a, b)
    changed = next(p for p in comparison.pairs if p.reasons and p.reasons[0].startswith("settings differ"))
    assert "threads 2 vs 4" in changed.reasons[0] and changed.outcome == SLOWER
    same = next(p for p in comparison.pairs if p is not changed)
    assert same.outcome == NOT_SIGNIFICANT and not any("settings" in r for r in same.reasons)


def test_comparison_to_dict_is_json() -> None:
    data = compare(rounds(10.0, 10.1), rounds(12.0, 12.2)).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["pairs"][0]["outcome"] == SLOWER and data["threshold"] == 0.05


# --- the compare command -----------------------------------------------------------------------------------

def write(path: Path, results: list[Result]) -> Path:
    path.write_text(json.dumps([r.to_dict() for r in results]))
    return path


def mai_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_compare_command_fail_on_slower(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", rounds(10.0, 10.1, 9.9))
    slow = write(tmp_path / "slow.json", rounds(12.0, 12.1, 11.9))
    same = write(tmp_path / "same.json", rounds(10.0, 10.1, 9.9))
    failing = mai_bench("compare", str(old), str(slow), "--fail-on", "slower", "--json")
    assert failing.returncode == 1, failing.stderr
    data = json.loads(failing.stdout)  # stdout stays pure JSON
    assert data["counts"] == {"slower": 1} and data["pairs"][0]["ratio"]["value"] == pytest.approx(1.2, abs=0.01)
    assert mai_bench("compare", str(old), str(slow)).returncode == 0  # no --fail-on: report only
    passing = mai_bench("compare", str(old), str(same), "--fail-on", "slower")
    assert passing.returncode == 0 and "not significant" in passing.stdout


def test_compare_command_fail_on_new_failure_and_bad_input(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", [make(10.0)])
    broken = write(tmp_path / "broken.json", [make(None, avg=None, status="delegate-failed")])
    proc = mai_bench("compare", str(old), str(broken), "--fail-on", "new-failure")
    assert proc.returncode == 1 and "new failure" in proc.stdout
    missing = mai_bench("compare", str(old), str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nope.json" in missing.stderr


def test_results_written_by_to_dict_load_back_equal() -> None:
    result = make(10.0, thermal={"hot_after": []})
    assert result_from_dict(json.loads(json.dumps(result.to_dict()))).to_dict() == result.to_dict()
