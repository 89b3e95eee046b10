"""Under which name a result's latency numbers may be shown: a delegate's name only when that delegate produced
them. A requested GPU, NNAPI or Hexagon delegate that took nothing leaves CPU numbers, one that took part of the
graph leaves numbers the CPU had a hand in: both are shown as "CPU fallback", never as the delegate's."""

from __future__ import annotations

from mai_bench.plan import ACCELERATORS
from mai_bench.results.schema import Result

CPU_FALLBACK = "CPU fallback"


def timings_label(result: Result) -> str:
    """The delegate's name when its numbers are its own; "CPU fallback (gpu failed)" when the requested
    accelerator ran nothing, "CPU fallback (gpu partial)" when it left part of the graph to the CPU."""
    delegate = result.delegate
    if delegate not in ACCELERATORS:
        return delegate
    if result.delegation.failed or result.status == "delegate-failed":
        return f"{CPU_FALLBACK} ({delegate} failed)"
    if result.delegation.fallback or result.status == "delegate-fallback":
        return f"{CPU_FALLBACK} ({delegate} partial)"
    return delegate


def is_cpu_fallback(result: Result) -> bool:
    return timings_label(result) != result.delegate
