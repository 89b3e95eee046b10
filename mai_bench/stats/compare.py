"""Compare two sets of results the way asv does: pair the configurations, give each pair one outcome.

Pairing: configurations (see `config.py`) are matched by identity (model sha256, delegate, device, binary
sha256), same workload settings first; what is left is paired by model sha256 or name, and when exactly one
configuration is left on each side, those two; the rest stand alone. A pair whose identities differ is
"not comparable" and says which part differs; differing workload settings (threads, input shape...) are
compared but named in the pair's notes.

Outcomes, for B (new) against A (old):
- "new failure": A measured, B did not (any B round with a status other than ok); "fixed": the reverse;
- "slower" / "faster": both measured, their intervals do not overlap AND the ratio B/A exceeds 1 + threshold
  (slower) or is below 1 / (1 + threshold) (faster); threshold defaults to 5%. Without an interval on a
  side only the threshold decides, and the pair says so;
- "not significant": otherwise;
- "not comparable": different identities, a configuration on one side only, neither side measured, or a side
  whose binary ignored the delegate or precision flag (status flag-ignored).

The ratio's interval: with 2+ rounds on both sides, the 2.5th-97.5th percentile of median(B)/median(A) over
seeded bootstrap resamples of each side's rounds (independently: the rounds of A and B are not assumed to be
paired); otherwise the delta method on the log ratio, se = sqrt((se_A/A)^2 + (se_B/B)^2), exp(+-1.96 se).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mai_bench.results.schema import NOT_COMPARABLE_STATUSES, Result
from mai_bench.stats.config import ConfigKey, Identity, group_by_config, workload_differences
from mai_bench.stats.summary import (BOOTSTRAP, BOOTSTRAP_SEED, NO_INTERVAL, Z95, Summary, bootstrap_medians,
                                     summarize)

DEFAULT_THRESHOLD = 0.05

FASTER = "faster"
SLOWER = "slower"
NOT_SIGNIFICANT = "not significant"
NEW_FAILURE = "new failure"
FIXED = "fixed"
NOT_COMPARABLE = "not comparable"
OUTCOMES = (SLOWER, NEW_FAILURE, FASTER, FIXED, NOT_SIGNIFICANT, NOT_COMPARABLE)

DELTA_LOG = "delta-log"


@dataclass(frozen=True)
class Ratio:
    """B's centre over A's (above 1: B is slower), with its 95% interval when one can be made."""

    value: float
    low: float | None
    high: float | None
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "method": self.method}


def ratio(a: Summary, b: Summary) -> Ratio | None:
    """median(B) / median(A) with an interval (see the module docstring); None when a side has no centre."""
    if not a.center_ms or b.center_ms is None:
        return None
    value = b.center_ms / a.center_ms
    if a.method == BOOTSTRAP and b.method == BOOTSTRAP:
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        ratios = (bootstrap_medians(np.asarray(b.samples_ms), rng) / bootstrap_medians(np.asarray(a.samples_ms), rng))
        low, high = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
        return Ratio(value, min(low, value), max(high, value), BOOTSTRAP)
    if a.se_ms is None or b.se_ms is None or not b.center_ms:
        return Ratio(value, None, None, NO_INTERVAL)
    se_log = math.hypot(a.se_ms / a.center_ms, b.se_ms / b.center_ms)
    return Ratio(value, value * math.exp(-Z95 * se_log), value * math.exp(Z95 * se_log), DELTA_LOG)


@dataclass(frozen=True)
class Side:
    """One side of a pair: its configuration's identity, rounds' statuses and summary."""

    identity: Identity
    statuses: tuple[str, ...]
    summary: Summary

    @property
    def failed(self) -> bool:
        return any(s != "ok" for s in self.statuses)

    def to_dict(self) -> dict[str, Any]:
        i = self.identity
        return {"model": i.model_name, "model_sha256": i.model_sha256, "delegate": i.delegate, "device": i.device,
                "binary_sha256": i.binary_sha256, "statuses": list(self.statuses), "summary": self.summary.to_dict()}


@dataclass(frozen=True)
class Pair:
    outcome: str
    a: Side | None
    b: Side | None
    ratio: Ratio | None
    reasons: tuple[str, ...] = ()  # why not comparable, how the outcome was decided, what else differs

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.a is None and self.b is None:
            raise ValueError("a pair needs at least one side")

    @property
    def label(self) -> str:
        return (self.a or self.b).identity.label

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "label": self.label, "a": None if self.a is None else self.a.to_dict(),
                "b": None if self.b is None else self.b.to_dict(),
                "ratio": None if self.ratio is None else self.ratio.to_dict(), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Comparison:
    pairs: tuple[Pair, ...]
    threshold: float

    def counts(self) -> dict[str, int]:
        counts = Counter(p.outcome for p in self.pairs)
        return {outcome: counts[outcome] for outcome in OUTCOMES if counts[outcome]}

    def has(self, outcome: str) -> bool:
        return any(p.outcome == outcome for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "counts": self.counts(), "pairs": [p.to_dict() for p in self.pairs]}


def compare(a: Sequence[Result], b: Sequence[Result], threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Pair the configurations of `a` (old) and `b` (new) and classify each pair."""
    if not threshold >= 0:
        raise ValueError(f"threshold must be 0 or more, got {threshold}")
    groups_a, groups_b = group_by_config(a), group_by_config(b)
    pairs = [_classify(groups_a.get(ka), groups_b.get(kb), threshold) for ka, kb in _pair_keys(groups_a, groups_b)]
    order = {outcome: i for i, outcome in enumerate(OUTCOMES)}
    return Comparison(pairs=tuple(sorted(pairs, key=lambda p: order[p.outcome])), threshold=threshold)


def _pair_keys(groups_a: dict[ConfigKey, Any], groups_b: dict[ConfigKey, Any]):
    left_a, left_b = list(groups_a), list(groups_b)
    pairs: list[tuple[ConfigKey | None, ConfigKey | None]] = []

    def take(match) -> None:
        for ka in list(left_a):
            kb = next((k for k in left_b if match(ka, k)), None)
            if kb is not None:
                pairs.append((ka, kb))
                left_a.remove(ka)
                left_b.remove(kb)

    take(lambda x, y: x == y)
    take(lambda x, y: x.identity == y.identity)
    take(lambda x, y: x.identity.model_sha256 == y.identity.model_sha256
         or x.identity.model_name == y.identity.model_name)
    if len(left_a) == 1 and len(left_b) == 1:
        take(lambda x, y: True)
    pairs += [(ka, None) for ka in left_a] + [(None, kb) for kb in left_b]
    return pairs


def _side(rounds: list[Result] | None) -> Side | None:
    if not rounds:
        return None
    return Side(identity=Identity.of(rounds[0]), statuses=tuple(r.status for r in rounds), summary=summarize(rounds))


def _classify(rounds_a: list[Result] | None, rounds_b: list[Result] | None, threshold: float) -> Pair:
    a, b = _side(rounds_a), _side(rounds_b)
    if a is None or b is None:
        return Pair(NOT_COMPARABLE, a, b, None, ("only in A" if b is None else "only in B",))
    differences = a.identity.differences(b.identity)
    if differences:
        return Pair(NOT_COMPARABLE, a, b, None, differences)
    notes = []
    settings = workload_differences(rounds_a[0], rounds_b[0])
    if settings:
        notes.append("settings differ: " + "; ".join(settings))
    ignored = tuple(f"{name}: the binary ignored the delegate or precision flag ({_statuses(side)}), so it "
                    "measured another configuration" for name, side in (("A", a), ("B", b))
                    if set(side.statuses) & set(NOT_COMPARABLE_STATUSES))
    if ignored:
        return Pair(NOT_COMPARABLE, a, b, None, (*ignored, *notes))
    if a.failed and b.failed:
        return Pair(NOT_COMPARABLE, a, b, None, (f"neither side measured (A: {_statuses(a)}; B: {_statuses(b)})",
                                                 *notes))
    if b.failed:
        return Pair(NEW_FAILURE, a, b, None, (f"B: {_statuses(b)}", *notes))
    if a.failed:
        return Pair(FIXED, a, b, None, (f"A: {_statuses(a)}", *notes))
    r = ratio(a.summary, b.summary)
    if r is None:
        return Pair(NOT_COMPARABLE, a, b, None, ("a side has no latency to compare", *notes))
    if a.summary.rounds == 1 or b.summary.rounds == 1:
        notes.append("one round on a side: its interval covers the noise within that run only; compare several "
                     "results per side to cover run-to-run variation")
    beyond = r.value > 1 + threshold or r.value < 1 / (1 + threshold)
    if a.summary.has_interval and b.summary.has_interval:
        significant = beyond and not a.summary.overlaps(b.summary)
    else:
        significant = beyond
        notes.append("no interval on a side: decided by the threshold alone")
    outcome = (SLOWER if r.value > 1 else FASTER) if significant else NOT_SIGNIFICANT
    return Pair(outcome, a, b, r, tuple(notes))


def _statuses(side: Side) -> str:
    counts = Counter(side.statuses)
    return ", ".join(f"{status}" if n == 1 else f"{status} x{n}" for status, n in counts.items())
