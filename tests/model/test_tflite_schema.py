"""The model reader reads flatbuffers without the generated TFLite bindings (whose import pulls in numpy): its enum
names (mai_bench/model/tflite_schema.py) must be those of the installed ai-edge-litert bindings, and every field
it reads must come out as the bindings read it, on every fixture and reference model and on built models with
each option the reader knows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ai_edge_litert import schema_py_generated as schema

from mai_bench.model import tflite_schema
from mai_bench.model.reader import read_model

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted((REPO / "tests" / "fixtures" / "models").glob("*.tflite")) + sorted(
    (REPO / "mai_bench" / "reference_models").glob("*.tflite"))


def _enum(cls) -> dict[int, str]:
    return {value: name for name, value in vars(cls).items() if not name.startswith("_")}


def test_the_enum_names_are_the_installed_bindings_ones() -> None:
    assert tflite_schema.BUILTIN_OPERATORS == _enum(schema.BuiltinOperator), \
        "ai-edge-litert changed its schema: run `python scripts/make_tflite_schema.py`"
    assert tflite_schema.TENSOR_TYPES == _enum(schema.TensorType)
    assert tflite_schema.MIRROR_PAD_MODES == _enum(schema.MirrorPadMode)
    assert tflite_schema.CUSTOM == schema.BuiltinOperator.CUSTOM
    assert tflite_schema.OPTIONS == {name: getattr(schema.BuiltinOptions, name) for name in tflite_schema.OPTIONS}


def _ints(is_none: bool, as_numpy) -> tuple[int, ...]:
    return () if is_none else tuple(int(x) for x in as_numpy())


def read_with_bindings(path: Path) -> dict:
    """What the generated bindings read from the file: the fields the reader takes."""
    data = path.read_bytes()
    model = schema.Model.GetRootAs(data, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    buffers = [model.Buffers(i) for i in range(model.BuffersLength())]
    subgraphs = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        tensors = [sg.Tensors(i) for i in range(sg.TensorsLength())]
        ops = [sg.Operators(i) for i in range(sg.OperatorsLength())]
        subgraphs.append({
            "name": sg.Name(),
            "inputs": _ints(sg.InputsIsNone(), sg.InputsAsNumpy),
            "outputs": _ints(sg.OutputsIsNone(), sg.OutputsAsNumpy),
            "tensors": [(t.Name(), _ints(t.ShapeIsNone(), t.ShapeAsNumpy),
                         _ints(t.ShapeSignatureIsNone(), t.ShapeSignatureAsNumpy), t.Type(), t.Buffer())
                        for t in tensors],
            "ops": [(op.OpcodeIndex(), _ints(op.InputsIsNone(), op.InputsAsNumpy),
                     _ints(op.OutputsIsNone(), op.OutputsAsNumpy), op.BuiltinOptionsType()) for op in ops],
        })
    return {"version": model.Version(),
            "codes": [(c.BuiltinCode(), c.DeprecatedBuiltinCode(), c.CustomCode()) for c in codes],
            "buffers": [b.DataLength() > 0 or (b.Offset() > 1 and b.Size() > 0) for b in buffers],
            "subgraphs": subgraphs}


def _name(code: tuple) -> str:
    builtin = max(code[0], code[1])
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = (code[2] or b"").decode()
        return f"FLEX:{custom[4:]}" if custom.startswith("Flex") else f"CUSTOM:{custom}"
    return _enum(schema.BuiltinOperator).get(builtin, f"BUILTIN_{builtin}")


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_every_field_reads_as_the_bindings_read_it(path: Path) -> None:
    expected = read_with_bindings(path)
    info = read_model(path)
    assert info.schema_version == expected["version"]
    assert len(info.subgraphs) == len(expected["subgraphs"])
    for sg, want in zip(info.subgraphs, expected["subgraphs"]):
        assert (sg.name, sg.inputs, sg.outputs) == ((want["name"] or b"").decode(), want["inputs"], want["outputs"])
        got = [(t.name.encode(), t.shape, t.shape_signature, t.dtype, t.buffer, t.is_constant) for t in sg.tensors]
        assert got == [(name or b"", shape, signature or shape, _enum(schema.TensorType)[kind].lower(), buffer,
                        expected["buffers"][buffer]) for name, shape, signature, kind, buffer in want["tensors"]]
        assert [(op.name, op.inputs, op.outputs) for op in sg.ops] == [
            (_name(expected["codes"][opcode]), inputs, outputs) for opcode, inputs, outputs, _ in want["ops"]]


def test_every_option_the_reader_knows_reads_as_written(write_model, graph_builder) -> None:
    g = graph_builder()
    x = g.tensor([1, 4, 4, 4])
    outs = [g.tensor([1, 4, 4, 4]) for _ in range(5)]
    pads = g.tensor([4, 2], schema.TensorType.INT32)
    mirror = schema.MirrorPadOptionsT()
    mirror.mode = schema.MirrorPadMode.SYMMETRIC
    g.op(schema.BuiltinOperator.MIRROR_PAD, [x, pads], [outs[0]], schema.BuiltinOptions.MirrorPadOptions, mirror)
    softmax = schema.SoftmaxOptionsT()
    softmax.beta = 0.5
    g.op(schema.BuiltinOperator.SOFTMAX, [x], [outs[1]], schema.BuiltinOptions.SoftmaxOptions, softmax)
    d2s = schema.DepthToSpaceOptionsT()
    d2s.blockSize = 2
    g.op(schema.BuiltinOperator.DEPTH_TO_SPACE, [x], [outs[2]], schema.BuiltinOptions.DepthToSpaceOptions, d2s)
    strided = schema.StridedSliceOptionsT()
    strided.ellipsisMask, strided.newAxisMask, strided.shrinkAxisMask = 1, 2, 4
    g.op(schema.BuiltinOperator.STRIDED_SLICE, [x, pads, pads, pads], [outs[3]],
         schema.BuiltinOptions.StridedSliceOptions, strided)
    matmul = schema.BatchMatMulOptionsT()
    matmul.adjX = True
    g.op(schema.BuiltinOperator.BATCH_MATMUL, [x, x], [outs[4]], schema.BuiltinOptions.BatchMatMulOptions, matmul)
    g.op(schema.BuiltinOperator.SOFTMAX, [x], [outs[1]])  # no options: the schema's defaults
    ops = read_model(write_model(g.build([x], outs))).ops
    assert [op.options for op in ops] == [
        {"mode": "SYMMETRIC"}, {"beta": 0.5}, {"block_size": 2},
        {"ellipsis_mask": 1, "new_axis_mask": 2, "shrink_axis_mask": 4}, {"adj_x": True}, {"beta": 0.0}]


def test_reading_a_model_imports_neither_flatbuffers_nor_numpy() -> None:
    code = ("import sys; from mai_bench.model.reader import read_model; read_model(sys.argv[1]); "
            "print(sorted(m for m in ('numpy', 'flatbuffers', 'ai_edge_litert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(MODELS[-1])], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
