"""Errors give the fix for their own cause (a Flex op, an RGB input shape, a broken YAML file named as itself),
`report -o` writes only what its suffix says, and files are written with the mode the umask gives."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.errors import UsageError
from mai_bench.farm.journal import Journal
from mai_bench.report import FORMATS
from mai_bench.results.store import save_result, write_atomic
from mai_bench.yaml_file import read_yaml
from synthetic import host_result

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
WRONG_ADVICE = "convert the model with input shape"


def mai_bench(*args: str, umask: int | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={**os.environ, "COLUMNS": "200"},
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))


def test_run_on_a_model_with_a_flex_op_says_remove_the_tf_ops() -> None:
    done = mai_bench("run", MODELS / "flex_op.tflite", "--runs", "1", "--min-secs", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "FLEX:Sinh" in done.stderr and "SELECT_TF_OPS" in done.stderr and "TFLITE_BUILTINS" in done.stderr
    assert WRONG_ADVICE not in done.stderr


def test_run_with_three_input_channels_says_the_model_takes_packed_bayer_not_rgb() -> None:
    done = mai_bench("run", MODELS / "tiny_isp.tflite", "--input-shape", "1,544,960,3", "--runs", "1",
                     "--min-secs", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "packed 4-channel Bayer RAW" in done.stderr and "not RGB" in done.stderr
    assert "--input-shape 1,544,960,4" in done.stderr
    assert WRONG_ADVICE not in done.stderr


def test_a_model_with_rgb_input_is_told_to_take_raw() -> None:
    from mai_bench.model.shapes import channel_mismatch

    error = channel_mismatch((1, 544, 960, 3), (1, 544, 960, 4), "rgb_isp.tflite")
    assert "3-channel input" in error.message and "[1,H,W,4] RAW input" in error.fix
    assert channel_mismatch((1, -1, -1, 4), (1, 544, 960, 4), "m") is None
    assert channel_mismatch((1, -1, -1, -1), (1, 544, 960, 3), "m") is None, "dynamic channels: LiteRT decides"


@pytest.mark.parametrize("loader", ["C", "Python"])
def test_a_yaml_syntax_error_names_the_file(tmp_path: Path, monkeypatch, loader: str) -> None:
    import yaml

    if loader == "Python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    broken = tmp_path / "plan.yaml"
    broken.write_text("models: [a.tflite\ndevices: [sm8450]\n", encoding="utf-8")
    with pytest.raises(UsageError) as error:
        read_yaml(broken, "plan file")
    assert "<unicode string>" not in error.value.message
    assert f'in "{broken}", line 1' in error.value.message and f'in "{broken}", line 2' in error.value.message


def test_a_farm_plan_with_a_yaml_error_names_it_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text("devices: [sm8450\nmodels: [a]\n", encoding="utf-8")
    done = mai_bench("farm", "plan.yaml", cwd=tmp_path)
    assert done.returncode == 2 and 'in "plan.yaml", line' in done.stderr and "<unicode" not in done.stderr


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    save_result(host_result([10.0, 11.0, 12.0], created="2026-01-01T00:00:00+00:00"), folder)
    return folder


def test_report_refuses_an_output_suffix_no_format_writes(results_dir: Path, tmp_path: Path) -> None:
    done = mai_bench("report", results_dir, "-o", tmp_path / "x.pdf")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ".pdf" in done.stderr and all(suffix in done.stderr for _, suffix in FORMATS.values())
    assert not (tmp_path / "x.pdf").exists()
    clash = mai_bench("report", results_dir, "--format", "csv", "-o", tmp_path / "x.html")
    assert clash.returncode == 2 and "x.csv" in clash.stderr and not (tmp_path / "x.html").exists()
    for fmt, (_, suffix) in FORMATS.items():
        out = tmp_path / f"report{suffix.upper()}"
        done = mai_bench("report", results_dir, "-o", out)
        assert done.returncode == 0, (fmt, done.stderr)
    assert (tmp_path / "report.CSV").read_text().splitlines()[0].count(",") > 3, "the CSV format wrote .CSV"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_reports_results_and_summaries_get_the_mode_the_umask_gives(results_dir: Path, tmp_path: Path,
                                                                     umask: int, mode: int) -> None:
    report = tmp_path / "report.md"
    done = mai_bench("report", results_dir, "-o", report, umask=umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(report.stat().st_mode) == mode

    previous = os.umask(umask)
    try:
        saved = save_result(host_result([10.0], created="2026-01-02T00:00:00+00:00"), tmp_path / "out")
        write_atomic(tmp_path / "out" / "summary.md", "# summary\n")
        Journal.open(tmp_path / "out" / "results.jsonl").close()
    finally:
        os.umask(previous)
    for path in (saved, tmp_path / "out" / "summary.md", tmp_path / "out" / "results.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path.name


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    write_atomic(path, "one\n")
    path.chmod(0o640)
    write_atomic(path, "two\n")
    assert path.read_text() == "two\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
