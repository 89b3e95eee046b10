"""Generate mai-bench's runtime reference models and its small test models with TensorFlow.

The reference models are independent re-implementations of the published MicroISP and PyNET-V2 Mobile
structures with random (seeded) weights: they cost the same to run as the originals, but produce no
meaningful image. The official code and weights are CC BY-NC-SA, so nothing of them is copied here.

Needs TensorFlow and ai-edge-litert (`pip install -e '.[models]'` in a separate venv):

    python scripts/make_reference_models.py                 # reference models + MANIFEST.json
    python scripts/make_reference_models.py --test-models   # also tests/fixtures/models/*.tflite
    python scripts/make_reference_models.py --no-reference --test-models --out /tmp/tree

Every file is checked after conversion (size and op histogram against the published targets, output
shape in LiteRT); the script exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path("mai_bench/reference_models")
TEST_MODELS_DIR = Path("tests/fixtures/models")

FULL_HD_INPUT = (1, 544, 960, 4)
FULL_HD_OUTPUT = (1, 1088, 1920, 3)
SEED = 2022
# Published sizes and op counts are matched to within this fraction.
TOLERANCE = 0.05
MIB = 1 << 20
# The challenge's output activation: tanh scaled into roughly [-0.08, 1.08].
TANH_SCALE, TANH_SHIFT = 0.58, 0.5

NOTE = (
    "runtime reference: independent re-implementation of the published structure with random weights; "
    "measures runtime, not image quality"
)


# --------------------------------------------------------------------------------------------------
# Building blocks. Weights are numpy draws turned into graph constants, in call order, so one seed
# fixes every weight of a network.


class Weights:
    """Seeded source of a network's constants; counts the parameters it hands out."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self.count = 0

    def draw(self, shape: tuple[int, ...], std: float, mean: float = 0.0) -> tf.Tensor:
        value = self._rng.normal(mean, std, size=shape).astype(np.float32)
        self.count += value.size
        return tf.constant(value)


def reflect_pad(x: tf.Tensor, amount: int) -> tf.Tensor:
    return tf.pad(x, [[0, 0], [amount, amount], [amount, amount], [0, 0]], mode="REFLECT")


def conv(
    x: tf.Tensor,
    w: Weights,
    channels: int,
    kernel: int,
    stride: int = 1,
    padding: str = "SAME",
    reflect: bool = False,
) -> tf.Tensor:
    """Conv2D + bias; `reflect` pads by kernel//2 with REFLECT first (PyNET style)."""
    fan_in = kernel * kernel * x.shape[-1]
    weights = w.draw((kernel, kernel, x.shape[-1], channels), std=math.sqrt(2.0 / fan_in))
    bias = w.draw((channels,), std=0.01)
    if reflect:
        x, padding = reflect_pad(x, kernel // 2), "VALID"
    return tf.nn.bias_add(tf.nn.conv2d(x, weights, stride, padding), bias)


def depthwise_conv(x: tf.Tensor, w: Weights, kernel: int) -> tf.Tensor:
    """Depthwise conv + bias with reflect padding."""
    channels = x.shape[-1]
    weights = w.draw((kernel, kernel, channels, 1), std=math.sqrt(2.0 / (kernel * kernel)))
    bias = w.draw((channels,), std=0.01)
    y = tf.nn.depthwise_conv2d(reflect_pad(x, kernel // 2), weights, [1, 1, 1, 1], "VALID")
    return tf.nn.bias_add(y, bias)


def prelu(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """PReLU with one slope per channel, shared over H and W.

    Written the way Keras writes it, which is the pattern the TFLite converter fuses into one PRELU op.
    """
    alpha = w.draw((1, 1, x.shape[-1]), std=0.05, mean=0.25)
    return tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x)


def global_mean(x: tf.Tensor) -> tf.Tensor:
    """Global average pool to [1,1,1,C] as RESHAPE + MEAN (the converter folds other spellings into MEAN)."""
    flat = tf.reshape(x, [x.shape[0], 1, -1, x.shape[-1]])
    return tf.reduce_mean(flat, axis=2, keepdims=True)


def instance_norm(x: tf.Tensor, w: Weights) -> tf.Tensor:
    channels = x.shape[-1]
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    scale = w.draw((channels,), std=0.05, mean=1.0)
    shift = w.draw((channels,), std=0.05)
    return (x - mean) * tf.math.rsqrt(variance + 1e-3) * scale + shift


def isp_output(x: tf.Tensor) -> tf.Tensor:
    return tf.tanh(x) * TANH_SCALE + TANH_SHIFT


# --------------------------------------------------------------------------------------------------
# MicroISP: three colour branches, each two stacked generators of 4-channel conv blocks.


def microisp_attention(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """Per-channel gate from a strongly downsampled view of the features."""
    c = x.shape[-1]
    y = prelu(conv(x, w, c, 1, stride=3), w)
    for _ in range(3):
        y = prelu(conv(y, w, c, 3, stride=3, padding="VALID"), w)
    y = prelu(conv(global_mean(y), w, c, 1), w)
    return tf.sigmoid(conv(y, w, c, 1))


def microisp_generator(x: tf.Tensor, w: Weights, blocks: int) -> tf.Tensor:
    """Conv+PReLU blocks in groups of three; each full group ends in attention * features + group input."""
    y = x
    saved = y
    for index in range(blocks):
        y = prelu(conv(y, w, 4, 3), w)
        if index % 3 == 0:
            saved = y
        if index % 3 == 2:
            y = y * microisp_attention(y, w) + saved
    return conv(y, w, 4, 3)


def microisp(blocks: int) -> Callable[[tf.Tensor, Weights], tf.Tensor]:
    def build(x: tf.Tensor, w: Weights) -> tf.Tensor:
        colours = []
        # Scoped op names make op-profile lines readable; like the Keras layer names in the official
        # file, they are about a fifth of its size, so they are part of matching it.
        for colour in ("red", "green", "blue"):
            with tf.name_scope(colour):
                with tf.name_scope("generator_1"):
                    first = tf.tanh(microisp_generator(x, w, blocks))
                with tf.name_scope("generator_2"):
                    second = microisp_generator(first, w, blocks)
                colours.append(tf.nn.depth_to_space(isp_output(second), 2))
        return tf.concat(colours, axis=3)

    return build


# --------------------------------------------------------------------------------------------------
# PyNET-V2 Mobile: three levels (full, 1/2, 1/4 of the packed input), coarse to fine.


def conv_prelu(x: tf.Tensor, w: Weights, channels: int, kernel: int = 3) -> tf.Tensor:
    return prelu(conv(x, w, channels, kernel, reflect=kernel == 3), w)


def grouped_residual(x: tf.Tensor, w: Weights, groups: int, convs: int) -> tf.Tensor:
    """Split channels into groups, run `convs` 3x3 convs per group (instance norm on even groups),
    merge with a 1x1 conv, add the input."""
    width = x.shape[-1] // groups
    outputs = []
    for index, part in enumerate(tf.split(x, groups, axis=3)):
        y = part
        for step in range(convs):
            y = conv(y, w, width, 3, reflect=True)
            if index % 2 == 0 and step == 0:
                y = instance_norm(y, w)
            y = prelu(y, w)
        outputs.append(y)
    merged = prelu(conv(tf.concat(outputs, axis=3), w, x.shape[-1], 1), w)
    return merged + x


def spatial_attention(x: tf.Tensor, w: Weights) -> tf.Tensor:
    y = conv_prelu(x, w, x.shape[-1])
    gate = tf.sigmoid(depthwise_conv(y, w, 5))
    return y * gate + x


def channel_attention(x: tf.Tensor, w: Weights) -> tf.Tensor:
    c = x.shape[-1]
    y = conv_prelu(x, w, c)
    gate = prelu(conv(y, w, c, 1, stride=3), w)
    gate = prelu(conv(gate, w, c, 3, stride=3, padding="VALID"), w)
    gate = prelu(conv(global_mean(gate), w, c, 1), w)
    gate = tf.sigmoid(conv(gate, w, c, 1))
    return y * gate + x


def upsample_merge(coarse: tf.Tensor, fine: tf.Tensor, w: Weights, channels: int) -> tf.Tensor:
    """Bilinear x2 of the coarser level + conv, added to a conv of this level's features, then a 1x1 residual."""
    size = (fine.shape[1], fine.shape[2])
    up = conv_prelu(tf.image.resize(coarse, size, method="bilinear"), w, channels)
    y = up + conv_prelu(fine, w, channels)
    return conv_prelu(y, w, channels, kernel=1) + y


def pynet_v2_mobile(x: tf.Tensor, w: Weights) -> tf.Tensor:
    with tf.name_scope("level_1"):
        level1 = conv_prelu(x, w, 32)
    with tf.name_scope("level_2"):
        level2 = prelu(conv(level1, w, 64, 2, stride=2, padding="VALID"), w)
    with tf.name_scope("level_3"):
        level3 = prelu(conv(level2, w, 128, 2, stride=2, padding="VALID"), w)
        y = grouped_residual(level3, w, groups=4, convs=2)
        y = spatial_attention(y, w)
        y = channel_attention(y, w)
    with tf.name_scope("level_2"):
        y = upsample_merge(y, level2, w, 64)
        y = grouped_residual(y, w, groups=2, convs=3)
        y = channel_attention(y, w)
    with tf.name_scope("level_1"):
        y = upsample_merge(y, level1, w, 32)
        # One conv per group here: with it the parameter count is exactly the published 930,255.
        y = grouped_residual(y, w, groups=4, convs=1)
        y = grouped_residual(y, w, groups=2, convs=1)
        y = tf.nn.depth_to_space(conv_prelu(y, w, 16, kernel=1), 2)
        return isp_output(conv(y, w, 3, 3, reflect=True))


# --------------------------------------------------------------------------------------------------
# Small test models.


def tiny_isp(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """MicroISP-like: conv block, channel gate with residual, conv to 12, tanh, depth_to_space."""
    y = prelu(conv(x, w, 4, 3), w)
    gate = tf.sigmoid(conv(tf.reduce_mean(y, axis=[1, 2], keepdims=True), w, 4, 1))
    y = y * gate + x
    return tf.nn.depth_to_space(isp_output(conv(y, w, 12, 3)), 2)


def tiny_isp_static(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """ISP-like with a [1,32,32,1] lens-shading gain map: the MUL cannot broadcast any other input size."""
    gain = w.draw((1, x.shape[1], x.shape[2], 1), std=0.05, mean=1.0)
    y = prelu(conv(x * gain, w, 4, 3), w)
    return tf.nn.depth_to_space(isp_output(conv(y, w, 12, 3)), 2)


def wrong_output(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """ISP-like but forgets depth_to_space: RGB at the packed (half) resolution."""
    y = prelu(conv(x, w, 4, 3), w)
    return isp_output(conv(y, w, 3, 3))


def gpu_unsupported_op(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """ISP-shaped with LOCAL_RESPONSE_NORMALIZATION, which no version of the TFLite GPU delegate supports
    (REVERSE_V2, ROUND or TOPK_V2 would not do: newer GPU delegates accept them)."""
    y = prelu(conv(x, w, 12, 3), w)
    y = tf.nn.local_response_normalization(y, depth_radius=2)
    return tf.nn.depth_to_space(isp_output(y), 2)


def flex_op(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """ISP-shaped with sinh, which has no TFLite builtin and so becomes the Flex op FlexSinh.

    (A Flex op with several attributes, e.g. Cumprod, serialises them in a different order on every
    conversion; sinh has one, so the file is reproducible.)
    """
    return tf.nn.depth_to_space(isp_output(tf.math.sinh(conv(x, w, 12, 3))), 2)


def int8_isp(x: tf.Tensor, w: Weights) -> tf.Tensor:
    y = prelu(conv(x, w, 4, 3), w)
    return tf.nn.depth_to_space(isp_output(conv(y, w, 12, 3)), 2)


def tiny_isp_fullhd(x: tf.Tensor, w: Weights) -> tf.Tensor:
    """The cheapest Full-HD-shaped network: one 1x1 conv to 12 channels and depth_to_space."""
    return tf.nn.depth_to_space(conv(x, w, 12, 1), 2)


# --------------------------------------------------------------------------------------------------
# Conversion and inspection.


@dataclass(frozen=True)
class Spec:
    """One model to generate."""

    file: str
    build: Callable[[tf.Tensor, Weights], tf.Tensor]
    input_shape: tuple[int | None, ...]
    select_tf_ops: bool = False
    int8: bool = False
    # What the file must do in LiteRT; each returns the problems found.
    checks: tuple[Callable[[Path, "Facts"], list[str]], ...] = ()


def convert(spec: Spec) -> tuple[bytes, int]:
    """Trace `spec.build` at its input shape and convert it to a TFLite flatbuffer; returns (bytes, params)."""
    weights = Weights(SEED)

    @tf.function(input_signature=[tf.TensorSpec(spec.input_shape, tf.float32, name="raw")])
    def model(raw: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"rgb": spec.build(raw, weights)}

    concrete = model.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable_obj=model)
    # No optimizations for float models: they would be free to rewrite the fp32 weights.
    if spec.int8:
        rng = np.random.default_rng(SEED)

        def representative_data():
            for _ in range(8):
                yield [rng.uniform(0.0, 1.0, size=(1, 32, 32, 4)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif spec.select_tf_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert(), weights.count


_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TYPE_NAMES = {code: name.lower() for name, code in vars(schema.TensorType).items() if not name.startswith("_")}


@dataclass(frozen=True)
class Facts:
    """What the flatbuffer says about one model."""

    size_bytes: int
    sha256: str
    op_histogram: dict[str, int]
    inputs: list[dict]
    outputs: list[dict]


def read_facts(data: bytes) -> Facts:
    model = schema.Model.GetRootAs(data, 0)
    histogram: collections.Counter[str] = collections.Counter()
    graph = model.Subgraphs(0)
    for index in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(index).OpcodeIndex())
        # Builtin codes above 127 only live in the newer field; older files only fill the deprecated one.
        name = _OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if name == "CUSTOM":
            name = code.CustomCode().decode()
        histogram[name] += 1

    def tensor(index: int) -> dict:
        t = graph.Tensors(index)
        signature = t.ShapeSignatureAsNumpy().tolist() if t.ShapeSignatureLength() else t.ShapeAsNumpy().tolist()
        return {
            "name": t.Name().decode(),
            "shape": [None if d < 0 else d for d in signature],
            "dtype": _TYPE_NAMES[t.Type()],
        }

    return Facts(
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        op_histogram=dict(sorted(histogram.items(), key=lambda item: (-item[1], item[0]))),
        inputs=[tensor(graph.Inputs(i)) for i in range(graph.InputsLength())],
        outputs=[tensor(graph.Outputs(i)) for i in range(graph.OutputsLength())],
    )


def run_once(path: Path, input_shape: tuple[int, ...] | None = None, threads: int = 2) -> tuple[np.ndarray, float]:
    """Load in LiteRT, optionally resize the input, invoke once; returns (output, invoke ms)."""
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    detail = interpreter.get_input_details()[0]
    if input_shape is not None:
        interpreter.resize_tensor_input(detail["index"], list(input_shape), strict=False)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(detail["dtype"], np.integer):
        data = rng.integers(-128, 128, size=detail["shape"]).astype(detail["dtype"])
    else:
        data = rng.uniform(0.0, 1.0, size=detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], data)
    start = time.perf_counter()
    interpreter.invoke()
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    output = interpreter.get_output_details()[0]
    return interpreter.get_tensor(output["index"]), elapsed_ms


def within(value: float, target: float) -> bool:
    return abs(value - target) <= TOLERANCE * target


# --------------------------------------------------------------------------------------------------
# The reference models and what they target.


@dataclass(frozen=True)
class Reference:
    spec: Spec
    key: str
    name: str
    published: dict
    stand_in_reason: str | None = None


MICROISP_1_0_OPS = {
    "CONV_2D": 120, "PRELU": 102, "MUL": 15, "ADD": 15, "MEAN": 12, "RESHAPE": 12,
    "LOGISTIC": 12, "TANH": 6, "DEPTH_TO_SPACE": 3, "CONCATENATION": 1,
}  # fmt: skip

REFERENCES = (
    Reference(
        spec=Spec("microisp_1_0.tflite", microisp(blocks=7), FULL_HD_INPUT),
        key="microisp-1.0",
        name="MicroISP 1.0",
        published={
            "size_mib": 0.152,
            "size_bytes": 159_192,
            "params": 13_560,
            "op_histogram": MICROISP_1_0_OPS,
            "source": "MAI 2022 Learned Smartphone ISP challenge report, Table 1; official MicroISP.tflite",
        },
    ),
    Reference(
        spec=Spec("microisp_0_5.tflite", microisp(blocks=3), FULL_HD_INPUT),
        key="microisp-0.5",
        name="MicroISP 0.5",
        published={
            "size_mib": 0.077,
            "size_bytes": None,
            "params": None,
            "op_histogram": None,
            "source": "MAI 2022 Learned Smartphone ISP challenge report, Table 1",
        },
        stand_in_reason=(
            "MicroISP 0.5 was never published as code or as a model file, only its size (0.077 MiB); this is "
            "the MicroISP 1.0 structure with 3 instead of 7 blocks per generator, which has that size"
        ),
    ),
    Reference(
        spec=Spec("pynet_v2_mobile.tflite", pynet_v2_mobile, FULL_HD_INPUT),
        key="pynet-v2-mobile",
        name="PyNET-V2 Mobile",
        published={
            "size_mib": 3.63,
            "size_bytes": None,
            "params": 930_255,
            "op_histogram": None,
            "source": "MAI 2022 Learned Smartphone ISP challenge report, Table 1 (3.6 MB); official PyNET-V2 Mobile",
        },
    ),
)

SMALL = (1, 64, 64, 4)


def expect_output(input_shape: tuple | None, expected: tuple) -> Callable[[Path, Facts], list[str]]:
    """Check: LiteRT (input resized to `input_shape` unless None) produces an output of shape `expected`."""

    def check(path: Path, facts: Facts) -> list[str]:
        output, _ = run_once(path, input_shape)
        return [] if output.shape == expected else [f"output shape {output.shape}, expected {expected}"]

    return check


def expect_failure(input_shape: tuple) -> Callable[[Path, Facts], list[str]]:
    """Check: LiteRT cannot allocate the model at `input_shape`."""

    def check(path: Path, facts: Facts) -> list[str]:
        try:
            run_once(path, input_shape)
        except (RuntimeError, ValueError):
            return []
        return [f"runs at {input_shape} in LiteRT, which it must not"]

    return check


def expect_ops(*ops: str) -> Callable[[Path, Facts], list[str]]:
    def check(path: Path, facts: Facts) -> list[str]:
        return [f"no {op} op" for op in ops if op not in facts.op_histogram]

    return check


def expect_int8_input(path: Path, facts: Facts) -> list[str]:
    return [] if facts.inputs[0]["dtype"] == "int8" else ["input is not int8"]


TEST_MODELS = (
    Spec("tiny_isp.tflite", tiny_isp, (1, None, None, 4), checks=(expect_output(FULL_HD_INPUT, FULL_HD_OUTPUT),)),
    Spec(
        "tiny_isp_static.tflite",
        tiny_isp_static,
        (1, 32, 32, 4),
        checks=(expect_output(None, (1, 64, 64, 3)), expect_failure(FULL_HD_INPUT)),
    ),
    Spec(
        "wrong_output.tflite",
        wrong_output,
        (1, None, None, 4),
        checks=(expect_output(FULL_HD_INPUT, (1, 544, 960, 3)),),
    ),
    Spec(
        "gpu_unsupported_op.tflite",
        gpu_unsupported_op,
        (1, None, None, 4),
        checks=(expect_output(SMALL, (1, 128, 128, 3)), expect_ops("LOCAL_RESPONSE_NORMALIZATION")),
    ),
    Spec(
        "flex_op.tflite",
        flex_op,
        (1, None, None, 4),
        select_tf_ops=True,
        checks=(expect_ops("FlexSinh"), expect_failure(SMALL)),
    ),
    Spec(
        "int8_input.tflite",
        int8_isp,
        (1, None, None, 4),
        int8=True,
        checks=(expect_output(SMALL, (1, 128, 128, 3)), expect_int8_input),
    ),
    Spec("tiny_isp_fullhd.tflite", tiny_isp_fullhd, FULL_HD_INPUT, checks=(expect_output(None, FULL_HD_OUTPUT),)),
)


def check_reference(reference: Reference, facts: Facts, params: int) -> list[str]:
    """Problems with a generated reference model against its published targets (empty when it matches)."""
    published = reference.published
    problems = []
    target_size = published["size_bytes"] or published["size_mib"] * MIB
    if not within(facts.size_bytes, target_size):
        problems.append(f"size {facts.size_bytes} B is not within 5% of {target_size:.0f} B")
    if published["params"] is not None and not within(params, published["params"]):
        problems.append(f"{params} parameters is not within 5% of {published['params']}")
    for op, count in (published["op_histogram"] or {}).items():
        if not within(facts.op_histogram.get(op, 0), count):
            problems.append(f"{op} x{facts.op_histogram.get(op, 0)} is not within 5% of {count}")
    if any(op.startswith("Flex") or op == "CUSTOM" for op in facts.op_histogram):
        problems.append("contains non-builtin ops")
    expected_io = ([list(FULL_HD_INPUT)], [list(FULL_HD_OUTPUT)])
    if ([t["shape"] for t in facts.inputs], [t["shape"] for t in facts.outputs]) != expected_io:
        problems.append(f"interface {facts.inputs} -> {facts.outputs} is not {expected_io}")
    if {t["dtype"] for t in facts.inputs + facts.outputs} != {"float32"}:
        problems.append("input/output are not float32")
    return problems


def write_references(out: Path) -> list[str]:
    """Generate, check and time the reference models; write MANIFEST.json. Returns the problems found."""
    folder = out / REFERENCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    problems, entries = [], []
    for reference in REFERENCES:
        data, params = convert(reference.spec)
        path = folder / reference.spec.file
        path.write_bytes(data)
        facts = read_facts(data)
        problems += [f"{reference.spec.file}: {p}" for p in check_reference(reference, facts, params)]
        output, ms = run_once(path)
        if output.shape != FULL_HD_OUTPUT or not np.isfinite(output).all():
            finite = np.isfinite(output).all()
            problems.append(f"{reference.spec.file}: LiteRT output is {output.shape}, all finite: {finite}")
        print(
            f"{reference.spec.file}: {facts.size_bytes} B ({facts.size_bytes / MIB:.3f} MiB), {params} params, "
            f"{sum(facts.op_histogram.values())} ops {facts.op_histogram}; one invoke, 2 threads: {ms:.0f} ms"
        )
        entry = {
            "key": reference.key,
            "display_name": reference.name,
            "file": reference.spec.file,
            "size_bytes": facts.size_bytes,
            "sha256": facts.sha256,
            "params": params,
            "op_count": sum(facts.op_histogram.values()),
            "op_histogram": facts.op_histogram,
            "inputs": facts.inputs,
            "outputs": facts.outputs,
            "published": reference.published,
            "stand_in": reference.stand_in_reason is not None,
            "note": NOTE,
        }
        if reference.stand_in_reason:
            entry["stand_in_reason"] = reference.stand_in_reason
        entries.append(entry)
    manifest = {
        "format": 1,
        "generator": "scripts/make_reference_models.py",
        "tensorflow": tf.__version__,
        "seed": SEED,
        "tolerance": TOLERANCE,
        "models": entries,
    }
    (folder / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return problems


def write_test_models(out: Path) -> list[str]:
    """Generate the small test models and check the behaviour each one exists for."""
    folder = out / TEST_MODELS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    for spec in TEST_MODELS:
        data, params = convert(spec)
        path = folder / spec.file
        path.write_bytes(data)
        facts = read_facts(data)
        print(f"{spec.file}: {facts.size_bytes} B, {params} params, {facts.op_histogram}, "
              f"{facts.inputs[0]['shape']} {facts.inputs[0]['dtype']} -> "
              f"{facts.outputs[0]['shape']} {facts.outputs[0]['dtype']}")
        problems += [f"{spec.file}: {p}" for check in spec.checks for p in check(path, facts)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-models", action="store_true", help=f"also generate {TEST_MODELS_DIR}/*.tflite")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference models")
    parser.add_argument("--out", type=Path, default=REPO, help="root of the tree to write into (default: this repo)")
    args = parser.parse_args(argv)
    problems = []
    if not args.no_reference:
        problems += write_references(args.out)
    if args.test_models:
        problems += write_test_models(args.out)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
