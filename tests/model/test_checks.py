"""check_model and gpu_issues: the challenge contract, GPU delegate op support and constraints."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from mai_bench.errors import ModelError
from mai_bench.model.checks import CheckReport, Finding, check_model
from mai_bench.model.gpu_ops import SOURCE, SUPPORTED_OPS, gpu_issues
from mai_bench.model.reader import read_model

S = schema.BuiltinOperator
O = schema.BuiltinOptions


def _codes(report: CheckReport, severity: str) -> list[str]:
    return [f.code for f in report.findings if f.severity == severity]


def _isp(g, dynamic=True, out_channels=12, block=2, x_dtype=schema.TensorType.FLOAT32):
    """[1,H,W,4] -> 1x1 conv to `out_channels` -> DEPTH_TO_SPACE(block)."""
    sig = [1, -1, -1] if dynamic else None
    x = g.tensor([1, 4, 6, 4], dtype=x_dtype, signature=sig and sig + [4], name="raw")
    y = g.tensor([1, 4, 6, out_channels], signature=sig and sig + [out_channels])
    c = out_channels // (block * block)
    z = g.tensor([1, 4 * block, 6 * block, c], signature=sig and sig + [c], name="rgb")
    g.conv(x, y, 1, 1, 4, out_channels)
    opts = schema.DepthToSpaceOptionsT()
    opts.blockSize = block
    g.op(S.DEPTH_TO_SPACE, [y], [z], O.DepthToSpaceOptions, opts)
    return x, z


def test_dynamic_isp_passes(write_model, graph_builder):
    g = graph_builder()
    x, z = _isp(g)
    report = check_model(write_model(g.build([x], [z])))
    assert report.passed, report.findings
    assert _codes(report, "error") == []
    assert _codes(report, "info") == ["input-shape", "size", "macs"]
    assert report.macs is not None and report.macs.shape_source == "litert-resize"
    assert report.macs.total_macs == 544 * 960 * 12 * 4
    d = report.to_dict()
    assert d["passed"] is True and d["macs"]["total_macs"] == 544 * 960 * 48
    assert d["size_bytes"] == report.model.size_bytes
    assert "gpu_compatibility.cc" in d["gpu_ops_source"]


def test_wrong_output_channels_fail(write_model, graph_builder):
    g = graph_builder()
    x, z = _isp(g, out_channels=8)  # 2 colour channels after DEPTH_TO_SPACE
    report = check_model(write_model(g.build([x], [z])))
    assert not report.passed
    (error,) = report.errors
    assert error.code == "output-shape"
    assert "[1,1088,1920,2]" in error.message and "[1,1088,1920,3]" in error.message


def test_static_other_size_resizable_is_a_warning(write_model, graph_builder):
    g = graph_builder()
    x, z = _isp(g, dynamic=False)
    report = check_model(write_model(g.build([x], [z])))
    assert report.passed
    assert _codes(report, "warning") == ["input-shape"]
    assert "[1,4,6,4]" in report.findings[0].message


def test_int8_input_fails(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4, 6, 4], dtype=schema.TensorType.INT8, signature=[1, -1, -1, 4])
    f = g.tensor([1, 4, 6, 4], signature=[1, -1, -1, 4])
    g.op(S.DEQUANTIZE, [x], [f])
    y = g.tensor([1, 4, 6, 12], signature=[1, -1, -1, 12])
    z = g.tensor([1, 8, 12, 3], signature=[1, -1, -1, 3])
    g.conv(f, y, 1, 1, 4, 12)
    opts = schema.DepthToSpaceOptionsT()
    opts.blockSize = 2
    g.op(S.DEPTH_TO_SPACE, [y], [z], O.DepthToSpaceOptions, opts)
    g.tensors[x].quantization = schema.QuantizationParametersT()
    g.tensors[x].quantization.scale, g.tensors[x].quantization.zeroPoint = [0.01], [0]
    report = check_model(write_model(g.build([x], [z])))
    assert _codes(report, "error") == ["input-dtype"]
    assert "int8" in report.errors[0].message and "float32" in report.errors[0].message


def test_two_inputs_and_two_outputs_fail(write_model, graph_builder):
    g = graph_builder()
    a, b, c = g.tensor([1, 4]), g.tensor([1, 4]), g.tensor([1, 4])
    g.op(S.ADD, [a, b], [c])
    report = check_model(write_model(g.build([a, b], [c, a])))
    assert _codes(report, "error") == ["input-count", "output-count"]
    assert report.macs is None


def test_resize_failure_is_an_error_with_litert_reason(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 8, 12, 4])
    y = g.tensor([1, 384])
    g.op(S.RESHAPE, [x, g.const(np.array([1, 384], np.int32))], [y])
    report = check_model(write_model(g.build([x], [y])))
    (error,) = report.errors
    assert error.code == "full-hd-resize"
    assert "RESHAPE" in error.message and "num_input_elements" in error.message
    assert report.macs is None


def test_custom_and_flex_ops_are_errors_and_skip_litert(write_model, graph_builder):
    g = graph_builder()
    x, y, z = g.tensor([1, 4]), g.tensor([1, 4]), g.tensor([1, 4])
    g.op(S.CUSTOM, [x], [y], custom="FlexCumprod")
    g.op(S.CUSTOM, [y], [z], custom="MyOp")
    report = check_model(write_model(g.build([x], [z])))
    assert _codes(report, "error") == ["flex-ops", "custom-ops"]
    assert "FLEX:Cumprod" in report.errors[0].message
    assert "CUSTOM:MyOp" in report.errors[1].message
    assert "shape-skipped" in _codes(report, "info")


def test_custom_op_in_fullhd_model_still_gets_shape_check_from_file(write_model, graph_builder):
    g = graph_builder()
    x, y = g.tensor([1, 544, 960, 4]), g.tensor([1, 544, 960, 3])
    g.op(S.CUSTOM, [x], [y], custom="MyDemosaic")
    report = check_model(write_model(g.build([x], [y])))
    assert _codes(report, "error") == ["custom-ops", "output-shape"]
    assert report.macs.shape_source == "flatbuffer" and report.macs.total_macs == 0


def test_not_a_model_raises(write_model):
    with pytest.raises(ModelError):
        check_model(write_model(b"\x89PNG\r\n\x1a\n" + bytes(100)))


def test_finding_validation():
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "msg")
    with pytest.raises(ValueError, match="one line"):
        Finding("x", "error", "msg", "a\nb")


# --- GPU delegate ops ---------------------------------------------------------------------------------


def _single_op_model(g, code, n_inputs=1, options_type=0, options=None, shape=(1, 4, 4, 4), extra=()):
    inputs = [g.tensor(list(shape)) for _ in range(n_inputs)] + list(extra)
    out = g.tensor(list(shape))
    g.op(code, inputs, [out], options_type, options)
    return g.build(inputs[:n_inputs], [out])


@pytest.mark.parametrize("code, name, fix_word", [
    (S.TOPK_V2, "TOPK_V2", "post-processing"),
    (S.ARG_MAX, "ARG_MAX", "post-processing"),
    (S.GATHER_ND, "GATHER_ND", "GATHER"),
    (S.REVERSE_V2, "REVERSE_V2", "CONV_2D"),
    (S.SQUEEZE, "SQUEEZE", "RESHAPE"),
    (S.SCATTER_ND, "SCATTER_ND", "CONCATENATION"),
    (S.ATAN2, "ATAN2", "post-processing"),
    (S.LOG_SOFTMAX, "LOG_SOFTMAX", "SOFTMAX"),
    (S.WHERE, "WHERE", "post-processing"),
    (S.SEGMENT_SUM, "SEGMENT_SUM", "replace SEGMENT_SUM"),
])
def test_unsupported_builtin_ops(write_model, graph_builder, code, name, fix_word):
    info = read_model(write_model(_single_op_model(graph_builder(), code)))
    (issue,) = gpu_issues(info)
    assert issue.op == name and issue.count == 1
    assert "not supported by the GPU delegate" in issue.reason
    assert fix_word in issue.fix and "\n" not in issue.fix


def test_repeated_unsupported_op_is_grouped(write_model, graph_builder):
    g = graph_builder()
    x, y, z = (g.tensor([1, 4, 4, 4]) for _ in range(3))
    g.op(S.ARG_MAX, [x], [y])
    g.op(S.ARG_MAX, [y], [z])
    report = check_model(write_model(g.build([x], [z])))
    gpu = [f for f in report.findings if f.code == "gpu-unsupported"]
    assert len(gpu) == 1 and gpu[0].message.startswith("ARG_MAX (x2):")


def _mirror(mode):
    o = schema.MirrorPadOptionsT()
    o.mode = mode
    return o


def _softmax(beta):
    o = schema.SoftmaxOptionsT()
    o.beta = beta
    return o


def _d2s(block):
    o = schema.DepthToSpaceOptionsT()
    o.blockSize = block
    return o


def _strided(shrink):
    o = schema.StridedSliceOptionsT()
    o.shrinkAxisMask = shrink
    return o


@pytest.mark.parametrize("build, reason", [
    (lambda g: _single_op_model(g, S.MIRROR_PAD, 1, O.MirrorPadOptions, _mirror(schema.MirrorPadMode.SYMMETRIC),
                                extra=[g.const(np.ones((4, 2), np.int32))]), "SYMMETRIC"),
    (lambda g: _single_op_model(g, S.SOFTMAX, 1, O.SoftmaxOptions, _softmax(2.0)), "beta=2.0"),
    (lambda g: _single_op_model(g, S.DEPTH_TO_SPACE, 1, O.DepthToSpaceOptions, _d2s(1)), "block_size=1"),
    (lambda g: _single_op_model(g, S.MEAN, 2), "axes that are not a constant int32"),
    (lambda g: _single_op_model(g, S.SUM, 1, extra=[g.const(np.array([1.0], np.float32))]), "not a constant int32"),
    (lambda g: _single_op_model(g, S.ADD, 3), "ADD with 3 inputs"),
    (lambda g: _single_op_model(g, S.SLICE, 1, shape=(4, 4)), "SLICE on a 2-D tensor"),
    (lambda g: _single_op_model(g, S.STRIDED_SLICE, 1, O.StridedSliceOptions, _strided(8)), "shrink_axis_mask"),
])
def test_gpu_constraints(write_model, graph_builder, build, reason):
    info = read_model(write_model(build(graph_builder())))
    (issue,) = gpu_issues(info)
    assert reason in issue.reason


@pytest.mark.parametrize("build", [
    lambda g: _single_op_model(g, S.MIRROR_PAD, 1, O.MirrorPadOptions, _mirror(schema.MirrorPadMode.REFLECT),
                               extra=[g.const(np.ones((4, 2), np.int32))]),
    lambda g: _single_op_model(g, S.SOFTMAX, 1, O.SoftmaxOptions, _softmax(1.0)),
    lambda g: _single_op_model(g, S.MEAN, 1, extra=[g.const(np.array([1, 2], np.int32))]),
    lambda g: _single_op_model(g, S.ADD, 2),
    lambda g: _single_op_model(g, S.STRIDED_SLICE, 1, O.StridedSliceOptions, _strided(0)),
    lambda g: _single_op_model(g, S.PRELU, 2),
])
def test_gpu_supported_ops_pass(write_model, graph_builder, build):
    assert gpu_issues(read_model(write_model(build(graph_builder())))) == ()


def test_gpu_op_list_facts():
    assert "gpu_compatibility.cc" in SOURCE
    assert {"CONV_2D", "DEPTH_TO_SPACE", "PRELU", "MEAN", "MIRROR_PAD", "SELECT_V2"} <= SUPPORTED_OPS
    assert not {"TOPK_V2", "ARG_MAX", "ARG_MIN", "ATAN2", "GATHER_ND", "SELECT", "LOG_SOFTMAX"} & SUPPORTED_OPS


# --- models generated with TensorFlow (tests/fixtures/models, mai_bench/reference_models) -------------------


def test_fixture_dynamic_isp_passes(fixture_models):
    report = check_model(fixture_models / "tiny_isp.tflite")
    assert report.passed, report.errors
    assert report.macs is not None and report.macs.shape_source == "litert-resize"


def test_fixture_fullhd_passes_with_file_shapes(fixture_models):
    report = check_model(fixture_models / "tiny_isp_fullhd.tflite")
    assert report.passed and _codes(report, "warning") == []
    # one 1x1 conv 4 -> 12 at 544x960
    assert report.macs.total_macs == 544 * 960 * 12 * 4
    assert report.macs.shape_source == "flatbuffer"


@pytest.mark.parametrize("file, code, words", [
    ("wrong_output.tflite", "output-shape", "[1,544,960,3]"),
    ("tiny_isp_static.tflite", "full-hd-resize", "MUL"),
    ("int8_input.tflite", "input-dtype", "int8"),
    ("flex_op.tflite", "flex-ops", "FLEX:"),
    ("gpu_unsupported_op.tflite", "gpu-unsupported", "not supported by the GPU delegate"),
])
def test_fixture_failures(fixture_models, file, code, words):
    report = check_model(fixture_models / file)
    assert not report.passed
    assert code in [f.code for f in report.errors]
    finding = next(f for f in report.errors if f.code == code)
    assert words in finding.message and finding.fix


@pytest.mark.parametrize("file", ["microisp_1_0.tflite", "microisp_0_5.tflite", "pynet_v2_mobile.tflite"])
def test_reference_models_pass(reference_models, file):
    report = check_model(reference_models / file)
    assert report.passed, report.errors
    assert _codes(report, "warning") == []
    assert report.macs.shape_source == "flatbuffer"


def test_microisp_macs(reference_models):
    # 3 colours x 2 generators x 8 full-resolution 3x3 4->4 convs = 48 x 544*960*4*36 = 3.61 GMACs; the strided
    # attention convs add a little.
    macs = check_model(reference_models / "microisp_1_0.tflite").macs
    assert 48 * 544 * 960 * 4 * 36 < macs.total_macs < 3.7e9
    assert set(macs.by_op) == {"CONV_2D"}
