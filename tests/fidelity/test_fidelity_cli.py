"""`mai-bench metrics`, `mai-bench eval` and `mai-bench data synth` through the CLI: output, JSON, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mai_bench.fidelity.compare import compare_files
from mai_bench.fidelity.images import write_png


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    pred = np.clip(target.astype(int) + rng.integers(-20, 21, target.shape), 0, 255).astype(np.uint8)
    write_png(tmp_path / "pred.png", pred)
    write_png(tmp_path / "target.png", target)
    write_png(tmp_path / "small.png", target[:20])
    return tmp_path


def test_metrics_json_is_pure_and_matches_the_library(cli, images):
    code, out, _ = cli("metrics", images / "pred.png", images / "target.png", "--json")
    assert code == 0
    expected = compare_files(images / "pred.png", images / "target.png")
    assert json.loads(out) == {"psnr": expected.psnr, "ssim": expected.ssim}


def test_metrics_table_and_identical_images(cli, images):
    code, out, _ = cli("metrics", images / "pred.png", images / "target.png")
    assert code == 0 and "PSNR" in out and "dB" in out and "SSIM" in out
    code, out, _ = cli("metrics", images / "target.png", images / "target.png", "--json")
    assert code == 0 and json.loads(out)["psnr"] is None and "psnr_note" in json.loads(out)


@pytest.mark.parametrize("second,words", [("small.png", "is 40x60 but"), ("missing.png", "image not found")])
def test_metrics_errors_exit_2_without_traceback(cli_process, images, second, words):
    done = cli_process("metrics", images / "pred.png", images / second)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_eval_json_and_files(cli, synth_set, models, tmp_path):
    code, out, _ = cli("eval", models / "tiny_isp.tflite", "--data", synth_set, "--limit", 3, "--threads", 1,
                       "--out", tmp_path / "out", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["count"] == 3 and len(doc["per_image"]) == 3
    assert doc["shape"]["action"] == "resized-dynamic"
    assert (tmp_path / "out" / "fidelity_tiny_isp.json").is_file()
    assert doc["files"]["per_image_csv"] == str(tmp_path / "out" / "fidelity_tiny_isp.csv")


def test_eval_table(cli, synth_set, models):
    code, out, _ = cli("eval", models / "tiny_isp.tflite", "--data", synth_set, "--limit", 2)
    assert code == 0
    assert "mean" in out and "PSNR dB" in out and "dynamic input resized" in out


def test_eval_model_that_cannot_resize_exits_2(cli, synth_set, models):
    code, out, err = cli("eval", models / "tiny_isp_static.tflite", "--data", synth_set)
    assert code == 2 and out == ""
    assert "cannot run at the data's input" in err and "fix:" in err


def test_eval_missing_data_exits_2_without_traceback(cli_process, models, tmp_path):
    done = cli_process("eval", models / "tiny_isp.tflite", "--data", tmp_path / "nowhere", "--json")
    assert done.returncode == 2
    assert "data folder not found" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_data_synth_then_refuse_to_mix(cli_process, tmp_path):
    made = cli_process("data", "synth", tmp_path / "set", "--count", 2, "--size", "32x48", "--json")
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["count"] == 2 and info["size"] == [32, 48]
    assert sorted(p.name for p in (tmp_path / "set" / "mediatek_raw").iterdir()) == ["0.png", "1.png"]
    again = cli_process("data", "synth", tmp_path / "set")
    assert again.returncode == 2
    assert "already holds files" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize("size", ["31x48", "abc"])
def test_data_synth_bad_size_exits_2(cli, tmp_path, size):
    code, _, err = cli("data", "synth", tmp_path / "set", "--size", size)
    assert code == 2 and "Traceback" not in err


def test_metrics_given_a_raw_file_says_it_looks_like_raw_and_points_to_eval(cli_process, images, synth_set):
    raw = next((synth_set / "mediatek_raw").glob("*.png"))
    done = cli_process("metrics", raw, images / "target.png")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "RAW/Bayer" in done.stderr and "compare a model's RGB output" in done.stderr
    assert "mai-bench eval" in done.stderr and "without alpha" not in done.stderr


def test_metrics_given_an_rgba_image_says_drop_the_alpha(cli_process, images):
    write_png(images / "rgba.png", np.zeros((40, 60, 4), np.uint8))
    done = cli_process("metrics", images / "rgba.png", images / "target.png")
    assert done.returncode == 2 and "RGBA" in done.stderr and "alpha" in done.stderr
