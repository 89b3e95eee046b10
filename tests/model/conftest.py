"""Build tiny .tflite flatbuffers by hand (schema object API, no TensorFlow) for edge cases."""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

REPO = Path(__file__).resolve().parents[2]
FIXTURE_MODELS = REPO / "tests" / "fixtures" / "models"
REFERENCE_MODELS = REPO / "mai_bench" / "reference_models"

_NUMPY_TYPES = {
    np.dtype("float32"): schema.TensorType.FLOAT32,
    np.dtype("int32"): schema.TensorType.INT32,
    np.dtype("int8"): schema.TensorType.INT8,
    np.dtype("uint8"): schema.TensorType.UINT8,
}


class GraphBuilder:
    """One-subgraph model: add tensors and ops, then `build()` the .tflite bytes."""

    def __init__(self) -> None:
        self.tensors: list[schema.TensorT] = []
        self.buffers: list[schema.BufferT] = [schema.BufferT()]  # buffer 0 is the empty sentinel
        self.ops: list[schema.OperatorT] = []
        self.opcodes: list[tuple[int, str | None]] = []

    def tensor(self, shape, dtype=schema.TensorType.FLOAT32, signature=None, name=None) -> int:
        t = schema.TensorT()
        t.shape = list(shape)
        t.shapeSignature = list(signature) if signature is not None else None
        t.type = dtype
        t.name = name or f"t{len(self.tensors)}"
        t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, array, name=None) -> int:
        array = np.ascontiguousarray(array)
        index = self.tensor(array.shape, _NUMPY_TYPES[array.dtype], name=name)
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(array.tobytes(), dtype=np.uint8)
        self.buffers.append(buffer)
        self.tensors[index].buffer = len(self.buffers) - 1
        return index

    def op(self, code: int, inputs, outputs, options_type=0, options=None, custom: str | None = None) -> None:
        key = (code, custom)
        if key not in self.opcodes:
            self.opcodes.append(key)
        op = schema.OperatorT()
        op.opcodeIndex = self.opcodes.index(key)
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self.ops.append(op)

    def conv(self, x: int, out: int, kh: int, kw: int, cin: int, cout: int, stride=1, padding="SAME") -> None:
        rng = np.random.default_rng(0)
        w = self.const(rng.standard_normal((cout, kh, kw, cin)).astype(np.float32) * 0.1)
        b = self.const(np.zeros(cout, np.float32))
        opts = schema.Conv2DOptionsT()
        opts.padding = getattr(schema.Padding, padding)
        opts.strideH = opts.strideW = stride
        opts.dilationHFactor = opts.dilationWFactor = 1
        self.op(schema.BuiltinOperator.CONV_2D, [x, w, b], [out], schema.BuiltinOptions.Conv2DOptions, opts)

    def build(self, inputs, outputs) -> bytes:
        sg = schema.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, list(inputs), list(outputs), self.ops
        sg.name = "main"
        model = schema.ModelT()
        model.version = 3
        model.subgraphs = [sg]
        model.buffers = self.buffers
        model.description = "mai-bench test model"
        model.operatorCodes = []
        for code, custom in self.opcodes:
            oc = schema.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.customCode = custom
            oc.version = 1
            model.operatorCodes.append(oc)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def conv_model(h=8, w=12, dynamic=False) -> bytes:
    """[1,h,w,4] -> conv 3x3 4->8 -> DEPTH_TO_SPACE 2 -> [1,2h,2w,2]; H and W dynamic if asked."""
    g = GraphBuilder()
    sig = [1, -1, -1, 4] if dynamic else None
    x = g.tensor([1, h, w, 4], signature=sig, name="raw")
    y = g.tensor([1, h, w, 8], signature=[1, -1, -1, 8] if dynamic else None)
    z = g.tensor([1, 2 * h, 2 * w, 2], signature=[1, -1, -1, 2] if dynamic else None, name="rgb")
    g.conv(x, y, 3, 3, 4, 8)
    d2s = schema.DepthToSpaceOptionsT()
    d2s.blockSize = 2
    g.op(schema.BuiltinOperator.DEPTH_TO_SPACE, [y], [z], schema.BuiltinOptions.DepthToSpaceOptions, d2s)
    return g.build([x], [z])


@pytest.fixture
def graph_builder():
    return GraphBuilder


@pytest.fixture
def write_model(tmp_path):
    """Write bytes to a .tflite file under tmp_path and return its path."""

    def write(data: bytes, name: str = "model.tflite") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def conv_model_bytes():
    return conv_model


@pytest.fixture
def fixture_models() -> Path:
    """Small TensorFlow-made test models; missing files fail the tests that use them, on purpose."""
    return FIXTURE_MODELS


@pytest.fixture
def reference_models() -> Path:
    return REFERENCE_MODELS
