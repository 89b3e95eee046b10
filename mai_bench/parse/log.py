"""benchmark_model output text -> ParsedRun. Total: any str gives a ParsedRun, never an exception."""

from __future__ import annotations

import re

from mai_bench.parse.delegates import Delegation, read_delegation
from mai_bench.parse.lines import Line, split_lines
from mai_bench.parse.memory import read_memory
from mai_bench.parse.op_profile import read_op_profile
from mai_bench.parse.params import read_params
from mai_bench.parse.run import ParsedRun
from mai_bench.parse.timings import LITERT_EXACT_NOTE, LITERT_UNITS_NOTE, Timings, read_timings

_START = "STARTING!"
_BENCHMARK_FAILED = re.compile(r"Benchmarking failed|No inference runs were performed")  # the latter: LiteRT
_CRASH = re.compile(
    r"Segmentation fault|Fatal signal [0-9]"
    # Shell reports ("Aborted", "bash: line 1: 4242 Aborted (core dumped) ./benchmark_model ..."): anchored,
    # so that an error message merely containing the word does not count.
    r"|(?:^|[0-9]\s+|:\s+)(?:Aborted|Bus error|Illegal instruction)\b"
)
_UNSUPPORTED_LISTING = re.compile(r"operations are not supported by|operations will run on the")
# Lines only benchmark_model (or the LiteRT runtime under it) prints, for telling a fragment from noise.
_TOOL_LINE = re.compile(
    r"Log parameter values verbosely|Graph: \[|Loaded model |Initialized TensorFlow Lite runtime"
    r"|Created TensorFlow Lite .{0,40}delegate|The input model file size|Profiling Info for"
    r"|BENCHMARK RESULTS|Tensorflow Version :|Use (?:gpu|nnapi|NNAPI|xnnpack|Hexagon) ?: \["
    r"|Unconsumed cmdline flags:"
)


def _first_known(*values):
    return next((value for value in values if value is not None), None)


def _last_run(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """A log holding several runs is read for its last one: text before the last STARTING! is older."""
    starts = [position for position, line in enumerate(lines) if line.text == _START]
    return lines[starts[-1]:] if starts else lines


def _status(lines: tuple[Line, ...], timings: Timings, delegation: Delegation, crash: list[Line],
            recognised: bool) -> str:
    if crash:
        return "crashed"
    if any(_BENCHMARK_FAILED.search(line.text) for line in lines):
        return "failed"
    if timings.summary is not None:
        return "ok" if timings.summary.complete else "truncated"
    if not recognised:
        return "unparsed"  # an "ERROR:" line in text that is not benchmark output decides nothing
    errors = delegation.error_lines or any(line.level in ("ERROR", "FATAL")
                                           and not _UNSUPPORTED_LISTING.search(line.text) for line in lines)
    return "failed" if errors and not timings.started else "truncated"


def _failure_reasons(lines: tuple[Line, ...], status: str, delegation: Delegation,
                     crash: list[Line]) -> tuple[str, ...]:
    """The lines behind a failed/crashed status or a failed delegate, in log order, each once."""
    chosen = set(crash) | set(delegation.failure_lines)
    if status in ("failed", "crashed"):
        chosen |= {line for line in lines if _BENCHMARK_FAILED.search(line.text)
                   or (line.level in ("ERROR", "FATAL") and not _UNSUPPORTED_LISTING.search(line.text))}
    ordered = sorted((line for line in chosen if line.text), key=lambda line: line.index)
    return tuple(dict.fromkeys(line.text for line in ordered))


def parse_log(text: str) -> ParsedRun:
    """Parse the combined stdout+stderr of one benchmark_model (or benchmark_litert_model) run."""
    lines = _last_run(split_lines(text))
    timings = read_timings(lines)
    memory = read_memory(lines)
    delegation = read_delegation(lines)
    op_profile = read_op_profile(lines)
    crash = [line for line in lines if _CRASH.search(line.text)]
    recognised = bool(
        timings.started or timings.summary or delegation.applications or delegation.verdict
        or delegation.failure_lines or delegation.accelerators or op_profile
        or any(value is not None for value in (memory.init_mb, memory.overall_mb, memory.peak_mb))
        or any(line.text == _START or _TOOL_LINE.search(line.text) for line in lines)
    )
    status = _status(lines, timings, delegation, crash, recognised)

    params = read_params(lines)
    summary, timed, warmup = timings.summary, timings.timed, timings.warmup
    return ParsedRun(
        status=status,
        init_us=timings.init_us(),
        first_us=timings.first_us(),
        warmup_avg_us=timings.warmup_avg_us(),
        inference_avg_us=timings.inference_avg_us(),
        count=_first_known(timed and timed.count, summary and summary.count),
        std_us=_first_known(timed and timed.std, summary and summary.std),
        min_us=_first_known(timed and timed.min, summary and summary.min),
        max_us=_first_known(timed and timed.max, summary and summary.max),
        p5_us=timed and timed.p5,
        median_us=timed and timed.median,
        p95_us=timed and timed.p95,
        nodes_delegated=delegation.nodes_delegated,
        nodes_total=delegation.nodes_total,
        delegate_failed=delegation.failed,
        delegate_names=delegation.names,
        memory_init_mb=memory.init_mb,
        memory_overall_mb=memory.overall_mb,
        peak_mb=memory.peak_mb,
        warmup_count=_first_known(warmup and warmup.count, summary and summary.warmup_count),
        delegates_applied=delegation.applications,
        fallback_verdict=delegation.verdict,
        delegate_kernels=delegation.kernels,
        unsupported_ops=delegation.unsupported_ops,
        failure_reasons=_failure_reasons(lines, status, delegation, crash),
        op_profile=op_profile,
        units_note=None if summary is None or not summary.in_ms else LITERT_EXACT_NOTE if timed else LITERT_UNITS_NOTE,
        accelerators_available=delegation.accelerators,
        failed_delegates=delegation.failed_keys,
        unconsumed_flags=params.unconsumed,
        num_threads=params.num_threads if params.num_threads is not None and params.num_threads >= 1 else None,
        delegates_enabled=params.enabled,
        delegates_disabled=params.disabled,
    )
