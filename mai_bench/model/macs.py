"""Multiply-accumulates of one inference.

Counted: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED and BATCH_MATMUL, one MAC per weight
applied to one input value. Elementwise ops (ADD, MUL, PRELU, activations), pooling, resizing and reductions
are not counted: they are memory-bound and would make totals incomparable with published MAC figures.
Only the primary subgraph is counted, since a control-flow body runs a data-dependent number of times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.model.reader import ModelInfo, OpInfo
from mai_bench.model.shapes import ShapeSource, TensorShapes, tensor_shapes

Shape = tuple[int, ...]


@dataclass(frozen=True)
class MacsReport:
    """MACs at `input_shape`; `shape_source` says whether shapes came from the file or a LiteRT resize.
    `uncounted_ops` is the number of MAC ops whose tensor shapes were not usable (0 for a sane model)."""

    total_macs: int
    by_op: dict[str, int]
    input_shape: Shape
    shape_source: ShapeSource
    uncounted_ops: int = 0

    def __post_init__(self) -> None:
        if self.total_macs < 0 or any(v < 0 for v in self.by_op.values()):
            raise ValueError("MACs cannot be negative")
        if self.total_macs != sum(self.by_op.values()):
            raise ValueError(f"total {self.total_macs} is not the sum of the per-op MACs {self.by_op}")

    @property
    def gmacs(self) -> float:
        return self.total_macs / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_macs": self.total_macs,
            "gmacs": round(self.gmacs, 6),
            "by_op": dict(self.by_op),
            "input_shape": list(self.input_shape),
            "shape_source": self.shape_source,
            "uncounted_ops": self.uncounted_ops,
        }


def count_macs(model: ModelInfo, input_shape: Shape = FULL_HD_INPUT) -> MacsReport:
    """MACs of one inference with the input at `input_shape` (default Full HD). Raises ResizeError when the
    model cannot be run at that shape."""
    return macs_from_shapes(model, tensor_shapes(model, input_shape))


def macs_from_shapes(model: ModelInfo, shapes: TensorShapes) -> MacsReport:
    """MACs of the primary subgraph given every tensor's shape."""
    by_op: dict[str, int] = {}
    uncounted = 0
    for op in model.primary.ops:
        rule = _RULES.get(op.name)
        if rule is None:
            continue
        macs = _apply(rule, op, shapes)
        if macs is None:
            uncounted += 1
            continue
        by_op[op.name] = by_op.get(op.name, 0) + macs
    return MacsReport(sum(by_op.values()), by_op, shapes.input_shape, shapes.source, uncounted)


def _apply(rule: Callable[..., int], op: OpInfo, shapes: TensorShapes) -> int | None:
    def shape(position: int, outputs: bool = False) -> Shape:
        indices = op.outputs if outputs else op.inputs
        found = shapes.of(indices[position]) if position < len(indices) else None
        if found is None:
            raise LookupError(position)
        return found

    try:
        return rule(op, shape)
    except (LookupError, ValueError):
        return None


def _rank(shape: Shape, rank: int) -> Shape:
    if len(shape) != rank:
        raise ValueError(f"expected rank {rank}, got {shape}")
    return shape


def _conv(op, shape) -> int:
    _, kh, kw, cin_per_group = _rank(shape(1), 4)  # filter [Cout, KH, KW, Cin/groups]
    return math.prod(shape(0, outputs=True)) * kh * kw * cin_per_group


def _depthwise(op, shape) -> int:
    _, kh, kw, _ = _rank(shape(1), 4)  # filter [1, KH, KW, Cout]: one KHxKW window per output value
    return math.prod(shape(0, outputs=True)) * kh * kw


def _transpose_conv(op, shape) -> int:
    cout, kh, kw, _ = _rank(shape(1), 4)  # inputs: output_shape, filter [Cout, KH, KW, Cin], input
    return math.prod(shape(2)) * kh * kw * cout


def _fully_connected(op, shape) -> int:
    _, depth = _rank(shape(1), 2)  # weights [units, depth]
    return math.prod(shape(0, outputs=True)) * depth


def _batch_matmul(op, shape) -> int:
    lhs = shape(0)
    if len(lhs) < 2:
        raise ValueError(f"BATCH_MATMUL lhs must be at least 2-D, got {lhs}")
    depth = lhs[-2] if op.options.get("adj_x") else lhs[-1]
    return math.prod(shape(0, outputs=True)) * depth


_RULES = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "TRANSPOSE_CONV": _transpose_conv,
    "FULLY_CONNECTED": _fully_connected,
    "BATCH_MATMUL": _batch_matmul,
}
