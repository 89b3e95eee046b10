"""Every tensor's shape at a requested input shape: from the flatbuffer when it already matches, otherwise by
resizing the input in LiteRT and letting each op's Prepare compute its output shape.

This is the one place that builds a LiteRT Interpreter for a model; the shape check and MACs share its result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Mapping

from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.errors import ModelError
from mai_bench.model.reader import ModelInfo

_MAX_MESSAGE = 240

ShapeSource = Literal["flatbuffer", "litert-resize"]


class ResizeError(ModelError):
    """LiteRT could not load the model or run it at the requested input shape."""


@dataclass(frozen=True)
class TensorShapes:
    """Shapes of the primary subgraph's tensors (index -> shape) with the model's input at `input_shape`."""

    input_shape: tuple[int, ...]
    source: ShapeSource
    shapes: Mapping[int, tuple[int, ...]]

    def __post_init__(self) -> None:
        if any(d <= 0 for d in self.input_shape):
            raise ValueError(f"input shape must be positive, got {self.input_shape}")
        if self.source not in ("flatbuffer", "litert-resize"):
            raise ValueError(f"unknown shape source {self.source!r}")

    def of(self, index: int) -> tuple[int, ...] | None:
        """The shape of tensor `index`, or None for an omitted optional input (-1) or an unknown tensor."""
        return self.shapes.get(index)


def tensor_shapes(model: ModelInfo, input_shape: tuple[int, ...] = FULL_HD_INPUT) -> TensorShapes:
    """Shapes at `input_shape` for a single-input model. Raises ResizeError when LiteRT cannot load the model,
    resize its input or prepare an op at that shape (the message is LiteRT's, shortened)."""
    input_shape = tuple(int(d) for d in input_shape)
    if len(model.inputs) != 1:
        raise ResizeError(
            f"the model has {len(model.inputs)} inputs; shapes at an input shape need exactly one",
            fix="export the model with a single [1,H,W,4] input",
        )
    primary = model.primary
    if model.inputs[0].shape == input_shape and not any(t.dynamic_dims for t in primary.tensors):
        return TensorShapes(input_shape, "flatbuffer", {t.index: t.shape for t in primary.tensors})
    return TensorShapes(input_shape, "litert-resize", _litert_shapes(model, input_shape))


def _litert_shapes(model: ModelInfo, input_shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    shape_text = "[" + ",".join(map(str, input_shape)) + "]"
    try:
        # No default delegate: XNNPACK would take over the graph and leave inner tensors at their old shapes.
        interpreter = Interpreter(
            model_path=str(model.path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    except (ValueError, RuntimeError) as error:
        raise ResizeError(
            f"LiteRT cannot load {model.path.name}: {brief_litert_message(str(error))}",
            fix="re-export the model with the TFLite converter using builtin ops only",
        ) from None
    try:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(input_shape))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ResizeError(
            f"LiteRT cannot run the model at input {shape_text}: {brief_litert_message(str(error))}",
            fix=f"convert the model with input shape {shape_text} (or with dynamic H and W)",
        ) from None
    known = len(model.primary.tensors)
    # Indices past the flatbuffer's tensors are the kernels' scratch tensors (im2col and the like).
    return {
        int(d["index"]): tuple(int(x) for x in d["shape"])
        for d in interpreter.get_tensor_details()
        if d["index"] < known
    }


def brief_litert_message(message: str) -> str:
    """LiteRT's error text on one short line: without source paths, doc links and repeated whitespace."""
    text = re.sub(r"\S*\.(?:cc|h)(?::\d+)?\s+", "", message)
    # LiteRT glues "Node number N" onto the previous sentence (or URL): split it off before dropping links.
    text = re.sub(r"(?<=\.)(?=Node number \d)", " ", text)
    text = re.sub(r"(?<=[^\s.])(?=Node number \d)", ". ", text)
    text = re.sub(r"See instructions: \S+|https?://\S+", "", text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
