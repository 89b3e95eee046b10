"""MACs on small hand-built models, checked against hand computation, from file shapes and LiteRT resizes."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from mai_bench.model.macs import MacsReport, count_macs
from mai_bench.model.reader import read_model
from mai_bench.model.shapes import ResizeError, brief_litert_message, tensor_shapes

S = schema.BuiltinOperator


def _depthwise(g, x, out, k, channels):
    w = g.const(np.full((1, k, k, channels), 0.1, np.float32))
    b = g.const(np.zeros(channels, np.float32))
    opts = schema.DepthwiseConv2DOptionsT()
    opts.padding = schema.Padding.SAME
    opts.strideH = opts.strideW = opts.depthMultiplier = 1
    opts.dilationHFactor = opts.dilationWFactor = 1
    g.op(S.DEPTHWISE_CONV_2D, [x, w, b], [out], schema.BuiltinOptions.DepthwiseConv2DOptions, opts)


def test_conv_at_its_own_shape_uses_file_shapes(write_model, conv_model_bytes):
    info = read_model(write_model(conv_model_bytes(h=8, w=12)))
    report = count_macs(info, (1, 8, 12, 4))
    # out [1,8,12,8], kernel 3x3x4 per output value; DEPTH_TO_SPACE has no MACs.
    assert report.by_op == {"CONV_2D": 8 * 12 * 8 * 3 * 3 * 4}
    assert report.total_macs == 27648
    assert report.shape_source == "flatbuffer"
    assert report.input_shape == (1, 8, 12, 4)
    assert report.uncounted_ops == 0


def test_dynamic_conv_at_full_hd_resizes_in_litert(write_model, conv_model_bytes):
    info = read_model(write_model(conv_model_bytes(dynamic=True)))
    report = count_macs(info)  # default: the Full-HD input [1,544,960,4]
    assert report.input_shape == (1, 544, 960, 4)
    assert report.shape_source == "litert-resize"
    assert report.total_macs == 544 * 960 * 8 * 36 == 150_405_120
    assert report.gmacs == pytest.approx(0.150405120)


def test_static_resizable_model_is_resized_too(write_model, conv_model_bytes):
    info = read_model(write_model(conv_model_bytes(h=8, w=12)))
    report = count_macs(info, (1, 16, 20, 4))
    assert report.shape_source == "litert-resize"
    assert report.total_macs == 16 * 20 * 8 * 36


def test_every_mac_op_from_file_shapes(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 6, 6, 4])
    dw = g.tensor([1, 6, 6, 4])
    _depthwise(g, x, dw, 3, 4)
    # TRANSPOSE_CONV: inputs are output_shape, filter [Cout=2, 2, 2, Cin=4], input.
    up = g.tensor([1, 12, 12, 2])
    tc_opts = schema.TransposeConvOptionsT()
    tc_opts.padding = schema.Padding.SAME
    tc_opts.strideH = tc_opts.strideW = 2
    g.op(S.TRANSPOSE_CONV,
         [g.const(np.array([1, 12, 12, 2], np.int32)), g.const(np.ones((2, 2, 2, 4), np.float32)), dw],
         [up], schema.BuiltinOptions.TransposeConvOptions, tc_opts)
    flat = g.tensor([1, 288])
    g.op(S.RESHAPE, [up, g.const(np.array([1, 288], np.int32))], [flat])
    fc = g.tensor([1, 5])
    g.op(S.FULLY_CONNECTED, [flat, g.const(np.ones((5, 288), np.float32)), -1], [fc])
    # BATCH_MATMUL with adj_x: lhs [1,4,3] read as [1,3,4]; out [1,3,5] -> depth 4.
    lhs = g.const(np.ones((1, 4, 3), np.float32))
    rhs = g.tensor([1, 4, 5])
    g.op(S.RESHAPE, [g.const(np.ones((1, 4, 5), np.float32)), g.const(np.array([1, 4, 5], np.int32))], [rhs])
    mm = g.tensor([1, 3, 5])
    mm_opts = schema.BatchMatMulOptionsT()
    mm_opts.adjX = True
    g.op(S.BATCH_MATMUL, [lhs, rhs], [mm], schema.BuiltinOptions.BatchMatMulOptions, mm_opts)
    info = read_model(write_model(g.build([x], [fc, mm])))

    report = count_macs(info, (1, 6, 6, 4))
    assert report.shape_source == "flatbuffer"
    assert report.by_op == {
        "DEPTHWISE_CONV_2D": 6 * 6 * 4 * 3 * 3,  # one 3x3 window per output value
        "TRANSPOSE_CONV": 6 * 6 * 4 * 2 * 2 * 2,  # every input value times a 2x2 kernel into 2 channels
        "FULLY_CONNECTED": 5 * 288,
        "BATCH_MATMUL": 3 * 5 * 4,
    }
    assert report.total_macs == 1296 + 1152 + 1440 + 60


def test_depthwise_resized_in_litert(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4, 4, 4], signature=[1, -1, -1, 4])
    y = g.tensor([1, 4, 4, 4], signature=[1, -1, -1, 4])
    _depthwise(g, x, y, 5, 4)
    info = read_model(write_model(g.build([x], [y])))
    report = count_macs(info, (1, 10, 7, 4))
    assert report.shape_source == "litert-resize"
    assert report.by_op == {"DEPTHWISE_CONV_2D": 10 * 7 * 4 * 25}


def test_unusable_shapes_are_counted_as_uncounted(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 4, 4, 2])
    y = g.tensor([1, 4, 4, 3])
    g.op(S.CONV_2D, [x, g.const(np.ones((3, 2), np.float32))], [y])  # a 2-D "filter": not a conv we can count
    info = read_model(write_model(g.build([x], [y])))
    report = count_macs(info, (1, 4, 4, 2))
    assert report.total_macs == 0 and report.by_op == {} and report.uncounted_ops == 1


def test_resize_failure_names_litert_reason(write_model, graph_builder):
    g = graph_builder()
    x = g.tensor([1, 8, 12, 4])
    y = g.tensor([1, 384])
    g.op(S.RESHAPE, [x, g.const(np.array([1, 384], np.int32))], [y])
    info = read_model(write_model(g.build([x], [y])))
    with pytest.raises(ResizeError) as raised:
        count_macs(info)
    message = raised.value.message
    assert "LiteRT cannot run the model at input [1,544,960,4]" in message
    assert "RESHAPE" in message and ".h " not in message and "\n" not in message


def test_multi_input_models_cannot_be_resized(write_model, graph_builder):
    g = graph_builder()
    a, b, c = g.tensor([1, 4]), g.tensor([1, 4]), g.tensor([1, 4])
    g.op(S.ADD, [a, b], [c])
    with pytest.raises(ResizeError, match="2 inputs"):
        tensor_shapes(read_model(write_model(g.build([a, b], [c]))))


def test_brief_litert_message():
    raw = ("./tflite/kernels/internal/reshape_utils.h num_input_elements != num_output_elements (2088960 != 384)"
           "Node number 0 (RESHAPE) failed to prepare.")
    assert brief_litert_message(raw) == (
        "num_input_elements != num_output_elements (2088960 != 384). Node number 0 (RESHAPE) failed to prepare."
    )
    flex = ("Select TensorFlow op(s) are not supported. See instructions: https://www.tensorflow.org/lite/guide/"
            "ops_selectNode number 0 (FlexAtan2) failed to prepare.")
    assert brief_litert_message(flex) == (
        "Select TensorFlow op(s) are not supported. Node number 0 (FlexAtan2) failed to prepare."
    )
    assert len(brief_litert_message("x" * 1000)) == 240


def test_report_rejects_inconsistent_totals():
    with pytest.raises(ValueError, match="not the sum"):
        MacsReport(10, {"CONV_2D": 9}, (1, 2, 2, 4), "flatbuffer")
    with pytest.raises(ValueError, match="negative"):
        MacsReport(-1, {"CONV_2D": -1}, (1, 2, 2, 4), "flatbuffer")
