"""Bad inputs through the real CLI: each gives a clear message naming the problem and the fix, the right exit
code, and never a traceback. Broken model files, models that break the challenge's rules, missing files,
unreadable or hostile YAML, image pairs that do not match."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mai_bench.fidelity.images import write_png

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
SMALL = ("--runs", "2", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0",
         "--input-shape", "1,16,16,4")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clear_error(proc, exit_code: int, *words: str) -> str:
    """Assert a one-message failure: the exit code, `error:` and `fix:`, the words given, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == exit_code, proc.stdout[-2000:] + proc.stderr[-2000:]
    shown = _one_line(proc.stderr)
    # LiteRT itself may print an INFO line first (eval runs the model); the message is the rest.
    assert "error: " in shown and " fix: " in shown, shown
    shown = shown[shown.index("error: "):]
    for word in words:
        assert word in shown, (word, shown)
    return shown


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 16x16 RAW/RGB pairs in the challenge's layout (mediatek_raw/ + fujifilm/)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("pairs") / "set"
    subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "data", "synth", str(folder), "--count", "2",
                    "--size", "16x16"], check=True, capture_output=True)
    return folder


def _broken_model(kind: str, folder: Path) -> Path:
    good = (MODELS / "tiny_isp.tflite").read_bytes()
    path = folder / f"{kind}.tflite"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "image":  # a PNG renamed to .tflite
        write_png(folder / "photo.png", np.zeros((8, 8, 3), np.uint8))
        (folder / "photo.png").rename(path)
    return path


BROKEN = {"empty": "is empty (0 bytes)", "truncated": "cut short", "random": "is not a TFLite model",
          "image": "it looks like a PNG image"}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_model_file_is_a_usage_error_in_every_command(kind, mai_bench, data, tmp_path: Path) -> None:
    model = _broken_model(kind, tmp_path)
    for args in (("run", str(model)), ("check", str(model)), ("inspect", str(model)),
                 ("eval", str(model), "--data", str(data))):
        _clear_error(mai_bench(None, *args), 2, model.name, BROKEN[kind])


def test_a_missing_file_is_a_usage_error_in_every_command(mai_bench, data, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    image = tmp_path / "a.png"
    write_png(image, np.zeros((8, 8, 3), np.uint8))
    for args in (("run", f"{missing}.tflite"), ("check", f"{missing}.tflite"), ("inspect", f"{missing}.tflite"),
                 ("eval", f"{missing}.tflite", "--data", str(data)), ("parse", f"{missing}.log"),
                 ("report", f"{missing}.json"), ("farm", f"{missing}.yaml"), ("metrics", f"{missing}.png", str(image)),
                 ("eval", str(MODELS / "tiny_isp.tflite"), "--data", str(missing))):
        _clear_error(mai_bench(None, *args), 2, "nowhere")


def test_a_model_with_the_wrong_output_shape(mai_bench, data) -> None:
    model = str(MODELS / "wrong_output.tflite")
    check = mai_bench(None, "check", model, "--json")
    assert check.returncode == 1 and "Traceback" not in check.stderr
    findings = {f["code"]: f for f in json.loads(check.stdout)["findings"]}
    assert findings["output-shape"]["severity"] == "error"
    assert "[1,544,960,3]" in findings["output-shape"]["message"] and findings["output-shape"]["fix"]
    run = mai_bench(None, "run", model, "--runs", "1", "--warmup", "0", "--min-secs", "0", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["status"] == "ok", "a wrong-shape model still times honestly"
    assert any("not a valid submission" in w and "[1,544,960,3]" in w for w in result["warnings"])
    _clear_error(mai_bench(None, "eval", model, "--data", str(data)), 2, "wrong_output.tflite outputs",
                 "the model must output RGB at twice the packed RAW's height and width")


def test_ops_the_gpu_delegate_lacks_and_int8_input_fail_the_check_and_never_count_as_gpu(
        adb_server, loopback, mai_bench) -> None:
    unsupported = mai_bench(None, "check", str(MODELS / "gpu_unsupported_op.tflite"), "--json")
    assert unsupported.returncode == 1 and "Traceback" not in unsupported.stderr
    assert "LOCAL_RESPONSE_NORMALIZATION" in unsupported.stdout
    int8 = mai_bench(None, "check", str(MODELS / "int8_input.tflite"), "--json")
    assert int8.returncode == 1 and "Traceback" not in int8.stderr
    assert {"input-dtype", "output-dtype"} <= {f["code"] for f in json.loads(int8.stdout)["findings"]}

    # The loopback device runs LiteRT's real GPU accelerator: it leaves LOCAL_RESPONSE_NORMALIZATION to the CPU
    # (a fallback, never GPU numbers); the int8 model it takes whole, so that run is a GPU run and only `check`
    # fails it (its int8 input and output break the challenge's contract).
    device = loopback.one()
    proc = mai_bench(adb_server, "run", str(MODELS / "gpu_unsupported_op.tflite"), "--device", device.serial,
                     "--delegate", "gpu", "--json", *SMALL)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "delegate-fallback" and result["delegation"]["reasons"]
    assert result["latency_ms"]["avg"] is None
    int8_run = mai_bench(adb_server, "run", str(MODELS / "int8_input.tflite"), "--device", device.serial,
                         "--delegate", "gpu", "--json", *SMALL)
    assert int8_run.returncode == 0 and json.loads(int8_run.stdout)["delegation"]["full"] is True, int8_run.stderr
    _clear_error(mai_bench(None, "run", str(MODELS / "int8_input.tflite"), "--delegate", "nnapi"), 2,
                 "has no nnapi delegate", "--delegate gpu, xnnpack or cpu")


def _plan(folder: Path, **data) -> Path:
    base = {"models": [str(MODELS / "tiny_isp.tflite")], "devices": ["sm8450"], "delegates": ["cpu"]}
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump({**base, **data}), encoding="utf-8")
    return path


def test_unreadable_plan_and_profile_yaml(mai_bench, tmp_path: Path) -> None:
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("models: [a\n  - b: c\n", encoding="utf-8")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    for path, words in ((syntax, ("is not valid YAML", "fix the YAML syntax")),
                        (binary, ("cannot read", "codec can't decode"))):
        _clear_error(mai_bench(None, "farm", str(path), "--out", str(tmp_path / "out")), 2, path.name, *words)
        _clear_error(mai_bench(None, "emulate", "--profile", str(path)), 2, path.name, *words)
    farm_folder = mai_bench(None, "farm", str(folder))
    assert farm_folder.returncode == 2 and "is a directory" in farm_folder.stderr
    assert "Traceback" not in farm_folder.stderr
    _clear_error(mai_bench(None, "emulate", "--profile", str(folder)), 2, "no loopback profile")
    assert not (tmp_path / "out").exists(), "nothing was started"


def test_yaml_python_tags_are_refused_never_run(mai_bench, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(f'models: !!python/object/apply:os.system ["touch {marker}"]\ndevices: [sm8450]\n',
                      encoding="utf-8")
    whole = tmp_path / "whole.yaml"
    whole.write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    for path in (tagged, whole):
        _clear_error(mai_bench(None, "farm", str(path)), 2, "is not valid YAML", "python/object/apply")
        _clear_error(mai_bench(None, "emulate", "--profile", str(path)), 2, "is not valid YAML")
    assert not marker.exists()


def test_a_plan_with_unknown_keys_names_them(mai_bench, tmp_path: Path) -> None:
    plan = _plan(tmp_path, runz=3, thermal={"max_temp": 40})
    _clear_error(mai_bench(None, "farm", str(plan)), 2, "unknown key(s): runz", "use only: name, servers")
    nested = _plan(tmp_path, thermal={"max_temp": 40})
    _clear_error(mai_bench(None, "farm", str(nested)), 2, "max_temp")


def test_image_pairs_of_different_sizes(mai_bench, data, tmp_path: Path) -> None:
    small, wide = tmp_path / "small.png", tmp_path / "wide.png"
    write_png(small, np.zeros((8, 8, 3), np.uint8))
    write_png(wide, np.zeros((8, 10, 3), np.uint8))
    _clear_error(mai_bench(None, "metrics", str(small), str(wide)), 2, "is 8x8 but", "is 8x10",
                 "compare images of the same size")
    mismatched = tmp_path / "set"
    shutil.copytree(data, mismatched)
    target = sorted((mismatched / "fujifilm").iterdir())[-1]
    os.replace(wide, target)
    _clear_error(mai_bench(None, "eval", str(MODELS / "tiny_isp.tflite"), "--data", str(mismatched)), 2,
                 f"target {target.name} is 8x10", "they must be the same size")


def test_deeply_nested_json_is_a_clear_error_in_report_and_farm_journal(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mai_bench.farm.journal import read_journal
    from mai_bench.results.schema import ResultFormatError

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "report", str(deep)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nests JSON too deeply" in proc.stderr
    journal = tmp_path / "results.jsonl"
    journal.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ResultFormatError):
        read_journal(journal)
