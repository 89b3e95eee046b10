"""Read a .tflite file into a ModelInfo: tensors, ops, parameters, size and hash, without TensorFlow.

The flatbuffer is read by `_Table` below, the few lines of the flatbuffers runtime the reader needs, with the
field slots of the TFLite schema (those of the generated bindings in the ai-edge-litert wheel; its enum names
are in `tflite_schema`, and tests/model/test_tflite_schema.py checks both against the bindings). The bindings
themselves are not imported: they import the `flatbuffers` package, which imports numpy, 0.13 s of every
`mai-bench run`. Flatbuffers have no verifier, so every access runs on untrusted bytes: damaged files are turned
into ModelError, never into a struct/index error, and vector lengths are checked against the file size before
anything loops over them.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mai_bench.errors import ModelError
from mai_bench.model import tflite_schema as schema

FILE_IDENTIFIER = b"TFL3"
MIB = 1024 * 1024
_CHUNK = 1 << 20

# What accessors raise on damaged bytes (offsets past the end or before the start, out-of-range numbers), found
# by fuzzing; the value checks below raise ValueError too. Anything else is a bug and stays a traceback.
_DAMAGE = (struct.error, ValueError, TypeError)

_BUILTIN_NAMES = schema.BUILTIN_OPERATORS
_DTYPE_NAMES = {code: name.lower() for code, name in schema.TENSOR_TYPES.items()}
_MIRROR_PAD_MODES = schema.MIRROR_PAD_MODES

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
        fb_model = _Table(data, _U32.unpack_from(data, 0)[0])
        version = fb_model.scalar(_MODEL_VERSION, _U32)
        op_names = _op_names(fb_model)
        constant_buffers = _constant_buffers(fb_model)
        subgraphs = tuple(
            _read_subgraph(table, i, op_names, constant_buffers)
            for i, table in enumerate(fb_model.tables(_MODEL_SUBGRAPHS))
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
    if len(data) >= 8 and data[4:8] == FILE_IDENTIFIER:
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


_U8, _I8, _U16, _I32, _U32, _U64, _F32 = (struct.Struct(f) for f in ("<B", "<b", "<H", "<i", "<I", "<Q", "<f"))

# Field slots (vtable offsets) of the TFLite schema, as in the generated bindings' `self._tab.Offset(N)`.
_MODEL_VERSION, _MODEL_OPCODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 4, 6, 8, 12
_OPCODE_DEPRECATED_BUILTIN, _OPCODE_CUSTOM, _OPCODE_BUILTIN = 4, 6, 10
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 4, 6, 8
_SUBGRAPH_TENSORS, _SUBGRAPH_INPUTS, _SUBGRAPH_OUTPUTS, _SUBGRAPH_OPERATORS, _SUBGRAPH_NAME = 4, 6, 8, 10, 12
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_BUFFER, _TENSOR_NAME, _TENSOR_SIGNATURE = 4, 6, 8, 10, 18
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPTIONS_TYPE, _OP_OPTIONS = 4, 6, 8, 10, 12


class _Table:
    """A flatbuffer table at `pos` of `buf`: what the generated accessors do (a field through the vtable; scalars,
    strings, int32 vectors, tables and vectors of tables), with every offset checked to lie inside the buffer."""

    __slots__ = ("buf", "pos", "_vtable", "_vtable_size")

    def __init__(self, buf: bytes, pos: int):
        self.buf = buf
        self.pos = _inside(buf, pos)
        self._vtable = _inside(buf, pos - _I32.unpack_from(buf, pos)[0])
        self._vtable_size = _U16.unpack_from(buf, self._vtable)[0]

    def _field(self, slot: int) -> int:
        """Where the field of vtable offset `slot` is (0: absent, the schema's default applies)."""
        if slot >= self._vtable_size:
            return 0
        offset = _U16.unpack_from(self.buf, self._vtable + slot)[0]
        return self.pos + offset if offset else 0

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, kind: struct.Struct, default: int | float = 0) -> Any:
        at = self._field(slot)
        return kind.unpack_from(self.buf, at)[0] if at else default

    def _indirect(self, at: int) -> int:
        return _inside(self.buf, at + _U32.unpack_from(self.buf, at)[0])

    def string(self, slot: int) -> bytes | None:
        at = self._field(slot)
        if not at:
            return None
        start = self._indirect(at)
        length = _length(_U32.unpack_from(self.buf, start)[0], 1, len(self.buf))
        return bytes(self.buf[start + 4:start + 4 + length])

    def _vector(self, slot: int, element_bytes: int) -> tuple[int, int] | None:
        """(first element's position, length) of a vector field, None when absent."""
        at = self._field(slot)
        if not at:
            return None
        start = self._indirect(at)
        length = _length(_U32.unpack_from(self.buf, start)[0], element_bytes, len(self.buf))
        if start + 4 + length * element_bytes > len(self.buf):
            raise ValueError(f"a vector of {length} elements runs past the end of the file")
        return start + 4, length

    def length(self, slot: int) -> int:
        """Length of a vector field (of bytes, or of anything), 0 when absent."""
        vector = self._vector(slot, 1)
        return 0 if vector is None else vector[1]

    def ints(self, slot: int) -> tuple[int, ...] | None:
        """An int32 vector field, None when absent."""
        vector = self._vector(slot, 4)
        if vector is None:
            return None
        start, length = vector
        return struct.unpack_from(f"<{length}i", self.buf, start)

    def tables(self, slot: int) -> list[_Table]:
        """A vector of tables, [] when absent."""
        vector = self._vector(slot, 4)
        if vector is None:
            return []
        start, length = vector
        return [_Table(self.buf, self._indirect(start + 4 * j)) for j in range(length)]

    def table(self, slot: int) -> _Table | None:
        """A table field (a union's value), None when absent."""
        at = self._field(slot)
        return _Table(self.buf, self._indirect(at)) if at else None


def _inside(buf: bytes, pos: int) -> int:
    # struct would read a negative position from the end of the buffer.
    if not 0 <= pos < len(buf):
        raise ValueError(f"offset {pos} is outside the {len(buf)}-byte file")
    return pos


def _op_names(fb_model: _Table) -> tuple[str, ...]:
    names = []
    for code in fb_model.tables(_MODEL_OPCODES):
        # Codes above 127 live in builtin_code; older files only fill the int8 deprecated field.
        builtin = max(code.scalar(_OPCODE_BUILTIN, _I32), code.scalar(_OPCODE_DEPRECATED_BUILTIN, _I8))
        if builtin == schema.CUSTOM:
            custom = (code.string(_OPCODE_CUSTOM) or b"").decode("utf-8", errors="replace")
            names.append(f"FLEX:{custom[len('Flex'):]}" if custom.startswith("Flex") else f"CUSTOM:{custom}")
        else:
            names.append(_BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}"))
    return tuple(names)


def _constant_buffers(fb_model: _Table) -> tuple[bool, ...]:
    """For each buffer: does it hold data (inline, or at an offset for files above 2 GB)?"""
    return tuple(buffer.length(_BUFFER_DATA) > 0
                 or (buffer.scalar(_BUFFER_OFFSET, _U64) > 1 and buffer.scalar(_BUFFER_SIZE, _U64) > 0)
                 for buffer in fb_model.tables(_MODEL_BUFFERS))


def _read_subgraph(fb_sg: _Table, index: int, op_names: tuple[str, ...], constant: tuple[bool, ...]) -> SubgraphInfo:
    tensors = []
    for t, fb_t in enumerate(fb_sg.tables(_SUBGRAPH_TENSORS)):
        shape = fb_t.ints(_TENSOR_SHAPE) or ()
        signature = fb_t.ints(_TENSOR_SIGNATURE) or shape
        buffer = fb_t.scalar(_TENSOR_BUFFER, _U32)
        if buffer >= max(len(constant), 1):
            raise ValueError(f"tensor {t} points at buffer {buffer}, the file has {len(constant)}")
        dtype = fb_t.scalar(_TENSOR_TYPE, _I8)
        tensors.append(
            TensorInfo(
                index=t,
                name=(fb_t.string(_TENSOR_NAME) or b"").decode("utf-8", errors="replace"),
                shape=shape,
                shape_signature=signature,
                dtype=_DTYPE_NAMES.get(dtype, f"unknown({dtype})"),
                buffer=buffer,
                is_constant=bool(constant) and constant[buffer],
            )
        )
    ops = []
    for o, fb_op in enumerate(fb_sg.tables(_SUBGRAPH_OPERATORS)):
        opcode = fb_op.scalar(_OP_OPCODE, _U32)
        if opcode >= len(op_names):
            raise ValueError(f"operator {o} uses opcode {opcode}, the file defines {len(op_names)}")
        name = op_names[opcode]
        reader = _OPTION_READERS.get(name)
        ops.append(
            OpInfo(
                subgraph=index,
                index=o,
                name=name,
                inputs=fb_op.ints(_OP_INPUTS) or (),
                outputs=fb_op.ints(_OP_OUTPUTS) or (),
                options=reader(fb_op) if reader else {},
            )
        )
    return SubgraphInfo(
        index=index,
        name=(fb_sg.string(_SUBGRAPH_NAME) or b"").decode("utf-8", errors="replace"),
        tensors=tuple(tensors),
        inputs=fb_sg.ints(_SUBGRAPH_INPUTS) or (),
        outputs=fb_sg.ints(_SUBGRAPH_OUTPUTS) or (),
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


def _options(fb_op: _Table, options: str) -> _Table | None:
    """The op's builtin options table if it is of type `options`, else None (defaults apply)."""
    if fb_op.scalar(_OP_OPTIONS_TYPE, _U8) != schema.OPTIONS[options]:
        return None
    return fb_op.table(_OP_OPTIONS)


def _mirror_pad(fb_op: _Table) -> dict[str, Any]:
    opts = _options(fb_op, "MirrorPadOptions")
    mode = opts.scalar(4, _I8) if opts else schema.REFLECT  # MirrorPadOptions.mode
    return {"mode": _MIRROR_PAD_MODES.get(mode, str(mode))}


def _softmax(fb_op: _Table) -> dict[str, Any]:
    opts = _options(fb_op, "SoftmaxOptions")
    return {"beta": float(opts.scalar(4, _F32, 0.0)) if opts else 0.0}  # SoftmaxOptions.beta


def _depth_to_space(fb_op: _Table) -> dict[str, Any]:
    opts = _options(fb_op, "DepthToSpaceOptions")
    return {"block_size": int(opts.scalar(4, _I32)) if opts else 0}  # DepthToSpaceOptions.block_size


def _strided_slice(fb_op: _Table) -> dict[str, Any]:
    opts = _options(fb_op, "StridedSliceOptions")
    if opts is None:
        return {"ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    return {  # StridedSliceOptions slots 8, 10, 12
        "ellipsis_mask": int(opts.scalar(8, _I32)),
        "new_axis_mask": int(opts.scalar(10, _I32)),
        "shrink_axis_mask": int(opts.scalar(12, _I32)),
    }


def _batch_matmul(fb_op: _Table) -> dict[str, Any]:
    opts = _options(fb_op, "BatchMatMulOptions")
    return {"adj_x": bool(opts and opts.scalar(4, _U8))}  # BatchMatMulOptions.adj_x


# Only the options something downstream reads: GPU delegate constraints (gpu_ops) and MACs (macs).
_OPTION_READERS = {
    "MIRROR_PAD": _mirror_pad,
    "SOFTMAX": _softmax,
    "DEPTH_TO_SPACE": _depth_to_space,
    "STRIDED_SLICE": _strided_slice,
    "BATCH_MATMUL": _batch_matmul,
}
