"""The latency of one configuration: a centre (the median) with a 95% confidence interval, saying how it was made.

benchmark_model (and the host runner) print only aggregates per run: count, avg, std, min, max, p5, median, p95.
A configuration measured in several rounds (several results) therefore has one sample per round, and a single
round has only its stat line:

- `bootstrap-rounds` (2+ rounds): the samples are the rounds' medians (their means when a log printed no
  median); the centre is their median; the interval is the 2.5th-97.5th percentile of the median over
  BOOTSTRAP_RESAMPLES resamples of the rounds (seeded: the same input gives the same interval). It covers
  run-to-run variation; with few rounds it is optimistic, so collect 5 or more when it matters.
- `normal-median` (1 round with a median): median +- 1.96 * sqrt(pi/2) * std / sqrt(count), the large-sample
  standard error of a median (normal data). It covers only the noise within that one run.
- `normal-mean` (1 round without a median): avg +- 1.96 * std / sqrt(count).
- `none`: no interval (one timed run, no std, or nothing measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mai_bench.results.schema import Result
from mai_bench.stats.advice import Advice, rounds_advice
from mai_bench.stats.config import same_config

CONFIDENCE = 0.95
Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 2022

BOOTSTRAP = "bootstrap-rounds"
NORMAL_MEDIAN = "normal-median"
NORMAL_MEAN = "normal-mean"
NO_INTERVAL = "none"
METHODS = (BOOTSTRAP, NORMAL_MEDIAN, NORMAL_MEAN, NO_INTERVAL)


@dataclass(frozen=True)
class Summary:
    """Milliseconds. `statistic` is what each round contributed ("median" or "avg"); `se_ms` the standard error
    of the centre (None without an interval)."""

    rounds: int
    measured_rounds: int
    center_ms: float | None
    statistic: str | None
    ci_low_ms: float | None
    ci_high_ms: float | None
    se_ms: float | None
    method: str
    samples_ms: tuple[float, ...]
    warnings: tuple[Advice, ...] = ()
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown interval method {self.method!r}")
        if (self.ci_low_ms is None) != (self.ci_high_ms is None):
            raise ValueError("an interval needs both ends")
        if self.ci_low_ms is not None and not self.ci_low_ms <= self.center_ms <= self.ci_high_ms:
            raise ValueError(f"centre {self.center_ms} outside its interval [{self.ci_low_ms}, {self.ci_high_ms}]")
        if self.center_ms is None and self.method != NO_INTERVAL:
            raise ValueError("an interval needs a centre")

    @property
    def has_interval(self) -> bool:
        return self.ci_low_ms is not None

    def overlaps(self, other: "Summary") -> bool:
        """True when the two intervals share a point (or either has none)."""
        if not (self.has_interval and other.has_interval):
            return True
        return self.ci_low_ms <= other.ci_high_ms and other.ci_low_ms <= self.ci_high_ms

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "measured_rounds": self.measured_rounds, "center_ms": self.center_ms,
                "statistic": self.statistic, "ci_low_ms": self.ci_low_ms, "ci_high_ms": self.ci_high_ms,
                "confidence": self.confidence, "se_ms": self.se_ms, "method": self.method,
                "samples_ms": list(self.samples_ms), "warnings": [w.to_dict() for w in self.warnings]}


def round_value(result: Result, statistic: str) -> float | None:
    return getattr(result.latency_ms, statistic)


def summarize(results: Sequence[Result]) -> Summary:
    """Summarize the rounds (results) of one configuration; only rounds with status ok count as samples."""
    if not same_config(results):
        raise ValueError("summarize() takes results of one configuration; group them with group_by_config()")
    measured = [r for r in results if r.measured]
    if measured and all(r.latency_ms.median is not None for r in measured):
        statistic = "median"
    else:
        # A log without a median (older benchmark_model builds): every round contributes its mean instead.
        measured = [r for r in measured if r.latency_ms.avg is not None]
        statistic = "avg" if measured else None
    samples = tuple(round_value(r, statistic) for r in measured) if statistic else ()
    advice = rounds_advice(results, samples)
    base = dict(rounds=len(results), measured_rounds=len(samples), samples_ms=samples, warnings=advice)
    if not samples:
        return Summary(center_ms=None, statistic=None, ci_low_ms=None, ci_high_ms=None, se_ms=None,
                       method=NO_INTERVAL, **base)
    if len(samples) >= 2:
        center, low, high, se = bootstrap_median(samples)
        return Summary(center_ms=center, statistic=statistic, ci_low_ms=low, ci_high_ms=high, se_ms=se,
                       method=BOOTSTRAP, **base)
    return _one_round(measured[0], statistic, base)


def _one_round(result: Result, statistic: str, base: dict[str, Any]) -> Summary:
    lat = result.latency_ms
    center = round_value(result, statistic)
    if lat.std is None or lat.count is None or lat.count < 2:
        return Summary(center_ms=center, statistic=statistic, ci_low_ms=None, ci_high_ms=None, se_ms=None,
                       method=NO_INTERVAL, **base)
    factor = math.sqrt(math.pi / 2) if statistic == "median" else 1.0
    se = factor * lat.std / math.sqrt(lat.count)
    return Summary(center_ms=center, statistic=statistic, ci_low_ms=max(0.0, center - Z95 * se),
                   ci_high_ms=center + Z95 * se, se_ms=se,
                   method=NORMAL_MEDIAN if statistic == "median" else NORMAL_MEAN, **base)


def bootstrap_median(samples: Sequence[float]) -> tuple[float, float, float, float]:
    """(median, 2.5th percentile, 97.5th percentile, std) of the median over seeded bootstrap resamples."""
    data = np.asarray(samples, dtype=float)
    medians = bootstrap_medians(data, np.random.default_rng(BOOTSTRAP_SEED))
    center = float(np.median(data))
    low, high = (float(v) for v in np.percentile(medians, [2.5, 97.5]))
    return center, min(low, center), max(high, center), float(np.std(medians))


def bootstrap_medians(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(data), size=(BOOTSTRAP_RESAMPLES, len(data)))
    return np.median(data[picks], axis=1)
