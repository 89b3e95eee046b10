"""From a raw run and its parsed log to one Result whose status nobody can misread.

A requested accelerator (GPU, NNAPI, Hexagon) that did not take the whole graph is never reported as
acceleration: the status says `delegate-fallback` (partial, with the counts) or `delegate-failed`.
"""

from __future__ import annotations

import re
from typing import Any

from mai_bench import __version__
from mai_bench.clock import utc_now
from mai_bench.challenge import FULL_HD_INPUT, FULL_HD_OUTPUT
from mai_bench.parse.delegates import delegate_key
from mai_bench.plan import ACCELERATORS, DEFAULT_CPU_THREADS, RunPlan
from mai_bench.results.flags import decisive_ignored, effective_threads, ignored_flag_warnings
from mai_bench.results.schema import BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result
from mai_bench.session import RawRun

# How each requested delegate names itself in benchmark_model's log ("TfLiteGpuDelegateV2", "GPU", ...).
_NAME_KEY = {"gpu": "gpu", "nnapi": "nnapi", "hexagon": "hexagon", "xnnpack": "xnnpack"}
# benchmark_model's words when --require_full_delegation=true refuses a delegate that left nodes to the CPU.
REFUSED = "Disallowed CPU fallback detected"
# The line android_runner/delegate_guard.sh adds when it stops a benchmark whose delegate fell back to the CPU.
GUARD_LINE = re.compile(r"mai-bench delegate guard: stopped benchmark_model at log line ([0-9]{1,9})")


def classify(plan: RunPlan, parsed: Any, raw: RawRun) -> tuple[str, Delegation]:
    """The result status and the delegation record of the requested delegate, from the parsed log."""
    return classify_run(plan.delegate, parsed, exit_code=raw.exit_code, timed_out=raw.timed_out)


def requested_delegate(parsed: Any) -> str | None:
    """The delegate a saved log's run asked for, as `mai-bench run --delegate` names it, when only the log is known:
    the accelerator its parameter echo turns on (`Use gpu: [1]`), else the accelerator its delegate lines name,
    else XNNPACK or the plain CPU as echoed, else None."""
    enabled = tuple(parsed.delegates_enabled)
    named = [delegate_key(name) for name in parsed.delegate_names]
    named += [delegate_key(a.name) for a in parsed.delegates_applied] + list(parsed.failed_delegates)
    for key in (*enabled, *named):
        if key in ACCELERATORS:
            return key
    if "xnnpack" in enabled:
        return "xnnpack"
    if "xnnpack" in parsed.delegates_disabled:
        return "cpu"
    return None


def classify_run(requested: str | None, parsed: Any, *, exit_code: int | None = None,
                 timed_out: bool = False) -> tuple[str, Delegation]:
    """The one classification of a parsed run, for `mai-bench run` (the delegate its plan asked for) and for
    `mai-bench parse` (the delegate the log says was asked for, None when it does not say)."""
    key = _NAME_KEY.get(requested or "")
    reasons = list(parsed.failure_reasons)
    if parsed.unsupported_ops:
        reasons.append("ops the delegate does not support: " + ", ".join(parsed.unsupported_ops))
    ignored = decisive_ignored(tuple(parsed.unconsumed_flags))
    if ignored:
        reasons.append("benchmark_model ignored " + ", ".join(ignored) + ": the run used another delegate or "
                       "precision than the one asked for")
    if key is None:  # plain CPU kernels, or a log that names no delegate: nothing is delegated on purpose
        delegation = Delegation(requested=requested or "unknown", names=tuple(parsed.delegate_names),
                                reasons=tuple(dict.fromkeys(reasons)))
        return _status(parsed, exit_code, timed_out, delegation, requested, bool(ignored)), delegation
    names = tuple(n for n in parsed.delegate_names if key in n.lower())
    # Subgraph 0 is the model's main graph; "Replacing" lines for control-flow subgraphs do not change its count.
    apps = [a for a in parsed.delegates_applied if key in a.name.lower() and a.subgraph in (0, None)]
    delegated = sum(a.nodes_replaced for a in apps) if apps else None
    total = next((a.nodes_total for a in apps if a.nodes_total is not None), None)
    verdict = parsed.fallback_verdict if names else None
    full = None
    if delegated is not None and total is not None:
        full = delegated >= total
    elif verdict is not None:
        full = verdict == "full"
    # A failure counts against the requested delegate when it names it, or names no delegate at all.
    failed = bool(set(parsed.failed_delegates) & {key, ""}) or verdict == "none" or delegated == 0
    refused = any(REFUSED in reason for reason in parsed.failure_reasons)
    if refused and set(parsed.failed_delegates) <= {""} and (verdict == "partial" or (
            delegated is not None and total is not None and 0 < delegated < total)):
        # The delegate took part of the graph and --require_full_delegation stopped the run: a fallback refused
        # before it was timed, not a delegate that failed.
        failed = False
    if requested in ACCELERATORS and not failed and not names:
        failed = True
        reasons.append(f"the log shows no sign that the {requested} delegate was applied; the run used the CPU")
    cpu = "was left to the CPU, which --require_full_delegation refused to run" if refused else "ran on the CPU"
    if delegated == 0 and total:
        reasons.append(f"the delegate took 0 of {total} nodes; the whole graph {cpu}")
    elif full is False and parsed.delegate_kernels is not None and delegated is None:
        reasons.append(f"the graph is only partly delegated ({parsed.delegate_kernels} delegate kernel(s)); "
                       f"the rest {cpu}")
    elif full is False and delegated is not None and total is not None:
        reasons.append(f"the delegate took {delegated} of {total} nodes; the rest {cpu}")
    delegation = Delegation(requested=requested, names=names, nodes_delegated=delegated, nodes_total=total,
                            full=full, fallback=failed or full is False, failed=failed,
                            reasons=tuple(dict.fromkeys(reasons)))
    return _status(parsed, exit_code, timed_out, delegation, requested, bool(ignored), refused), delegation


def _status(parsed: Any, exit_code: int | None, timed_out: bool, delegation: Delegation, requested: str | None,
            decisive_flag_ignored: bool, refused: bool = False) -> str:
    if timed_out:
        return "timeout"
    if decisive_flag_ignored:
        return "flag-ignored"  # whatever else happened, this is not the configuration asked for
    if requested in ACCELERATORS and delegation.failed:
        return "delegate-failed"
    if requested in ACCELERATORS and delegation.fallback and refused:
        return "delegate-fallback"  # the binary failed on purpose: it refused to time the CPU fallback
    if parsed.status in ("failed", "crashed"):
        return parsed.status
    if requested in ACCELERATORS and delegation.fallback:
        return "delegate-fallback"  # even from a truncated log: these numbers are not the accelerator's
    if parsed.status != "ok":
        return parsed.status
    if exit_code not in (0, None):
        return "failed"
    return "ok"


def latency_ms(parsed: Any) -> Latency:
    def ms(value: float | None) -> float | None:
        return None if value is None else value / 1000.0

    return Latency(init=ms(parsed.init_us), first=ms(parsed.first_us), warmup_avg=ms(parsed.warmup_avg_us),
                   avg=ms(parsed.inference_avg_us), std=ms(parsed.std_us), min=ms(parsed.min_us),
                   max=ms(parsed.max_us), median=ms(parsed.median_us), p5=ms(parsed.p5_us), p95=ms(parsed.p95_us),
                   count=parsed.count)


def delegate_stop(plan: RunPlan, parsed: Any, raw: RawRun) -> dict[str, str | None] | None:
    """Why a run of a requested accelerator ended before its timed runs, if it did so for falling back to the
    CPU: `by` (benchmark_model's --require_full_delegation, or mai-bench's delegate guard on the device for a
    build that went on regardless) and `line` (the log line that decided it). None otherwise."""
    if not plan.stops_on_fallback:
        return None
    lines = raw.output.split("\n")  # numbered as the guard's `read` numbers them: by newline only
    for text in lines:
        match = GUARD_LINE.search(text)
        if match:
            number = int(match.group(1))
            line = lines[number - 1].strip() if 0 < number <= len(lines) else None
            return {"by": "mai-bench's delegate guard", "line": line}
    refusal = next((reason for reason in parsed.failure_reasons if REFUSED in reason), None)
    if refusal is not None:
        return {"by": "benchmark_model --require_full_delegation", "line": refusal}
    return None


def _shape(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def build_result(*, plan: RunPlan, raw: RawRun, parsed: Any, model: ModelRef, device: DeviceRef,
                 binary: BinaryRef, extra: dict[str, Any] | None = None, warnings: tuple[str, ...] = (),
                 transfer: dict[str, Any] | None = None, thermal: dict[str, Any] | None = None) -> Result:
    status, delegation = classify(plan, parsed, raw)
    extra = dict(extra or {})
    if plan.delegate == "gpu":  # the adapter LiteRT's GPU accelerator says it selected (host and loopback)
        from mai_bench.gpu.labels import software_gpu, with_adapter

        device = with_adapter(device, raw.output)
        software = software_gpu(device)
        if software is not None:
            warnings = (*warnings, f"timed on a {software}: this machine's CPU emulating a GPU; never comparable "
                                   "with a phone's GPU")
    stop = delegate_stop(plan, parsed, raw)
    if stop is not None:
        extra["delegate_stop"] = stop
    if parsed.op_profile:
        extra["op_profile"] = [row.to_dict() for row in parsed.op_profile]
    notes = list(warnings)
    if stop is not None:
        notes.append(f"stopped before the timed runs by {stop['by']} ({stop['line'] or 'line not found'}): the "
                     f"{plan.delegate} delegate did not take the whole graph, so no CPU fallback was timed in its "
                     "place; pass --allow-fallback to time it anyway (reported as CPU fallback)")
    if tuple(model.input_shape or ()) == FULL_HD_INPUT and model.output_shape is not None \
            and tuple(model.output_shape) != FULL_HD_OUTPUT:
        notes.append(f"the model outputs {_shape(model.output_shape)} at the challenge's input, not "
                     f"{_shape(FULL_HD_OUTPUT)}: timed as it is, but not a valid submission (see `mai-bench check`)")
    if raw.timed_out:
        notes.append(f"the run exceeded its time limit after {raw.duration_s:.0f} s and was killed; "
                     "raise --max-secs or lower --runs")
    ignored = tuple(parsed.unconsumed_flags)
    notes.extend(ignored_flag_warnings(ignored))
    threads = effective_threads(plan.threads, parsed.num_threads, ignored)
    if plan.threads is None:
        notes.append(f"no --threads: benchmark_model ran the CPU kernels (XNNPACK's too) on its default of "
                     f"{DEFAULT_CPU_THREADS} thread; pass --threads N to use more")
    return Result(
        status=status, model=model, device=device, delegate=plan.delegate, settings=plan.to_dict(),
        argv=raw.argv, binary=binary, latency_ms=latency_ms(parsed),
        memory_mb=Memory(init=parsed.memory_init_mb, overall=parsed.memory_overall_mb, peak=parsed.peak_mb),
        delegation=delegation, raw_log=raw.output, tool_version=__version__,
        created_at=utc_now(), exit_code=raw.exit_code, duration_s=round(raw.duration_s, 3), warnings=tuple(notes),
        threads=threads, ignored_flags=ignored, transfer=transfer or {}, thermal=thermal or {}, extra=extra,
    )


def infra_result(*, plan: RunPlan, error: Exception, model: ModelRef, device: DeviceRef,
                 binary: BinaryRef | None = None, argv: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
                 transfer: dict[str, Any] | None = None, thermal: dict[str, Any] | None = None) -> Result:
    """A job that the device or adb let down: status `infra-error`, the reason kept, no numbers."""
    reason = str(error)
    return Result(
        status="infra-error", model=model, device=device, delegate=plan.delegate, settings=plan.to_dict(),
        argv=argv, binary=binary or BinaryRef(name="unknown", sha256=None), latency_ms=Latency(),
        memory_mb=Memory(), delegation=Delegation(requested=plan.delegate, reasons=(reason.splitlines()[0],)),
        raw_log=reason, tool_version=__version__, created_at=utc_now(), warnings=(reason.splitlines()[0],),
        threads=effective_threads(plan.threads, None, ()), transfer=transfer or {}, thermal=thermal or {},
        extra=extra or {},
    )
