"""What the XNNPACK delegate did to the graph, and the runtime's error reports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_DELEGATE_NODE_TYPE = "TfLiteXNNPackDelegate"


@dataclass(frozen=True)
class Delegation:
    """How the XNNPACK delegate split subgraph 0: N of M nodes replaced by K delegate kernels."""

    replaced: int
    total: int
    partitions: int
    plan_types: tuple[str, ...]  # node types of the execution plan that runs

    def __post_init__(self) -> None:
        consistent = 0 <= self.replaced <= self.total and (self.partitions == 0) == (self.replaced == 0)
        if not consistent or self.partitions < 0:
            raise ValueError(f"impossible delegation {self.replaced}/{self.total} in {self.partitions} partitions")

    @property
    def fully_delegated(self) -> bool:
        """The tool's test: the execution plan is one delegate kernel."""
        return self.partitions == 1 and len(self.plan_types) == 1


def read_delegation(nodes: Sequence[tuple[str, Sequence[int], Sequence[int]]], model_nodes: int) -> Delegation:
    """Recover the delegate's partitions from the interpreter's nodes (name, inputs, outputs) after allocation.

    Nodes past `model_nodes` are the delegate kernels LiteRT appended. A kernel's inputs and outputs are its
    partition's boundary tensors, so walking producers back from its outputs, stopping at its inputs, visits
    exactly the model nodes it replaced (a replaced node whose outputs nothing reads would be missed).
    """
    model, kernels = nodes[:model_nodes], nodes[model_nodes:]
    producer = {tensor: index for index, (_, _, outputs) in enumerate(model) for tensor in outputs}
    replaced: set[int] = set()
    for _, inputs, outputs in kernels:
        boundary = set(inputs)
        pending = list(outputs)
        while pending:
            node = producer.get(pending.pop())
            if node is None or node in replaced:
                continue
            replaced.add(node)
            pending.extend(tensor for tensor in model[node][1] if tensor >= 0 and tensor not in boundary)
    plan = tuple(name for index, (name, _, _) in enumerate(model) if index not in replaced)
    return Delegation(replaced=len(replaced), total=len(model), partitions=len(kernels),
                      plan_types=plan + (_DELEGATE_NODE_TYPE,) * len(kernels))


def _nodes(binding: Any) -> list[tuple[str, list[int], list[int]]]:
    """(type, input tensors, output tensors) of every node of subgraph 0, delegate kernels included."""
    return [(binding.NodeName(i), [int(t) for t in binding.NodeInputs(i)], [int(t) for t in binding.NodeOutputs(i)])
            for i in range(binding.NumNodes())]


# The Python binding joins the runtime's error reports with no separator; these are where reports begin.
_REPORT_STARTS = re.compile(r"(?=Node number \d)|(?=Restored original execution plan)|(?=The model allocation is)"
                            r"|(?=The model is not a valid)|(?=Registration failed)|(?=Encountered unresolved)")


def runtime_messages(error: BaseException) -> list[str]:
    """The runtime's error reports inside a LiteRT exception, one per line, as the runtime prints them."""
    return [part.strip() for line in str(error).splitlines() for part in _REPORT_STARTS.split(line) if part.strip()]


_LOAD_FAILURES = ("The model allocation is", "The model is not a valid", "Failed to open ")
