"""`mai-bench run --device local` end to end: the real CLI, the real host runner, real LiteRT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2"]


def mai_bench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def fullhd_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("results")
    proc = mai_bench("run", str(MODELS / "tiny_isp_fullhd.tflite"), "--json", "--out", str(out), *FAST)
    return proc, out


def test_json_result_of_a_full_hd_model(fullhd_run) -> None:
    proc, _ = fullhd_run
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout is pure JSON
    assert result["schema"] == "mai-bench/result/2"
    assert result["status"] == "ok"
    assert result["model"]["input_shape"] == [1, 544, 960, 4]
    assert result["model"]["output_shape"] == [1, 1088, 1920, 3]
    lat = result["latency_ms"]
    assert lat["count"] >= 3
    assert 0 < lat["min"] <= lat["median"] <= lat["max"]
    assert lat["p5"] is not None and lat["p95"] is not None and lat["init"] > 0
    assert result["device"]["backend"] == "host" and result["device"]["emulated"] is False
    assert len(result["model"]["sha256"]) == 64 and len(result["binary"]["sha256"]) == 64
    assert "ai-edge-litert" in result["binary"]["version"]
    assert "--num_threads=2" in result["argv"]
    assert "Inference timings in us" in result["raw_log"]
    assert result["tool_version"] and result["created_at"]


def test_out_dir_holds_one_complete_file_and_report_reads_it(fullhd_run) -> None:
    proc, out = fullhd_run
    files = list(out.iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"
    assert json.loads(files[0].read_text()) == json.loads(proc.stdout)
    report = mai_bench("report", str(out))
    assert report.returncode == 0, report.stderr
    assert "tiny_isp_fullhd" in report.stdout and "ok" in report.stdout


def test_dynamic_model_is_resized_to_full_hd() -> None:
    proc = mai_bench("run", str(MODELS / "tiny_isp.tflite"), "--json", *FAST)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model"]["output_shape"] == [1, 1088, 1920, 3]
    assert "--input_layer_shape=1,544,960,4" in result["argv"]


def test_several_models_give_a_json_list_and_a_table() -> None:
    small = ["--input-shape", "1,64,64,4"]
    proc = mai_bench("run", str(MODELS / "tiny_isp.tflite"), str(MODELS / "wrong_output.tflite"), "--json", *FAST,
                     *small)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["model"]["name"] for r in results] == ["tiny_isp", "wrong_output"]
    assert results[0]["model"]["output_shape"] == [1, 128, 128, 3]
    table = mai_bench("run", str(MODELS / "tiny_isp.tflite"), *FAST, *small)
    assert table.returncode == 0 and "Latency (ms)" in table.stdout


@pytest.mark.parametrize("args, needle", [
    (["missing.tflite"], "not found"),
    (["--delegate", "nnapi", str(MODELS / "tiny_isp.tflite")], "--delegate gpu, xnnpack or cpu"),
    ([str(MODELS / "tiny_isp_static.tflite")], "1,544,960,4"),
    (["--threads", "0", str(MODELS / "tiny_isp.tflite")], "--threads"),
])
def test_usage_errors_exit_2_without_traceback(args, needle, tmp_path: Path) -> None:
    proc = mai_bench("run", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_not_a_model_exits_2(tmp_path: Path) -> None:
    fake = tmp_path / "photo.tflite"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    proc = mai_bench("run", str(fake))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "PNG" in proc.stderr


def test_rounds_are_interleaved_and_summarised_with_a_bootstrap_interval(tmp_path: Path) -> None:
    proc = mai_bench("run", str(MODELS / "tiny_isp.tflite"), str(MODELS / "wrong_output.tflite"), "--rounds", "3",
                     "--input-shape", "1,64,64,4", "--out", str(tmp_path), *FAST)
    assert proc.returncode == 0, proc.stderr
    saved = sorted(tmp_path.glob("*.json"))
    assert len(saved) == 6
    order = [json.loads(p.read_text())["model"]["name"] for p in sorted(saved, key=lambda p: p.stat().st_mtime_ns)]
    assert order == ["tiny_isp", "wrong_output"] * 3
    report = mai_bench("report", str(tmp_path), "--json")
    assert report.returncode == 0, report.stderr
    assert "bootstrap-rounds" in report.stdout
