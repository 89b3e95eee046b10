"""Which builtin ops the TFLite GPU delegate accepts, and the per-op constraints cheap to check offline.

Source: the delegate's own check, `tflite/tools/versioning/gpu_compatibility.cc`, CheckGpuDelegateCompatibility
(`tensorflow/lite/tools/...` before the LiteRT split): a switch over builtin ops with per-op constraints; an op
without a case is "Not supported op". SUPPORTED_OPS is the list read from the TF 2.16-era switch, minus
L2_NORMALIZATION and RELU_0_TO_1: the two versions of the file re-read for this module (tensorflow/tensorflow
at 03a5e4e1, google-ai-edge/LiteRT at 007226f4) have no case for either. Later switches also accept ATAN2
(both), TOPK_V2, CEIL, ROUND, SELECT, REVERSE_V2 and some more (LiteRT); these stay unsupported here because
the delegate in a phone's benchmark binary is often older, and a false alarm costs less than a model that
silently falls back to the CPU.

The model analyzer bundled in ai-edge-litert is NOT used: version 2.3.0 reported "compatible with GPU
delegate" for models with TOPK_V2, ARG_MAX, ATAN2 and GATHER_ND.
Custom and Flex ops are not judged here; checks.py reports them on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from mai_bench.model.reader import ModelInfo, OpInfo, SubgraphInfo

SOURCE = "tflite/tools/versioning/gpu_compatibility.cc (CheckGpuDelegateCompatibility)"
SOURCE_VERSION = "TF 2.16-era switch, re-read at tensorflow/tensorflow 03a5e4e1 and google-ai-edge/LiteRT 007226f4"

SUPPORTED_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D", "COS",
    "CUMSUM", "DENSIFY", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE", "DIV", "EQUAL", "ELU", "EXP",
    "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED", "GATHER", "GELU", "GREATER", "GREATER_EQUAL",
    "HARD_SWISH", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGISTIC", "LSTM", "MAXIMUM", "MAX_POOL_2D",
    "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL", "ONE_HOT", "PACK", "PAD", "PADV2", "POW",
    "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RELU", "RELU6", "RELU_N1_TO_1",
    "LEAKY_RELU", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SELECT_V2", "SIGN", "SIN",
    "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE",
    "STRIDED_SLICE", "SUB", "SUM", "TANH", "TILE", "TRANSPOSE", "TRANSPOSE_CONV",
})

_HOST_SIDE = "remove {op} from the model and do it in post-processing on the host"
# One-line fixes for ops people actually hit; anything else gets the generic advice.
_REPLACEMENTS = {
    "ARG_MAX": _HOST_SIDE,
    "ARG_MIN": _HOST_SIDE,
    "TOPK_V2": _HOST_SIDE,
    "ATAN2": _HOST_SIDE,
    "WHERE": _HOST_SIDE,
    "UNIQUE": _HOST_SIDE,
    "NON_MAX_SUPPRESSION_V4": _HOST_SIDE,
    "NON_MAX_SUPPRESSION_V5": _HOST_SIDE,
    "GATHER_ND": "replace GATHER_ND with GATHER along one axis, SLICE or STRIDED_SLICE",
    "SCATTER_ND": "replace SCATTER_ND with CONCATENATION of slices, or remove it",
    "SQUEEZE": "replace SQUEEZE with RESHAPE",
    "EXPAND_DIMS": "replace EXPAND_DIMS with RESHAPE",
    "LOG_SOFTMAX": "replace LOG_SOFTMAX with SOFTMAX followed by LOG",
    "L2_NORMALIZATION": "replace L2_NORMALIZATION with x * RSQRT(SUM(SQUARE(x)))",
    "RELU_0_TO_1": "replace RELU_0_TO_1 with MINIMUM(RELU(x), 1)",
    "SPACE_TO_BATCH_ND": "use Conv2D(dilation_rate=...) directly so the converter emits a dilated CONV_2D",
    "BATCH_TO_SPACE_ND": "use Conv2D(dilation_rate=...) directly so the converter emits a dilated CONV_2D",
    "BROADCAST_TO": "remove BROADCAST_TO; ADD/MUL broadcast by themselves",
    "REVERSE_V2": "replace REVERSE_V2 with a 1x1 CONV_2D that permutes the channels, or GATHER with reversed indices",
}
_GENERIC = "replace {op} with ops the GPU delegate supports, or remove it"


@dataclass(frozen=True)
class GpuIssue:
    """Ops named `op` that the GPU delegate rejects for `reason`; `ops` lists (subgraph, op index)."""

    op: str
    reason: str
    fix: str
    ops: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.ops:
            raise ValueError("a GPU issue names at least one op")

    @property
    def count(self) -> int:
        return len(self.ops)


def gpu_issues(model: ModelInfo) -> tuple[GpuIssue, ...]:
    """Builtin ops the GPU delegate would reject, grouped by op and reason, in order of first appearance."""
    grouped: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for sg in model.subgraphs:
        for op in sg.ops:
            if op.is_custom:
                continue
            problem = _problem(op, sg)
            if problem is not None:
                grouped.setdefault((op.name, *problem), []).append((op.subgraph, op.index))
    return tuple(GpuIssue(name, reason, fix, tuple(ops)) for (name, reason, fix), ops in grouped.items())


def _problem(op: OpInfo, sg: SubgraphInfo) -> tuple[str, str] | None:
    """(reason, fix) when the delegate rejects this op, else None."""
    name = op.name
    if name not in SUPPORTED_OPS:
        fix = _REPLACEMENTS.get(name, _GENERIC)
        return "not supported by the GPU delegate", fix.format(op=name)
    if name == "ADD" and len(op.inputs) != 2:
        return f"ADD with {len(op.inputs)} inputs (the delegate needs exactly 2)", "split it into two-input ADDs"
    if name == "MIRROR_PAD" and op.options.get("mode") != "REFLECT":
        return f"MIRROR_PAD in {op.options.get('mode')} mode (only REFLECT)", "pad with mode='REFLECT'"
    if name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        axes = sg.tensor(op.inputs[1]) if len(op.inputs) > 1 else None
        if axes is None or not axes.is_constant or axes.dtype != "int32":
            reason = f"{name} with axes that are not a constant int32 tensor"
            return reason, "reduce over fixed axes known at conversion"
    if name == "SOFTMAX" and op.options.get("beta") != 1.0:
        return f"SOFTMAX with beta={op.options.get('beta')} (only 1)", "multiply the logits by beta before SOFTMAX"
    if name == "DEPTH_TO_SPACE" and op.options.get("block_size", 0) <= 1:
        return f"DEPTH_TO_SPACE with block_size={op.options.get('block_size')} (must be > 1)", "remove the no-op"
    if name in ("SLICE", "STRIDED_SLICE"):
        source = sg.tensor(op.inputs[0]) if op.inputs else None
        rank = len(source.shape_signature) if source is not None else 0
        if rank not in (3, 4):
            return f"{name} on a {rank}-D tensor (only 3-D or 4-D)", "reshape to 4-D before slicing"
    if name == "STRIDED_SLICE":
        masks = [m for m in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask") if op.options.get(m)]
        if masks:
            return (
                f"STRIDED_SLICE with {', '.join(masks)}",
                "slice with ranges (x[..., 0:1]), not indices, ellipsis or new axes",
            )
    return None
