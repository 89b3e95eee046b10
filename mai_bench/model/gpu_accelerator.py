"""What LiteRT's real GPU accelerator says about a model, as check findings beside the phone delegate's op list.

Two sources speak about GPU support, and each finding says which one it is:

- the phone GPU delegate's op list (`gpu_ops`, read from `gpu_compatibility.cc`): what the TFLite GPU delegate
  of the challenge's era accepts. It decides whether `check` passes (`gpu-unsupported`, error).
- LiteRT's GPU accelerator in the installed ai-edge-litert (ML Drift over WebGPU on this host's Vulkan device),
  asked for real by compiling the model (`mai_bench.gpu.probe`): what today's LiteRT takes, in its own words and
  node counts (`gpu-accelerator`; a warning when it leaves ops to the CPU, since the challenge's phones ran the
  older delegate). Where the two disagree (it takes TOPK_V2, which the older delegate rejects), a
  `gpu-delegates-disagree` note says so.

No Vulkan device on this host: `gpu-accelerator-missing` (warning) says so and how to get one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.model.gpu_ops import _GENERIC, _REPLACEMENTS, gpu_issues
from mai_bench.model.reader import ModelInfo

PHONE_LIST = "phone TFLite GPU delegate's op list"


@lru_cache(maxsize=1)
def litert_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        return "unknown"


def probe_shape(model: ModelInfo) -> tuple[int, ...] | None:
    """Ask at the challenge's input when the model's one input can take it (dynamic dims), else as it is."""
    if len(model.inputs) != 1:
        return None
    signature = tuple(model.inputs[0].shape_signature)
    if len(signature) == 4 and -1 in signature and all(d in (-1, f) for d, f in zip(signature, FULL_HD_INPUT)):
        return FULL_HD_INPUT
    return None


def start(model: ModelInfo) -> Any:
    """Start the accelerator's compile in the background (`mai_bench.gpu.probe.start_probe`)."""
    from mai_bench.gpu.probe import start_probe

    return start_probe(model.path, probe_shape(model))


def findings(model: ModelInfo, probe: Any) -> list[Any]:
    """The accelerator's findings for `model` from a finished `Probe`."""
    from mai_bench.model.checks import Finding

    who = f"LiteRT's GPU accelerator (ai-edge-litert {litert_version()})"
    if not probe.available:
        return [Finding("gpu-accelerator-missing", "warning",
                        f"{who} was not asked: no Vulkan device on this host ({probe.gpu.describe()})",
                        probe.gpu.fix)]
    decision = probe.decision
    device = probe.gpu.device
    on = f"on {decision.adapter if decision and decision.adapter else device.name}"
    on += " (software Vulkan)" if (decision.software if decision and decision.software is not None
                                   else device.software) else " (Vulkan)"
    if decision is None or probe.error or not decision.created:
        said = "; ".join((decision.errors if decision else ()) or (probe.error or "no reason given",))
        return [Finding("gpu-accelerator", "warning", f"{who} {on} could not compile the model: {said}",
                        "run `mai-bench run MODEL --device local --delegate gpu` to see its full log")]
    name = decision.accelerator
    found = []
    if decision.fully_accelerated:
        nodes = len(model.primary.ops)
        found.append(Finding("gpu-accelerator", "info",
                             f"{who} {on} takes the whole graph: all {nodes} nodes (counted in the model file) in "
                             f"{decision.kernels} {name} delegate kernel(s)"))
    else:
        ops = ", ".join(f"{op} ({reason.rstrip('.') or 'no reason given'})" for op, reason in decision.unsupported)
        counts = (f"{decision.gpu_ops} operations on the GPU, {decision.cpu_ops} on the CPU (its own count)"
                  if decision.gpu_ops is not None else "it gave no node counts")
        first = decision.unsupported[0][0] if decision.unsupported else None
        fix = (_REPLACEMENTS.get(first, _GENERIC).format(op=first) if first else
               "run `mai-bench run MODEL --device local --delegate gpu --allow-fallback` to see its log")
        found.append(Finding("gpu-accelerator", "warning",
                             f"{who} {on} leaves ops to the CPU: {ops or 'unnamed ops'}; {counts}", fix))
    phone = {issue.op for issue in gpu_issues(model)}
    rejected = {op for op, _ in decision.unsupported}
    for op in sorted(phone - rejected):
        found.append(Finding("gpu-delegates-disagree", "info",
                             f"{op}: the {PHONE_LIST} rejects it, {who} takes it; the challenge's phones ran the "
                             "older delegate, so the error above stands"))
    for op in sorted(rejected - phone):
        found.append(Finding("gpu-delegates-disagree", "info",
                             f"{op}: the {PHONE_LIST} accepts it, {who} leaves it to the CPU"))
    return found
