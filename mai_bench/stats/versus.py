"""`run --with-baselines`: the candidate against the reference models measured on the same device, delegate
and binary, interleaved (A B A B ...), as runtime ratios with intervals; and, for a device that is not the
challenge's SM8450 GPU, the projected SM8450 GPU runtime = ratio x the published MicroISP 1.0 runtime, an
estimate with its interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from mai_bench.results.schema import Result
from mai_bench.stats.compare import ratio
from mai_bench.stats.summary import summarize

CHALLENGE_PROFILE = "sm8450"
CHALLENGE_DELEGATE = "gpu"
PUBLISHED_SM8450_GPU_MS = {"microisp_1_0": 23.1, "microisp_0_5": 15.6, "pynet_v2_mobile": 194.0}
PUBLISHED_SOURCE = "Mobile AI 2022 Learned Smartphone ISP challenge report, Table 1 (SM8450, TFLite GPU delegate)"


@dataclass(frozen=True)
class Versus:
    """The candidate's rounds against one baseline's rounds on the same device and delegate."""

    candidate: str
    baseline: str
    device: str
    delegate: str
    candidate_ms: float | None
    baseline_ms: float | None
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    method: str | None
    projected_sm8450_gpu_ms: tuple[float, float | None, float | None] | None  # estimate, low, high
    note: str

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.projected_sm8450_gpu_ms is not None:
            value, low, high = self.projected_sm8450_gpu_ms
            data["projected_sm8450_gpu_ms"] = {"estimate": value, "low": low, "high": high,
                                               "anchor": f"{PUBLISHED_SM8450_GPU_MS[self.baseline]} ms "
                                                         f"({PUBLISHED_SOURCE})"}
        return data


def on_challenge_platform(result: Result) -> bool:
    return (result.device.profile == CHALLENGE_PROFILE and not result.device.emulated
            and result.delegate == CHALLENGE_DELEGATE)


def versus(candidate: Sequence[Result], baselines: dict[str, Sequence[Result]]) -> tuple[Versus, ...]:
    """The candidate's rounds against each baseline's rounds (all from one device and delegate)."""
    first = candidate[0]
    mine = summarize(candidate)
    rows = []
    for key, rounds in baselines.items():
        theirs = summarize(rounds)
        r = ratio(theirs, mine)  # candidate / baseline: above 1, the candidate is slower
        projected, note = None, "measured on the challenge's platform: no projection needed"
        if not on_challenge_platform(first) and r is not None and key in PUBLISHED_SM8450_GPU_MS:
            anchor = PUBLISHED_SM8450_GPU_MS[key]
            projected = (r.value * anchor, None if r.low is None else r.low * anchor,
                         None if r.high is None else r.high * anchor)
            note = ("estimate: assumes the candidate/baseline ratio on this device holds on an SM8450 GPU; "
                    "a CPU or emulated device can rank ops very differently from a phone GPU")
        elif r is None:
            note = "no ratio: one side has no measured round"
        rows.append(Versus(candidate=first.model.name, baseline=key, device=first.device.serial,
                           delegate=first.delegate, candidate_ms=mine.center_ms, baseline_ms=theirs.center_ms,
                           ratio=None if r is None else r.value, ratio_low=None if r is None else r.low,
                           ratio_high=None if r is None else r.high, method=None if r is None else r.method,
                           projected_sm8450_gpu_ms=projected, note=note))
    return tuple(rows)
