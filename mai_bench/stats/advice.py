"""Warnings about a measurement, each with the remedy that addresses it (as pyperf does)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from mai_bench.results.schema import Result

SPREAD_LIMIT = 0.10  # std above this fraction of the mean: the runs disagree
FIRST_RUN_FACTOR = 1.5  # first run above this multiple of the median: warm-up effects
ROUNDS_SPREAD_LIMIT = 0.10  # rounds' centres spanning more than this fraction of their median

HIGH_SPREAD = "high-spread"
SLOW_FIRST_RUN = "slow-first-run"
THERMAL = "thermal-limit"
THERMAL_START = "thermal-start"
ROUNDS_DISAGREE = "rounds-disagree"
FAILED_ROUNDS = "failed-rounds"


@dataclass(frozen=True)
class Advice:
    """`message` says what is off with the numbers, `fix` what to do about it."""

    kind: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "fix": self.fix}


def result_advice(result: Result) -> tuple[Advice, ...]:
    """Warnings one result's own numbers support: spread, first run, temperature."""
    lat = result.latency_ms
    out = []
    if lat.std is not None and lat.avg and lat.std > SPREAD_LIMIT * lat.avg:
        out.append(Advice(HIGH_SPREAD, f"the runs' std {lat.std:.3g} ms is {lat.std / lat.avg:.0%} of their mean "
                                       f"{lat.avg:.3g} ms (over {SPREAD_LIMIT:.0%})",
                          "close background apps, raise --warmup, or lock the clocks"))
    typical = lat.median if lat.median is not None else lat.avg
    if lat.first is not None and typical and lat.first > FIRST_RUN_FACTOR * typical:
        out.append(Advice(SLOW_FIRST_RUN, f"the first run took {lat.first:.3g} ms, {lat.first / typical:.1f}x the "
                                          f"{'median' if lat.median is not None else 'mean'} {typical:.3g} ms",
                          "raise --warmup so the timed runs start after the warm-up effects"))
    out.extend(_thermal_advice(result.thermal or result.extra.get("thermal")))
    return tuple(out)


def _thermal_advice(record: Any) -> list[Advice]:
    """From a result's thermal record: the device runs' form (`hot_before` / `hot_after` phrases,
    `soc_after_c`, `limits_c`) or a plain `{"before", "after", "limit_c"}` with telemetry dicts or numbers.
    Anything else is not evidence either way."""
    if not isinstance(record, dict):
        return []
    out = []
    hot_before = record.get("hot_before")
    if isinstance(hot_before, list) and hot_before:
        waited = _number(record.get("waited_s"))
        after_wait = f" after waiting {waited:.0f} s" if waited is not None else ""
        out.append(Advice(THERMAL_START, f"the run started hot{after_wait}: {', '.join(map(str, hot_before))}",
                          "raise --cooldown-timeout so the device cools down before the run"))
    hot_after = record.get("hot_after")
    limits = record.get("limits_c") if isinstance(record.get("limits_c"), dict) else {}
    limit = _first(_number(record.get("limit_c")), _number(limits.get("soc")))
    before = _first(_number(record.get("soc_before_c")), _max_temp(record.get("before")))
    after = _first(_number(record.get("soc_after_c")), _max_temp(record.get("after")))
    if isinstance(hot_after, list) and hot_after:
        message = f"the device got hotter than its limit during the run: {', '.join(map(str, hot_after))}"
    elif limit is not None and after is not None and after > limit:
        start = f"from {before:.1f} " if before is not None else ""
        message = f"the device's temperature rose {start}to {after:.1f} C, past the limit {limit:.1f} C"
    else:
        return out
    out.append(Advice(THERMAL, message + ": it may have throttled during the timed runs",
                      "let the device cool down between runs (a longer --cooldown-timeout) or lower --runs"))
    return out


def _max_temp(reading: Any) -> float | None:
    if isinstance(reading, dict):
        if _number(reading.get("max_temp_c")) is not None:
            return _number(reading["max_temp_c"])
        zones = reading.get("thermal_c")
        if isinstance(zones, dict):
            values = [v for v in map(_number, zones.values()) if v is not None]
            return max(values) if values else None
        return None
    return _number(reading)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def rounds_advice(rounds: Sequence[Result], samples_ms: Sequence[float]) -> tuple[Advice, ...]:
    """Warnings about several rounds of one configuration: each round's own (merged by kind, counted), rounds
    that did not measure, and rounds whose centres disagree. A round that did not measure gives its thermal
    warnings only: its latency numbers are not the configuration's (a CPU fallback's, say), so nothing is said
    about them under the configuration's name."""
    out: list[Advice] = []
    by_kind: dict[str, list[Advice]] = {}
    for result in rounds:
        own = result_advice(result) if result.measured else _thermal_advice(result.thermal or
                                                                             result.extra.get("thermal"))
        for advice in own:
            by_kind.setdefault(advice.kind, []).append(advice)
    for kind, items in by_kind.items():
        first = items[0]
        suffix = f" (in {len(items)} of {len(rounds)} rounds; first shown)" if len(rounds) > 1 else ""
        out.append(Advice(kind, first.message + suffix, first.fix))
    failed = [r.status for r in rounds if not r.measured]
    if failed and len(rounds) > 1:
        out.append(Advice(FAILED_ROUNDS, f"{len(failed)} of {len(rounds)} rounds did not measure "
                                         f"({', '.join(sorted(set(failed)))}); the summary uses the others",
                          "see each result's status and raw log; re-run once the cause is fixed"))
    if len(samples_ms) >= 2:
        middle = sorted(samples_ms)[len(samples_ms) // 2]
        spread = (max(samples_ms) - min(samples_ms)) / middle if middle else 0.0
        if spread > ROUNDS_SPREAD_LIMIT:
            out.append(Advice(ROUNDS_DISAGREE, f"the rounds range from {min(samples_ms):.3g} to "
                                               f"{max(samples_ms):.3g} ms ({spread:.0%} of their median)",
                              "keep the device in one state between rounds: close background apps, let it cool "
                              "down, lock the clocks"))
    return tuple(out)
