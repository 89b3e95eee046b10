"""The committed reference models match MANIFEST.json and the published facts it records.

Reads the flatbuffers with the TFLite schema only (no TensorFlow, no inference), so it stays fast.
"""

from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from mai_bench.resources import reference_models_dir

MIB = 1 << 20
FULL_HD_INPUT = [1, 544, 960, 4]
FULL_HD_OUTPUT = [1, 1088, 1920, 3]
KEYS = ("microisp-1.0", "microisp-0.5", "pynet-v2-mobile")
NOTE = (
    "runtime reference: independent re-implementation of the published structure with random weights; "
    "measures runtime, not image quality"
)

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def _manifest() -> dict:
    return json.loads((reference_models_dir() / "MANIFEST.json").read_text())


def _entry(key: str) -> dict:
    (entry,) = [m for m in _manifest()["models"] if m["key"] == key]
    return entry


def _model(path: Path) -> schema.Model:
    return schema.Model.GetRootAs(path.read_bytes(), 0)


def _op_histogram(model: schema.Model) -> dict[str, int]:
    histogram: collections.Counter[str] = collections.Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
            name = _OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            histogram[code.CustomCode().decode() if name == "CUSTOM" else name] += 1
    return dict(histogram)


def _signature(tensor: schema.Tensor) -> list[int]:
    if tensor.ShapeSignatureLength():
        return tensor.ShapeSignatureAsNumpy().tolist()
    return tensor.ShapeAsNumpy().tolist()


def _float_constant_elements(model: schema.Model) -> int:
    """Elements of float32 tensors backed by data: the weights, plus a few scalar constants."""
    graph = model.Subgraphs(0)
    total = 0
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if tensor.Type() == schema.TensorType.FLOAT32 and model.Buffers(tensor.Buffer()).DataLength():
            total += int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 1
    return total


def _within(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * target


def test_manifest_lists_the_three_references():
    manifest = _manifest()
    assert manifest["format"] == 1
    assert manifest["tolerance"] == 0.05
    assert [m["key"] for m in manifest["models"]] == list(KEYS)
    assert [m["display_name"] for m in manifest["models"]] == ["MicroISP 1.0", "MicroISP 0.5", "PyNET-V2 Mobile"]
    for entry in manifest["models"]:
        assert entry["note"] == NOTE
        assert (reference_models_dir() / entry["file"]).is_file()


def test_only_microisp_0_5_is_a_stand_in():
    assert [_entry(key)["stand_in"] for key in KEYS] == [False, True, False]
    assert "never published" in _entry("microisp-0.5")["stand_in_reason"]


@pytest.mark.parametrize("key", KEYS)
def test_manifest_describes_the_committed_file(key):
    entry = _entry(key)
    path = reference_models_dir() / entry["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["size_bytes"]
    histogram = _op_histogram(_model(path))
    assert histogram == entry["op_histogram"]
    assert sum(histogram.values()) == entry["op_count"]


@pytest.mark.parametrize("key", KEYS)
def test_size_is_within_tolerance_of_the_published_size(key):
    entry = _entry(key)
    published = entry["published"]
    target = published["size_bytes"] or published["size_mib"] * MIB
    assert _within(entry["size_bytes"], target, _manifest()["tolerance"])


@pytest.mark.parametrize("key", KEYS)
def test_op_histogram_is_within_tolerance_of_the_published_one(key):
    entry = _entry(key)
    published = entry["published"]["op_histogram"] or {}
    for op, count in published.items():
        assert _within(entry["op_histogram"].get(op, 0), count, _manifest()["tolerance"]), op


def test_microisp_1_0_publishes_an_op_histogram():
    # Guards the check above against a manifest that silently drops the published histogram.
    assert sum(_entry("microisp-1.0")["published"]["op_histogram"].values()) == 298


@pytest.mark.parametrize("key", KEYS)
def test_parameter_count_matches_the_file_and_the_published_count(key):
    entry = _entry(key)
    weights = _float_constant_elements(_model(reference_models_dir() / entry["file"]))
    # The file also holds a handful of scalar constants (tanh scale and shift, epsilons).
    assert entry["params"] <= weights <= entry["params"] + 16
    if entry["published"]["params"] is not None:
        assert _within(entry["params"], entry["published"]["params"], _manifest()["tolerance"])


@pytest.mark.parametrize("key", KEYS)
def test_full_hd_float32_interface_and_builtin_ops_only(key):
    entry = _entry(key)
    model = _model(reference_models_dir() / entry["file"])
    assert model.SubgraphsLength() == 1
    graph = model.Subgraphs(0)
    inputs = [graph.Tensors(graph.Inputs(i)) for i in range(graph.InputsLength())]
    outputs = [graph.Tensors(graph.Outputs(i)) for i in range(graph.OutputsLength())]
    assert [_signature(t) for t in inputs] == [FULL_HD_INPUT]
    assert [_signature(t) for t in outputs] == [FULL_HD_OUTPUT]
    assert {t.Type() for t in inputs + outputs} == {schema.TensorType.FLOAT32}
    assert [i["shape"] for i in entry["inputs"]] == [FULL_HD_INPUT]
    assert [o["shape"] for o in entry["outputs"]] == [FULL_HD_OUTPUT]
    assert all(op.isupper() for op in entry["op_histogram"]), "custom or Flex op in a reference model"
