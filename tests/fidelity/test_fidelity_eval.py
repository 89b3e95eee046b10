"""`evaluate` on the synthetic set with the small test models: numbers, shapes handled, files written."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ai_edge_litert.interpreter import Interpreter

from mai_bench import __version__
from mai_bench.errors import ModelError, UsageError
from mai_bench.fidelity.evaluate import SCHEMA, Evaluation, ImageScore, ShapeHandling, evaluate, save_evaluation
from mai_bench.fidelity.metrics import metrics
from mai_bench.fidelity.rawdata import find_dataset, load_pair
from mai_bench.fidelity.synth import synth_dataset


def run_model(path, packed: np.ndarray, threads: int) -> np.ndarray:
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [1, *packed.shape])
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, packed[None])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]


def test_per_image_numbers_are_metrics_of_the_model_output(synth_set, tmp_path, models):
    path = models / "tiny_isp.tflite"
    calls = []
    result = evaluate(path, synth_set, threads=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 5) for i in range(1, 6)]
    assert result.count == 5
    assert result.shape.action == "resized-dynamic"
    assert result.shape.input_shapes == ((1, 32, 48, 4),)
    assert result.shape.model_input == (1, -1, -1, 4)
    for files, score in zip(find_dataset(synth_set).pairs, result.scores, strict=True):
        pair = load_pair(files)
        expected = metrics(run_model(path, pair.raw, threads=2), pair.target)
        assert (score.name, score.height, score.width) == (files.name, 64, 96)
        assert score.psnr == pytest.approx(expected.psnr, rel=1e-12)
        assert score.ssim == pytest.approx(expected.ssim, rel=1e-12)
    assert result.mean_psnr == pytest.approx(np.mean([s.psnr for s in result.scores]))
    assert result.mean_ssim == pytest.approx(np.mean([s.ssim for s in result.scores]))

    saved = save_evaluation(result, tmp_path / "out")
    frame = pd.read_csv(saved.per_image_csv, dtype={"name": str})
    assert list(frame.columns) == ["name", "psnr", "ssim", "height", "width", "raw", "rgb"]
    assert frame["name"].tolist() == ["0", "1", "2", "3", "4"]
    np.testing.assert_allclose(frame["psnr"], [s.psnr for s in result.scores], rtol=1e-12)
    np.testing.assert_allclose(frame["ssim"], [s.ssim for s in result.scores], rtol=1e-12)

    assert saved.fidelity_json.name == "fidelity_tiny_isp.json"
    doc = json.loads(saved.fidelity_json.read_text())
    assert set(doc) >= {"schema", "model", "psnr", "ssim", "count", "data", "shape", "per_image", "created_at",
                        "tool_version"}
    assert doc["schema"] == SCHEMA and doc["tool_version"] == __version__
    assert doc["model"] == {"path": str(path), "name": "tiny_isp", "sha256": result.sha256}
    assert doc["psnr"] == pytest.approx(result.mean_psnr) and doc["ssim"] == pytest.approx(result.mean_ssim)
    assert doc["count"] == 5 and len(doc["per_image"]) == 5
    assert doc["data"]["layout"] == "fujifilm-ultraisp"
    assert doc["created_at"].endswith("+00:00")
    assert not list(saved.fidelity_json.parent.glob(".*.tmp"))


def test_json_form_has_the_documented_keys(synth_set, models):
    out = evaluate(models / "tiny_isp.tflite", synth_set, limit=2, threads=1).to_dict()
    assert set(out) == {"model", "data", "count", "mean_psnr", "mean_ssim", "shape", "threads", "per_image"}
    assert out["count"] == 2 and out["data"]["count"] == 2
    assert set(out["model"]) == {"path", "name", "sha256"}
    assert set(out["shape"]) == {"action", "note", "model_input", "input_shapes"}
    assert set(out["per_image"][0]) == {"name", "raw", "rgb", "height", "width", "psnr", "ssim"}


def test_static_model_runs_as_is_when_the_data_matches(tmp_path, models):
    synth_dataset(tmp_path, count=1, size=(64, 64))  # packed RAW 32x32, the model's static input
    result = evaluate(models / "tiny_isp_static.tflite", tmp_path, threads=1)
    assert result.shape.action == "as-is"
    assert result.shape.input_shapes == ((1, 32, 32, 4),)


def test_quantized_model_runs(synth_set, models):
    result = evaluate(models / "int8_input.tflite", synth_set, limit=1, threads=1)
    assert math.isfinite(result.mean_psnr) and -1 <= result.mean_ssim <= 1


@pytest.mark.parametrize("model,words", [
    ("tiny_isp_static.tflite", "cannot run at the data's input [1,32,48,4]"),
    ("wrong_output.tflite", "outputs [1,32,48,3], but the target of pair 0 is [1,64,96,3]"),
    ("flex_op.tflite", "custom ops"),
])
def test_models_that_cannot_be_scored(synth_set, model, words, models):
    with pytest.raises(ModelError) as error:
        evaluate(models / model, synth_set, threads=1)
    assert words in error.value.message


def test_identical_output_shows_null_mean_psnr_with_a_note():
    scores = (ImageScore("0", "r", "t", 16, 16, math.inf, 1.0), ImageScore("1", "r", "t", 16, 16, 20.0, 0.5))
    evaluation = Evaluation("m.tflite", "m", "0" * 64, {}, ShapeHandling((1, -1, -1, 4), ((1, 8, 8, 4),),
                            "resized-dynamic"), 1, scores)
    out = evaluation.to_dict()
    assert out["mean_psnr"] is None and "1 output(s)" in out["psnr_note"]
    assert out["per_image"][0]["psnr"] is None and out["per_image"][1]["psnr"] == 20.0
    assert evaluation.fidelity_document("2024-01-01T00:00:00+00:00")["psnr"] is None


def test_a_broken_pair_mid_set_stops_with_its_name(tmp_path, models):
    synth_dataset(tmp_path, count=3, size=(32, 48))
    (tmp_path / "mediatek_raw" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(UsageError) as error:
        evaluate(models / "tiny_isp.tflite", tmp_path, threads=1)
    assert "1.png" in error.value.message
