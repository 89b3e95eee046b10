"""`mai-bench inspect` and `mai-bench check` through the real CLI entry point: output, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ai_edge_litert import schema_py_generated as schema

from mai_bench.cli.console import run_cli
from mai_bench.cli.main import cli

MAIN = "from mai_bench.cli.main import main; main()"


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `mai-bench ARGS` in-process the way the console script does; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mai-bench", *args])
    with pytest.raises(SystemExit) as exited:
        run_cli(cli)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def _isp_bytes(graph_builder, out_channels=12) -> bytes:
    g = graph_builder()
    x = g.tensor([1, 4, 6, 4], signature=[1, -1, -1, 4], name="raw")
    y = g.tensor([1, 4, 6, out_channels], signature=[1, -1, -1, out_channels])
    z = g.tensor([1, 8, 12, out_channels // 4], signature=[1, -1, -1, out_channels // 4], name="rgb")
    g.conv(x, y, 3, 3, 4, out_channels)
    opts = schema.DepthToSpaceOptionsT()
    opts.blockSize = 2
    g.op(schema.BuiltinOperator.DEPTH_TO_SPACE, [y], [z], schema.BuiltinOptions.DepthToSpaceOptions, opts)
    return g.build([x], [z])


def test_inspect_table(monkeypatch, capsys, write_model, graph_builder):
    path = write_model(_isp_bytes(graph_builder))
    code, out, err = run(monkeypatch, capsys, "inspect", str(path))
    assert code == 0, err
    for text in ("raw", "[1,None,None,4]", "float32", "CONV_2D", "DEPTH_TO_SPACE", "sha256", "MiB", "GMACs"):
        assert text in out
    # 544*960*12 outputs x 3*3*4 = 0.226 GMACs
    assert "0.226 GMACs at [1,544,960,4]" in out


def test_inspect_json_is_pure(monkeypatch, capsys, write_model, graph_builder):
    data = _isp_bytes(graph_builder)
    path = write_model(data)
    code, out, _ = run(monkeypatch, capsys, "inspect", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["size_bytes"] == len(data)
    assert doc["inputs"][0]["dynamic_dims"] == [1, 2]
    assert doc["op_histogram"] == {"CONV_2D": 1, "DEPTH_TO_SPACE": 1}
    assert doc["param_count"] == 12 * 9 * 4 + 12
    assert doc["macs"]["total_macs"] == 544 * 960 * 12 * 36
    assert doc["macs_unavailable"] is None


def test_inspect_reports_why_macs_are_missing(monkeypatch, capsys, write_model, graph_builder):
    import numpy as np

    g = graph_builder()
    x = g.tensor([1, 8, 12, 4])
    y = g.tensor([1, 384])
    g.op(schema.BuiltinOperator.RESHAPE, [x, g.const(np.array([1, 384], np.int32))], [y])
    code, out, _ = run(monkeypatch, capsys, "inspect", str(write_model(g.build([x], [y]))), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["macs"] is None
    assert "RESHAPE" in doc["macs_unavailable"]


def test_check_pass_exit_0(monkeypatch, capsys, write_model, graph_builder):
    code, out, _ = run(monkeypatch, capsys, "check", str(write_model(_isp_bytes(graph_builder))))
    assert code == 0
    assert "PASS" in out


def test_check_failure_exit_1_with_json(monkeypatch, capsys, write_model, graph_builder):
    path = write_model(_isp_bytes(graph_builder, out_channels=8))
    code, out, _ = run(monkeypatch, capsys, "check", str(path), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["passed"] is False
    assert [f["code"] for f in doc["findings"] if f["severity"] == "error"] == ["output-shape"]


def test_check_failure_exit_1_table(monkeypatch, capsys, write_model, graph_builder):
    code, out, _ = run(monkeypatch, capsys, "check", str(write_model(_isp_bytes(graph_builder, out_channels=8))))
    assert code == 1
    assert "FAIL" in out and "output-shape" in out


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "looks like a PNG image"),
    (bytes(range(97, 123)) * 10, "is not a TFLite model"),
])
@pytest.mark.parametrize("command", ["check", "inspect"])
def test_not_a_model_exit_2(monkeypatch, capsys, write_model, command, content, reason):
    code, out, err = run(monkeypatch, capsys, command, str(write_model(content, "x.tflite")))
    assert code == 2
    assert out == ""
    assert reason in " ".join(err.split())


def test_truncated_model_in_subprocess_exit_2_no_traceback(write_model, graph_builder):
    data = _isp_bytes(graph_builder)
    path = write_model(data[: len(data) // 2], "truncated.tflite")
    for args in (["check", str(path)], ["check", str(path), "--json"], ["inspect", str(path)]):
        proc = subprocess.run([sys.executable, "-c", MAIN, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "damaged or truncated" in " ".join(proc.stderr.split())
        assert proc.stdout == ""


def test_missing_file_in_subprocess_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-c", MAIN, "check", str(tmp_path / "nope.tflite")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "model file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_check_reference_model_exit_0(monkeypatch, capsys, reference_models):
    code, out, _ = run(monkeypatch, capsys, "check", str(reference_models / "microisp_1_0.tflite"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["passed"] is True and doc["size_bytes"] == (reference_models / "microisp_1_0.tflite").stat().st_size


def test_check_fixture_failures_exit_1(monkeypatch, capsys, fixture_models):
    for name in ("wrong_output.tflite", "gpu_unsupported_op.tflite"):
        code, out, _ = run(monkeypatch, capsys, "check", str(fixture_models / name))
        assert code == 1 and "FAIL" in out
