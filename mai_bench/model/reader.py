"""Read a .tflite file into a ModelInfo: tensors, ops, parameters, size and hash, without TensorFlow.

The flatbuffer is read with the schema bindings shipped in the ai-edge-litert wheel. Python flatbuffers has no
verifier, so every accessor runs on untrusted bytes: damaged files are turned into ModelError, never into a
struct/index error, and vector lengths are checked against the file size before anything loops over them.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import flatbuffers
from ai_edge_litert import schema_py_generated as schema

from mai_bench.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
MIB = 1024 * 1024
_CHUNK = 1 << 20

# What accessors raise on damaged bytes (offsets past the end, numpy views too short, out-of-range numbers),
# found by fuzzing; the value checks below raise ValueError too. Anything else is a bug and stays a traceback.
_DAMAGE = (struct.error, ValueError, TypeError)

_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_DTYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_MIRROR_PAD_MODES = {v: k for k, v in vars(schema.MirrorPadMode).items() if not k.startswith("_")}

# What a file that is not a model usually is, by its first bytes: names the mistake in the error message.
_KNOWN_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive (a Keras .keras file or a model bundle?)",
    b"\x89HDF": "an HDF5 file (a Keras .h5 model?)",
}

# Ops whose constant inputs after the first are weights whatever their size or type: filters, biases (int32 in
# quantized models) and PReLU slopes.
_WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "PRELU"})
_INDEX_DTYPES = frozenset({"int32", "int64"})


@dataclass(frozen=True)
class TensorInfo:
    """One tensor. `shape` is the stored shape (1 where a dim is dynamic), `shape_signature` has -1 there."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int = 0
    is_constant: bool = False
    dynamic_dims: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.shape) != len(self.shape_signature):
            raise ValueError(f"tensor {self.name!r}: shape {self.shape} and signature {self.shape_signature} differ")
        if any(d < 0 for d in self.shape) or any(d < -1 for d in self.shape_signature):
            raise ValueError(f"tensor {self.name!r}: impossible dims {self.shape} / {self.shape_signature}")
        object.__setattr__(self, "dynamic_dims", tuple(i for i, d in enumerate(self.shape_signature) if d == -1))

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "shape_signature": list(self.shape_signature),
            "dtype": self.dtype,
            "dynamic_dims": list(self.dynamic_dims),
        }


@dataclass(frozen=True)
class OpInfo:
    """One operator: its name as in the op histogram, tensor indices (-1 = omitted optional input) and the
    few builtin options that MACs and the GPU checks read (see `_OPTION_READERS`)."""

    subgraph: int
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_custom(self) -> bool:
        return self.name.startswith(("CUSTOM:", "FLEX:"))

    @property
    def is_flex(self) -> bool:
        return self.name.startswith("FLEX:")


@dataclass(frozen=True)
class SubgraphInfo:
    index: int
    name: str
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    ops: tuple[OpInfo, ...]

    def __post_init__(self) -> None:
        known = range(len(self.tensors))
        if any(t.index != i for i, t in enumerate(self.tensors)):
            raise ValueError(f"subgraph {self.index}: tensors out of order")
        for i in self.inputs + self.outputs:
            if i not in known:
                raise ValueError(f"subgraph {self.index}: input/output tensor {i} does not exist")
        for op in self.ops:
            for i in op.inputs + op.outputs:
                if i != -1 and i not in known:
                    raise ValueError(f"subgraph {self.index}: op {op.index} ({op.name}) uses missing tensor {i}")

    def tensor(self, index: int) -> TensorInfo | None:
        """The tensor at `index`, or None for an omitted optional input (-1)."""
        return None if index == -1 else self.tensors[index]


@dataclass(frozen=True)
class ModelInfo:
    """Everything mai-bench reads from a .tflite file. `inputs`/`outputs` are those of the primary subgraph."""

    path: Path
    size_bytes: int
    sha256: str
    schema_version: int
    subgraphs: tuple[SubgraphInfo, ...]
    param_count: int

    def __post_init__(self) -> None:
        if self.size_bytes <= 0:
            raise ValueError("a model file cannot be empty")
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 must be 64 hex digits, got {self.sha256!r}")
        if not self.subgraphs:
            raise ValueError("a model has at least one subgraph")
        if self.param_count < 0:
            raise ValueError("param_count cannot be negative")

    @property
    def size_mib(self) -> float:
        return self.size_bytes / MIB

    @property
    def primary(self) -> SubgraphInfo:
        return self.subgraphs[0]

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        return tuple(self.primary.tensors[i] for i in self.primary.inputs)

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        return tuple(self.primary.tensors[i] for i in self.primary.outputs)

    @property
    def subgraph_count(self) -> int:
        return len(self.subgraphs)

    @property
    def ops(self) -> tuple[OpInfo, ...]:
        """Every operator of every subgraph, in file order."""
        return tuple(op for sg in self.subgraphs for op in sg.ops)

    @property
    def op_count(self) -> int:
        return sum(len(sg.ops) for sg in self.subgraphs)

    @property
    def op_histogram(self) -> dict[str, int]:
        """Op name -> count, most frequent first (ties by name)."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "size_mib": round(self.size_mib, 6),
            "sha256": self.sha256,
            "schema_version": self.schema_version,
            "subgraph_count": self.subgraph_count,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "op_count": self.op_count,
            "op_histogram": self.op_histogram,
            "param_count": self.param_count,
        }


def read_model(path: str | Path) -> ModelInfo:
    """Read and validate a .tflite file. Raises ModelError if it is missing or not a readable TFLite model."""
    path = Path(path)
    data, sha256 = _read_bytes(path)
    _check_identifier(path, data)
    try:
        fb_model = schema.Model.GetRootAs(data, 0)
        version = fb_model.Version()
        op_names = _op_names(fb_model, len(data))
        constant_buffers = _constant_buffers(fb_model, len(data))
        n_subgraphs = _length(fb_model.SubgraphsLength(), 4, len(data))
        subgraphs = tuple(
            _read_subgraph(fb_model.Subgraphs(i), i, op_names, constant_buffers, len(data))
            for i in range(n_subgraphs)
        )
        if not subgraphs:
            raise ValueError("the model has no subgraphs")
        params = _param_count(subgraphs)
        return ModelInfo(path, len(data), sha256, version, subgraphs, params)
    except _DAMAGE as error:
        raise ModelError(
            f"{path} is damaged or truncated: its TFLite flatbuffer cannot be read ({error})",
            fix="re-export the model with the TFLite converter, or copy the file again if it was cut short",
        ) from None


def _read_bytes(path: Path) -> tuple[bytes, str]:
    fix = "pass the path of a .tflite file produced by the TFLite converter"
    if not path.exists():
        raise ModelError(f"model file not found: {path}", fix=fix)
    if path.is_dir():
        raise ModelError(f"{path} is a directory, not a .tflite file", fix=fix)
    digest = hashlib.sha256()
    chunks = []
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error.strerror or error}", fix="check the file's permissions") from None
    data = b"".join(chunks)
    if not data:
        raise ModelError(f"{path} is empty (0 bytes), not a TFLite model", fix=fix)
    return data, digest.hexdigest()


def _check_identifier(path: Path, data: bytes) -> None:
    if len(data) >= 8 and flatbuffers.util.BufferHasIdentifier(data, 0, FILE_IDENTIFIER):
        return
    what = next((name for magic, name in _KNOWN_MAGIC.items() if data.startswith(magic)), None)
    if what:
        detail = f"it looks like {what}"
    elif len(data) < 8:
        detail = f"it is only {len(data)} bytes long"
    else:
        detail = f"bytes 4-8 are {data[4:8]!r}, a TFLite model has {FILE_IDENTIFIER!r}"
    raise ModelError(
        f"{path} is not a TFLite model: {detail}",
        fix="pass the .tflite file written by the TFLite converter (tf.lite.TFLiteConverter), not the source model",
    )


def _length(n: int, element_bytes: int, file_size: int) -> int:
    # A damaged length field can claim billions of elements; a real vector fits in the file.
    if n < 0 or n * element_bytes > file_size:
        raise ValueError(f"a vector claims {n} elements, more than the file can hold")
    return n


def _ints(is_none: bool, as_numpy) -> tuple[int, ...]:
    # The generated *AsNumpy accessors return 0 (not an empty array) when the field is absent.
    return () if is_none else tuple(int(x) for x in as_numpy())


def _op_names(fb_model, file_size: int) -> tuple[str, ...]:
    names = []
    for i in range(_length(fb_model.OperatorCodesLength(), 4, file_size)):
        code = fb_model.OperatorCodes(i)
        # Codes above 127 live in builtin_code; older files only fill the int8 deprecated field.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = (code.CustomCode() or b"").decode("utf-8", errors="replace")
            names.append(f"FLEX:{custom[len('Flex'):]}" if custom.startswith("Flex") else f"CUSTOM:{custom}")
        else:
            names.append(_BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}"))
    return tuple(names)


def _constant_buffers(fb_model, file_size: int) -> tuple[bool, ...]:
    """For each buffer: does it hold data (inline, or at an offset for files above 2 GB)?"""
    flags = []
    for i in range(_length(fb_model.BuffersLength(), 4, file_size)):
        buffer = fb_model.Buffers(i)
        flags.append(buffer.DataLength() > 0 or (buffer.Offset() > 1 and buffer.Size() > 0))
    return tuple(flags)


def _read_subgraph(fb_sg, index: int, op_names: tuple[str, ...], constant: tuple[bool, ...], size: int) -> SubgraphInfo:
    tensors = []
    for t in range(_length(fb_sg.TensorsLength(), 4, size)):
        fb_t = fb_sg.Tensors(t)
        shape = _ints(fb_t.ShapeIsNone(), fb_t.ShapeAsNumpy)
        signature = _ints(fb_t.ShapeSignatureIsNone(), fb_t.ShapeSignatureAsNumpy) or shape
        buffer = fb_t.Buffer()
        if buffer >= max(len(constant), 1):
            raise ValueError(f"tensor {t} points at buffer {buffer}, the file has {len(constant)}")
        tensors.append(
            TensorInfo(
                index=t,
                name=(fb_t.Name() or b"").decode("utf-8", errors="replace"),
                shape=shape,
                shape_signature=signature,
                dtype=_DTYPE_NAMES.get(fb_t.Type(), f"unknown({fb_t.Type()})"),
                buffer=buffer,
                is_constant=bool(constant) and constant[buffer],
            )
        )
    ops = []
    for o in range(_length(fb_sg.OperatorsLength(), 4, size)):
        fb_op = fb_sg.Operators(o)
        opcode = fb_op.OpcodeIndex()
        if opcode >= len(op_names):
            raise ValueError(f"operator {o} uses opcode {opcode}, the file defines {len(op_names)}")
        name = op_names[opcode]
        reader = _OPTION_READERS.get(name)
        ops.append(
            OpInfo(
                subgraph=index,
                index=o,
                name=name,
                inputs=_ints(fb_op.InputsIsNone(), fb_op.InputsAsNumpy),
                outputs=_ints(fb_op.OutputsIsNone(), fb_op.OutputsAsNumpy),
                options=reader(fb_op) if reader else {},
            )
        )
    return SubgraphInfo(
        index=index,
        name=(fb_sg.Name() or b"").decode("utf-8", errors="replace"),
        tensors=tuple(tensors),
        inputs=_ints(fb_sg.InputsIsNone(), fb_sg.InputsAsNumpy),
        outputs=_ints(fb_sg.OutputsIsNone(), fb_sg.OutputsAsNumpy),
        ops=tuple(ops),
    )


def _param_count(subgraphs: tuple[SubgraphInfo, ...]) -> int:
    """Elements of the constant buffers that hold weights, each buffer counted once. A constant is a weight when
    it is an input (after the first) of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED or PRELU, or
    any other non-integer constant with more than one element (normalization scales, fp16 weights before
    DEQUANTIZE). Left out: int32/int64 constants elsewhere (shapes, axes, paddings, slice bounds) and
    single-element constants elsewhere (literals such as the 0.58 and 0.5 of an output scaling, epsilons).
    This matches Keras' parameter count for the reference models."""
    weights = {
        (op.subgraph, index)
        for sg in subgraphs
        for op in sg.ops
        if op.name in _WEIGHT_OPS
        for index in op.inputs[1:]
    }
    counted: dict[int, int] = {}
    for sg in subgraphs:
        for tensor in sg.tensors:
            if not tensor.is_constant:
                continue
            is_weight = (sg.index, tensor.index) in weights or (
                tensor.dtype not in _INDEX_DTYPES and tensor.elements > 1
            )
            if is_weight:
                counted[tensor.buffer] = tensor.elements
    return sum(counted.values())


def _options(fb_op, expected_type: int, options_class):
    """The op's builtin options table as `options_class`, or None when absent (defaults apply)."""
    if fb_op.BuiltinOptionsType() != expected_type:
        return None
    table = fb_op.BuiltinOptions()
    if table is None:
        return None
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    return options


def _mirror_pad(fb_op) -> dict[str, Any]:
    opts = _options(fb_op, schema.BuiltinOptions.MirrorPadOptions, schema.MirrorPadOptions)
    mode = opts.Mode() if opts else schema.MirrorPadMode.REFLECT
    return {"mode": _MIRROR_PAD_MODES.get(mode, str(mode))}


def _softmax(fb_op) -> dict[str, Any]:
    opts = _options(fb_op, schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptions)
    return {"beta": float(opts.Beta()) if opts else 0.0}


def _depth_to_space(fb_op) -> dict[str, Any]:
    opts = _options(fb_op, schema.BuiltinOptions.DepthToSpaceOptions, schema.DepthToSpaceOptions)
    return {"block_size": int(opts.BlockSize()) if opts else 0}


def _strided_slice(fb_op) -> dict[str, Any]:
    opts = _options(fb_op, schema.BuiltinOptions.StridedSliceOptions, schema.StridedSliceOptions)
    if opts is None:
        return {"ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    return {
        "ellipsis_mask": int(opts.EllipsisMask()),
        "new_axis_mask": int(opts.NewAxisMask()),
        "shrink_axis_mask": int(opts.ShrinkAxisMask()),
    }


def _batch_matmul(fb_op) -> dict[str, Any]:
    opts = _options(fb_op, schema.BuiltinOptions.BatchMatMulOptions, schema.BatchMatMulOptions)
    return {"adj_x": bool(opts and opts.AdjX())}


# Only the options something downstream reads: GPU delegate constraints (gpu_ops) and MACs (macs).
_OPTION_READERS = {
    "MIRROR_PAD": _mirror_pad,
    "SOFTMAX": _softmax,
    "DEPTH_TO_SPACE": _depth_to_space,
    "STRIDED_SLICE": _strided_slice,
    "BATCH_MATMUL": _batch_matmul,
}
