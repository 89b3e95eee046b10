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
        raise _op_error(model) or ResizeError(
            f"LiteRT cannot load {model.path.name}: {brief_litert_message(str(error))}",
            fix="re-export the model with the TFLite converter using builtin ops only",
        ) from None
    try:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(input_shape))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise _op_error(model) or _channel_error(model, input_shape) or ResizeError(
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


def _op_error(model: ModelInfo) -> ResizeError | None:
    """Why LiteRT cannot run a model with TensorFlow (Flex) or custom ops, at any shape; None without them."""
    flex = sorted({op.name for op in model.ops if op.is_flex})
    custom = sorted({op.name for op in model.ops if op.is_custom and not op.is_flex})
    if flex:
        return ResizeError(
            f"{model.path.name} uses TensorFlow (Flex) ops, which the TFLite runtime of the challenge, the GPU "
            f"delegate and this host's LiteRT do not run: {', '.join(flex)}",
            fix="remove these TF ops or replace them with TFLite builtin ops, and convert without SELECT_TF_OPS "
                "(converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]); "
                "`mai-bench check` lists every op that is not a builtin",
        )
    if custom:
        return ResizeError(
            f"{model.path.name} uses custom ops, which the TFLite runtime of the challenge and this host's LiteRT "
            f"do not have: {', '.join(custom)}",
            fix="replace the custom ops with TFLite builtin ops and convert again",
        )
    return None


def _channel_error(model: ModelInfo, input_shape: tuple[int, ...]) -> ResizeError | None:
    """The error for an input shape whose channel count is not the model's own (a fixed last dimension)."""
    return channel_mismatch(model.inputs[0].shape_signature, input_shape, model.path.name)


def channel_mismatch(signature: tuple[int, ...] | list[int], input_shape: tuple[int, ...],
                     model_name: str) -> ResizeError | None:
    """A ResizeError when `input_shape` asks for another channel count than the model's input has (`signature`,
    -1 for dynamic dims); None when the channels agree or are dynamic. The challenge's models take packed
    4-channel Bayer RAW: 3 channels asked of such a model is someone feeding it RGB, and a model whose own input
    has 3 channels is an RGB model, not a RAW-to-RGB ISP."""
    if len(signature) != 4 or len(input_shape) != 4:
        return None
    channels, asked = int(signature[3]), int(input_shape[3])
    if channels < 1 or channels == asked:
        return None
    asked_text = ",".join(map(str, input_shape))
    wanted = [*input_shape[:3], channels]
    option = f"--input-shape {','.join(map(str, wanted))} (input_shape: [{', '.join(map(str, wanted))}] in a farm plan)"
    if channels == 4:
        default = (" or leave it out: the challenge's packed RAW, for a Full-HD output"
                   if tuple(wanted) == tuple(FULL_HD_INPUT) else "")
        return ResizeError(
            f"input shape [{asked_text}] has {asked} channel(s): {model_name} takes packed 4-channel Bayer RAW "
            f"(R, G, G, B planes at half resolution), not {'RGB' if asked == 3 else f'{asked}-channel data'}",
            fix=f"use {option}{default}. The model makes the RGB image itself; its input is never RGB")
    if asked == 4:
        return ResizeError(
            f"{model_name} takes {channels}-channel input{' (RGB?)' if channels == 3 else ''}, not the packed "
            "4-channel Bayer RAW [1,H,W,4] of the challenge's models",
            fix=f"export the model with a [1,H,W,4] RAW input (`mai-bench check` shows what the challenge expects); "
                f"to time it as it is, use {option}")
    return ResizeError(f"input shape [{asked_text}] has {asked} channel(s); {model_name} takes {channels}",
                       fix=f"use {option}")


def brief_litert_message(message: str) -> str:
    """LiteRT's error text on one short line: without source paths, doc links and repeated whitespace."""
    text = re.sub(r"\S*\.(?:cc|h)(?::\d+)?\s+", "", message)
    # LiteRT glues "Node number N" onto the previous sentence (or URL): split it off before dropping links.
    text = re.sub(r"(?<=\.)(?=Node number \d)", " ", text)
    text = re.sub(r"(?<=[^\s.])(?=Node number \d)", ". ", text)
    text = re.sub(r"See instructions: \S+|https?://\S+", "", text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
