"""The parsed form of one benchmark_model run: frozen values, checked when built, None where the log is silent."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

STATUSES = ("ok", "failed", "crashed", "truncated", "unparsed")
VERDICTS = ("full", "partial", "none")

# The keys of ParsedRun.to_dict(), in order: the stable, JSON-facing part of a parsed run.
REPORT_KEYS = (
    "status",
    "init_us",
    "first_us",
    "warmup_avg_us",
    "inference_avg_us",
    "count",
    "std_us",
    "min_us",
    "max_us",
    "p5_us",
    "median_us",
    "p95_us",
    "nodes_delegated",
    "nodes_total",
    "delegate_failed",
    "delegate_names",
    "memory_init_mb",
    "memory_overall_mb",
    "peak_mb",
)

_DURATIONS = ("init_us", "first_us", "warmup_avg_us", "inference_avg_us", "std_us", "min_us", "max_us",
              "p5_us", "median_us", "p95_us")
_COUNTS = ("count", "warmup_count", "nodes_delegated", "nodes_total", "delegate_kernels", "num_threads")


def _check_count(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")


def _check_real(name: str, value: Any, *, signed: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    if not signed and value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")


def _check_strings(name: str, value: Any) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a tuple of str, got {value!r}")


@dataclass(frozen=True)
class DelegateApplication:
    """One "Replacing N out of M node(s) with delegate (NAME) ..." line, or the Hexagon wording of it."""

    name: str
    nodes_replaced: int
    nodes_total: int | None  # None for the older "Replacing N node(s)" wording
    partitions: int | None
    subgraph: int | None  # None for "the whole graph" or when the line does not say

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"delegate name must be a non-empty str, got {self.name!r}")
        for name in ("nodes_replaced", "nodes_total", "partitions", "subgraph"):
            _check_count(name, getattr(self, name))
        if self.nodes_replaced is None:
            raise ValueError("nodes_replaced is required")
        if self.nodes_total is not None and self.nodes_replaced > self.nodes_total:
            raise ValueError(f"{self.nodes_replaced} nodes replaced out of only {self.nodes_total}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class OpProfileRow:
    """One row of the op profiler's "Summary by node type" table for the timed runs."""

    node_type: str
    count: int
    avg_ms: float
    percent: float
    cdf_percent: float
    mem_kb: float | None
    times_called: int | None

    def __post_init__(self) -> None:
        if not isinstance(self.node_type, str) or not self.node_type:
            raise ValueError(f"node_type must be a non-empty str, got {self.node_type!r}")
        _check_count("count", self.count)
        _check_count("times_called", self.times_called)
        for name in ("avg_ms", "percent", "cdf_percent", "mem_kb"):
            _check_real(name, getattr(self, name))
        if self.count is None or self.avg_ms is None or self.percent is None or self.cdf_percent is None:
            raise ValueError("count, avg_ms, percent and cdf_percent are required")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ParsedRun:
    """What one benchmark_model log says about its run. Durations in microseconds, memory in MB.

    `status`: "ok" (summary present and complete), "failed" ("Benchmarking failed", or errors and no
    timings), "crashed" (a crash marker), "truncated" (benchmark output that stops before a complete
    summary, or a fragment without one), "unparsed" (nothing recognisable).
    """

    status: str
    init_us: float | None = None
    first_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    count: int | None = None
    std_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    p5_us: float | None = None
    median_us: float | None = None
    p95_us: float | None = None
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    delegate_failed: bool = False
    delegate_names: tuple[str, ...] = ()
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    peak_mb: float | None = None
    # Beyond the report keys: detail later stages use, never part of to_dict().
    warmup_count: int | None = None
    delegates_applied: tuple[DelegateApplication, ...] = ()
    fallback_verdict: str | None = None
    delegate_kernels: int | None = None
    unsupported_ops: tuple[str, ...] = ()
    failure_reasons: tuple[str, ...] = ()
    op_profile: tuple[OpProfileRow, ...] = ()
    units_note: str | None = None
    accelerators_available: tuple[str, ...] = ()
    # The delegates the failures are about ("gpu", "nnapi", "hexagon", "xnnpack"; "" when a failure names none).
    failed_delegates: tuple[str, ...] = ()
    # What the tool says about its own command line: the argv items it ignored ("Unconsumed cmdline flags"),
    # the --num_threads it echoed (None when it echoed none, or -1: the default), the delegates it echoed on/off.
    unconsumed_flags: tuple[str, ...] = ()
    num_threads: int | None = None
    delegates_enabled: tuple[str, ...] = ()
    delegates_disabled: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        for name in _DURATIONS:
            _check_real(name, getattr(self, name))
        for name in _COUNTS:
            _check_count(name, getattr(self, name))
        # A footprint *delta* can go below zero when the tool frees memory; the peak cannot.
        _check_real("memory_init_mb", self.memory_init_mb, signed=True)
        _check_real("memory_overall_mb", self.memory_overall_mb, signed=True)
        _check_real("peak_mb", self.peak_mb)
        if not isinstance(self.delegate_failed, bool):
            raise ValueError(f"delegate_failed must be a bool, got {self.delegate_failed!r}")
        if (self.nodes_delegated is not None and self.nodes_total is not None
                and self.nodes_delegated > self.nodes_total):
            raise ValueError(f"{self.nodes_delegated} nodes delegated out of only {self.nodes_total}")
        if self.fallback_verdict is not None and self.fallback_verdict not in VERDICTS:
            raise ValueError(f"fallback_verdict must be one of {VERDICTS} or None, got {self.fallback_verdict!r}")
        for name in ("delegate_names", "unsupported_ops", "failure_reasons", "accelerators_available",
                     "failed_delegates", "unconsumed_flags", "delegates_enabled", "delegates_disabled"):
            _check_strings(name, getattr(self, name))
        if not all(isinstance(item, DelegateApplication) for item in self.delegates_applied):
            raise ValueError("delegates_applied must hold DelegateApplication values")
        if not all(isinstance(item, OpProfileRow) for item in self.op_profile):
            raise ValueError("op_profile must hold OpProfileRow values")
        if self.units_note is not None and not isinstance(self.units_note, str):
            raise ValueError(f"units_note must be a str or None, got {self.units_note!r}")

    def to_dict(self) -> dict[str, Any]:
        """Exactly the REPORT_KEYS, JSON-ready: tuples become lists, absent values stay None."""
        out = {}
        for key in REPORT_KEYS:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        return out
