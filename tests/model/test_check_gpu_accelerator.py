"""`check` asks LiteRT's real GPU accelerator (compile only, on this host's Vulkan device: SwiftShader here) beside
the phone GPU delegate's op list, and each finding names which of the two said what."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mai_bench.model.checks import check_model

S = schema.BuiltinOperator


def _codes(report, code):
    return [f for f in report.findings if f.code == code]


def test_the_accelerator_names_the_op_it_leaves_to_the_cpu_with_its_own_counts(fixture_models):
    report = check_model(fixture_models / "gpu_unsupported_op.tflite", gpu_probe=True)
    (phone,) = _codes(report, "gpu-unsupported")
    assert phone.severity == "error" and "phone TFLite GPU delegate's op list" in phone.message
    (accelerator,) = _codes(report, "gpu-accelerator")
    assert accelerator.severity == "warning"
    assert "LiteRT's GPU accelerator" in accelerator.message and "SwiftShader" in accelerator.message
    assert "LOCAL_RESPONSE_NORMALIZATION (Operation is not supported)" in accelerator.message
    assert "4 operations on the GPU, 3 on the CPU" in accelerator.message
    said = report.to_dict()["gpu_accelerator"]
    assert said["decision"]["gpu_ops"] == 4 and said["decision"]["cpu_ops"] == 3
    assert said["input_shape"] == [1, 544, 960, 4]  # asked at the challenge's input
    assert said["vulkan"]["device"]["software"] is True
    assert not _codes(report, "gpu-delegates-disagree")  # both reject the same op


def test_where_the_two_disagree_each_is_named(write_model, graph_builder):
    # TOPK_V2: the phone delegate of the challenge's era rejects it, today's accelerator takes it.
    g = graph_builder()
    x = g.tensor([1, 8, 8, 4], name="raw")
    values, indices = g.tensor([1, 8, 8, 2]), g.tensor([1, 8, 8, 2], dtype=schema.TensorType.INT32)
    g.op(S.TOPK_V2, [x, g.const(np.array(2, np.int32))], [values, indices])
    report = check_model(write_model(g.build([x], [values])), gpu_probe=True)
    assert [f.message.split(":")[0] for f in _codes(report, "gpu-unsupported")] == ["TOPK_V2"]
    (accelerator,) = _codes(report, "gpu-accelerator")
    assert accelerator.severity == "info" and "takes the whole graph: all 1 nodes" in accelerator.message
    (disagree,) = _codes(report, "gpu-delegates-disagree")
    assert disagree.message.startswith("TOPK_V2: the phone TFLite GPU delegate's op list rejects it, LiteRT's GPU")
    assert not report.passed, "the phone delegate's list decides"


def test_the_reference_models_are_taken_whole_by_the_accelerator_at_full_hd(reference_models):
    for name in ("microisp_1_0", "microisp_0_5", "pynet_v2_mobile"):
        report = check_model(reference_models / f"{name}.tflite", gpu_probe=True)
        assert report.passed, report.errors
        (accelerator,) = _codes(report, "gpu-accelerator")
        decision = report.gpu_accelerator["decision"]
        assert decision["fully_accelerated"] is True and decision["unsupported"] == [], name
        assert accelerator.severity == "info" and "takes the whole graph" in accelerator.message


def test_check_cli_says_when_there_is_no_vulkan_device_and_how_to_get_one(fixture_models, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VK_")}
    env["VK_ICD_FILENAMES"] = str(tmp_path / "none.json")  # the user's choice, and it gives nothing
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "check", str(fixture_models / "tiny_isp.tflite"),
                           "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr  # the phone list decides; the missing probe is a warning
    findings = {f["code"]: f for f in json.loads(proc.stdout)["findings"]}
    missing = findings["gpu-accelerator-missing"]
    assert missing["severity"] == "warning" and "no Vulkan device" in missing["message"]
    assert "apt-get install chromium libvulkan1" in missing["fix"]
    assert "VK_ICD_FILENAMES" in missing["message"]  # and that the user's own setting is why
