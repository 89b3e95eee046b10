"""read_model: fields on hand-built and fixture models; every kind of non-model file becomes ModelError."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mai_bench.errors import ModelError
from mai_bench.model.reader import read_model

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(32)


def test_conv_model_fields(write_model, conv_model_bytes):
    data = conv_model_bytes(h=8, w=12, dynamic=True)
    path = write_model(data)
    info = read_model(path)

    assert info.path == path
    assert info.size_bytes == len(data)
    assert info.size_mib == pytest.approx(len(data) / 1048576)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.schema_version == 3
    assert info.subgraph_count == 1
    (inp,) = info.inputs
    assert (inp.name, inp.shape, inp.shape_signature, inp.dtype) == ("raw", (1, 8, 12, 4), (1, -1, -1, 4), "float32")
    assert inp.dynamic_dims == (1, 2)
    (out,) = info.outputs
    assert (out.name, out.shape_signature, out.dynamic_dims) == ("rgb", (1, -1, -1, 2), (1, 2))
    assert info.op_histogram == {"CONV_2D": 1, "DEPTH_TO_SPACE": 1}
    assert info.op_count == 2
    # 3x3 conv 4->8: 8*3*3*4 weights + 8 biases.
    assert info.param_count == 8 * 3 * 3 * 4 + 8
    conv, d2s = info.ops
    assert (conv.name, conv.inputs, conv.outputs) == ("CONV_2D", (0, 3, 4), (1,))
    assert d2s.options == {"block_size": 2}


def test_static_model_has_no_dynamic_dims(write_model, conv_model_bytes):
    info = read_model(write_model(conv_model_bytes(dynamic=False)))
    assert info.inputs[0].shape_signature == info.inputs[0].shape == (1, 8, 12, 4)
    assert info.inputs[0].dynamic_dims == ()


def test_json_dict_is_complete(write_model, conv_model_bytes):
    d = read_model(write_model(conv_model_bytes(dynamic=True))).to_dict()
    assert d["inputs"][0] == {
        "name": "raw", "shape": [1, 8, 12, 4], "shape_signature": [1, -1, -1, 4],
        "dtype": "float32", "dynamic_dims": [1, 2],
    }
    assert d["op_histogram"] == {"CONV_2D": 1, "DEPTH_TO_SPACE": 1}
    assert d["param_count"] == 296 and d["op_count"] == 2 and d["subgraph_count"] == 1


def test_custom_flex_and_extended_builtin_names(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4, 4, 4])
    a, b, c, d = (g.tensor([1, 4, 4, 4]) for _ in range(4))
    g.op(schema.BuiltinOperator.CUSTOM, [x], [a], custom="MyResampler")
    g.op(schema.BuiltinOperator.CUSTOM, [a], [b], custom="FlexAtan2")
    g.op(schema.BuiltinOperator.CUSTOM, [b], [c], custom="FlexAtan2")
    # GELU is 150: only in builtin_code, the int8 deprecated field holds the 127 placeholder.
    g.op(schema.BuiltinOperator.GELU, [c], [d])
    info = read_model(write_model(g.build([x], [d])))
    assert info.op_histogram == {"FLEX:Atan2": 2, "CUSTOM:MyResampler": 1, "GELU": 1}
    assert [op.is_flex for op in info.ops] == [False, True, True, False]
    assert [op.is_custom for op in info.ops] == [True, True, True, False]


def test_param_count_rule(write_model, graph_builder):
    """Conv weights and its int32 bias count; the RESHAPE shape and a scalar literal do not; a 1-element PReLU
    slope does; a buffer shared by two tensors counts once."""
    g = graph_builder()
    x = g.tensor([1, 4, 4, 2], dtype=schema.TensorType.INT8)
    w = g.const(np.ones((3, 1, 1, 2), np.int8))
    bias = g.const(np.zeros(3, np.int32))
    y = g.tensor([1, 4, 4, 3], dtype=schema.TensorType.INT8)
    opts = schema.Conv2DOptionsT()
    opts.strideH = opts.strideW = opts.dilationHFactor = opts.dilationWFactor = 1
    g.op(schema.BuiltinOperator.CONV_2D, [x, w, bias], [y], schema.BuiltinOptions.Conv2DOptions, opts)
    z = g.tensor([1, 48], dtype=schema.TensorType.INT8)
    g.op(schema.BuiltinOperator.RESHAPE, [y, g.const(np.array([1, 48], np.int32))], [z])
    f = g.tensor([1, 48])
    g.op(schema.BuiltinOperator.DEQUANTIZE, [z], [f])
    scale = g.const(np.full((1, 48), 0.5, np.float32))
    scale_again = g.tensor([1, 48])
    g.tensors[scale_again].buffer = g.tensors[scale].buffer
    s1, s2, s3, s4 = (g.tensor([1, 48]) for _ in range(4))
    g.op(schema.BuiltinOperator.MUL, [f, scale], [s1])
    g.op(schema.BuiltinOperator.MUL, [s1, scale_again], [s2])
    g.op(schema.BuiltinOperator.ADD, [s2, g.const(np.array(0.5, np.float32))], [s3])
    g.op(schema.BuiltinOperator.PRELU, [s3, g.const(np.array([0.2], np.float32))], [s4])
    info = read_model(write_model(g.build([x], [s4])))
    assert info.param_count == 3 * 2 + 3 + 48 + 1
    assert info.inputs[0].dtype == "int8"


def test_optional_input_and_subgraph_tensor_lookup(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4])
    w = g.const(np.ones((2, 4), np.float32))
    y = g.tensor([1, 2])
    g.op(schema.BuiltinOperator.FULLY_CONNECTED, [x, w, -1], [y])
    info = read_model(write_model(g.build([x], [y])))
    assert info.ops[0].inputs == (0, 1, -1)
    assert info.primary.tensor(-1) is None
    assert info.primary.tensor(1).is_constant


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty (0 bytes)"),
        (b"TFL3", "only 4 bytes long"),
        (PNG_HEADER, "looks like a PNG image"),
        (b"PK\x03\x04" + bytes(40), "ZIP archive"),
        (b"\x89HDF\r\n\x1a\n" + bytes(40), "HDF5"),
        (b"\x10\x00\x00\x00TFL2" + bytes(40), "bytes 4-8 are b'TFL2'"),
        (bytes(range(256)) * 4, "is not a TFLite model"),
    ],
)
def test_not_a_model(write_model, content, words):
    path = write_model(content, "suspect.tflite")
    with pytest.raises(ModelError) as raised:
        read_model(path)
    assert words in raised.value.message
    assert str(path) in raised.value.message
    assert raised.value.fix and "\n" not in raised.value.fix


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        read_model(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        read_model(tmp_path)


def test_identifier_but_garbage_is_damaged(write_model):
    path = write_model(b"\xff\xff\xff\x7fTFL3" + bytes(range(200)))
    with pytest.raises(ModelError, match="damaged or truncated"):
        read_model(path)


def test_op_using_missing_tensor_is_damaged(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4])
    y = g.tensor([1, 4])
    g.op(schema.BuiltinOperator.RELU, [x], [7])
    with pytest.raises(ModelError, match="uses missing tensor 7"):
        read_model(write_model(g.build([x], [y])))


def test_every_truncation_is_a_model_error(write_model, conv_model_bytes):
    data = conv_model_bytes(dynamic=True)
    path = write_model(b"")
    for length in range(len(data)):
        path.write_bytes(data[:length])
        with pytest.raises(ModelError):
            read_model(path)


_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_or_model_error(path) -> None:
    try:
        info = read_model(path)
    except ModelError as error:
        assert error.message and error.fix
    else:
        assert info.size_bytes == path.stat().st_size


@_FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(write_model, data):
    _read_or_model_error(write_model(data))


@_FUZZ
@given(st.binary(min_size=4, max_size=512))
def test_fuzz_random_bytes_with_identifier(write_model, data):
    _read_or_model_error(write_model(data[:4] + b"TFL3" + data[4:]))


@_FUZZ
@given(st.data())
def test_fuzz_corrupted_model(write_model, conv_model_bytes, data):
    model = bytearray(conv_model_bytes(dynamic=True))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(8, len(model) - 1))
        model[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(model)))
    _read_or_model_error(write_model(bytes(model[:cut])))


# --- models generated with TensorFlow (tests/fixtures/models, mai_bench/reference_models) -------------------


def test_fixture_fullhd_model(fixture_models):
    info = read_model(fixture_models / "tiny_isp_fullhd.tflite")
    assert [(t.shape, t.dtype, t.dynamic_dims) for t in info.inputs] == [((1, 544, 960, 4), "float32", ())]
    assert [(t.shape, t.dtype) for t in info.outputs] == [((1, 1088, 1920, 3), "float32")]
    assert info.op_histogram == {"CONV_2D": 1, "DEPTH_TO_SPACE": 1}
    assert info.param_count == 4 * 12 + 12  # one 1x1 conv 4 -> 12 with bias


def test_fixture_dynamic_and_int8_models(fixture_models):
    dynamic = read_model(fixture_models / "tiny_isp.tflite")
    assert dynamic.inputs[0].shape_signature == (1, -1, -1, 4)
    assert dynamic.inputs[0].dynamic_dims == (1, 2)
    assert read_model(fixture_models / "int8_input.tflite").inputs[0].dtype == "int8"
    flex = read_model(fixture_models / "flex_op.tflite")
    assert any(name.startswith("FLEX:") for name in flex.op_histogram)


def test_reference_microisp_matches_published_structure(reference_models):
    info = read_model(reference_models / "microisp_1_0.tflite")
    # MicroISP 1.0 as published: 13,560 parameters, 298 ops with this histogram.
    assert info.param_count == 13_560
    assert info.op_count == 298
    assert info.op_histogram == {
        "CONV_2D": 120, "PRELU": 102, "ADD": 15, "MUL": 15, "LOGISTIC": 12, "MEAN": 12, "RESHAPE": 12,
        "TANH": 6, "DEPTH_TO_SPACE": 3, "CONCATENATION": 1,
    }
    assert info.inputs[0].shape == (1, 544, 960, 4) and info.outputs[0].shape == (1, 1088, 1920, 3)
    assert info.size_bytes == (reference_models / "microisp_1_0.tflite").stat().st_size


def test_reference_pynet_parameter_count(reference_models):
    assert read_model(reference_models / "pynet_v2_mobile.tflite").param_count == 930_255


@_FUZZ
@given(st.data())
def test_fuzz_corrupted_fixture_model(write_model, fixture_models, data):
    model = bytearray((fixture_models / "tiny_isp.tflite").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(8, len(model) - 4))
        model[at : at + 4] = data.draw(st.binary(min_size=4, max_size=4))
    _read_or_model_error(write_model(bytes(model)))
