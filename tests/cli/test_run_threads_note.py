"""`mai-bench run` on this machine says when benchmark_model ran on its default single CPU thread, and records the
effective thread count in the result, given or not."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mai_bench.cli.main import cli

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "tiny_isp.tflite"
QUICK = ["--device", "local", "--runs", "2", "--warmup", "1", "--min-secs", "0", "--input-shape", "1,16,16,4"]


def test_default_threads_are_said_and_recorded() -> None:
    out = CliRunner().invoke(cli, ["run", str(MODEL), *QUICK], terminal_width=250)
    assert out.exit_code == 0, out.output
    assert "no --threads: benchmark_model ran the CPU kernels (XNNPACK's too) on its default of 1 thread" in out.output
    result = json.loads(CliRunner().invoke(cli, ["run", str(MODEL), *QUICK, "--json"]).stdout)
    assert (result["threads"], result["ignored_flags"], result["settings"]["threads"]) == (1, [], None)


def test_threads_asked_for_are_recorded() -> None:
    result = json.loads(CliRunner().invoke(cli, ["run", str(MODEL), *QUICK, "--threads", "2", "--json"]).stdout)
    assert result["threads"] == 2 and "--num_threads=2" in result["argv"]
    assert not any("no --threads" in w for w in result["warnings"])
