"""The challenge's Final Score and where a score would place in Table 1.

Final Score = 2^(2*PSNR) / (C * runtime_ms) with C = 2^40: this C reproduces every printed score of Table 1.
The runtime is the SM8450 GPU's; a score from any other runtime is a number, not a challenge result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mai_bench.baselines import Entry, table1
from mai_bench.errors import UsageError

C = 2.0 ** 40
FORMULA = "2^(2*PSNR) / (2^40 * runtime_ms)"
PSNR_RANGE_DB = (0.0, 100.0)  # beyond it a PSNR is a mistake (and 2^(2*PSNR) soon overflows a float)


def plausible_psnr(psnr: float) -> bool:
    return isinstance(psnr, (int, float)) and math.isfinite(psnr) and PSNR_RANGE_DB[0] < psnr < PSNR_RANGE_DB[1]


def challenge_score(psnr: float, runtime_ms: float) -> float:
    """The Final Score of a model with `psnr` (dB) running in `runtime_ms` milliseconds."""
    return 2.0 ** (2.0 * psnr) / (C * runtime_ms)


def equal_score_psnr(score: float, runtime_ms: float) -> float:
    """The PSNR a model running in `runtime_ms` needs to reach `score` (lines of equal score)."""
    return (math.log2(score * C * runtime_ms)) / 2.0


@dataclass(frozen=True)
class Placement:
    """A score and its rank among Table 1's 15 entries (1 = best; `of` counts them plus this one)."""

    psnr: float
    runtime_ms: float
    score: float
    rank: int
    of: int
    above: Entry | None  # the entry just ahead, None when first
    below: Entry | None  # the entry just behind, None when last

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "rank": self.rank, "of": self.of, "psnr": self.psnr,
                "runtime_ms": self.runtime_ms, "formula": FORMULA,
                "above": None if self.above is None else self.above.to_dict(),
                "below": None if self.below is None else self.below.to_dict(),
                "note": "ranked among Table 1 of the Mobile AI 2022 Learned Smartphone ISP challenge (SM8450 GPU); "
                        "meaningful only for a runtime measured on that platform"}


def place(psnr: float, runtime_ms: float) -> Placement:
    """Score `psnr` at `runtime_ms` and rank it among Table 1's entries, each scored from its own PSNR and GPU
    runtime with the same formula (a tie ranks ahead of the entry)."""
    if not plausible_psnr(psnr):
        raise UsageError(f"PSNR {psnr!r} dB is not a plausible value", "pass --psnr in dB, e.g. 23.87")
    if not (isinstance(runtime_ms, (int, float)) and math.isfinite(runtime_ms) and runtime_ms > 0):
        raise UsageError(f"runtime {runtime_ms!r} ms must be a positive number", "pass --runtime-ms, e.g. 23.1")
    score = challenge_score(psnr, runtime_ms)
    ranked = sorted(table1(), key=lambda e: challenge_score(e.psnr, e.gpu_ms), reverse=True)
    ahead = [e for e in ranked if challenge_score(e.psnr, e.gpu_ms) > score]
    behind = ranked[len(ahead):]
    return Placement(psnr=float(psnr), runtime_ms=float(runtime_ms), score=score, rank=len(ahead) + 1,
                     of=len(ranked) + 1, above=ahead[-1] if ahead else None, below=behind[0] if behind else None)
