"""The whole fidelity path through the CLI: synthetic pairs, an eval, a runtime result of the same model, and a
merged report that shows PSNR, SSIM and the challenge score (marked as not comparable: a host CPU runtime)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "tiny_isp.tflite"


def mai_bench(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_synth_eval_run_and_a_merged_report(tmp_path: Path) -> None:
    mai_bench("data", "synth", str(tmp_path / "data"), "--count", "2", "--size", "64x96")
    mai_bench("eval", str(MODEL), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "fidelity"))
    mai_bench("run", str(MODEL), "--input-shape", "1,32,48,4", "--runs", "3", "--min-secs", "0",
              "--out", str(tmp_path / "runs"))
    merged = json.loads(mai_bench("report", str(tmp_path / "runs"), str(tmp_path / "fidelity"), "--json").stdout)
    (config,) = merged["configs"]
    evaluation = json.loads((tmp_path / "fidelity" / "fidelity_tiny_isp.json").read_text())
    assert config["fidelity"]["psnr"] == evaluation["psnr"] and config["fidelity"]["ssim"] == evaluation["ssim"]
    score = config["score"]
    expected = 2 ** (2 * evaluation["psnr"]) / (2 ** 40 * config["summary"]["center_ms"])
    assert abs(score["score"] - expected) <= 1e-9 * expected
    assert "host CPU" in json.dumps(score)  # labelled: not the challenge's phone GPU runtime
    markdown = mai_bench("report", str(tmp_path / "runs"), str(tmp_path / "fidelity"), "--format", "md").stdout
    assert "PSNR" in markdown and "SSIM" in markdown and "score" in markdown.lower()
