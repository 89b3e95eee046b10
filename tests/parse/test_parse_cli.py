"""`mai-bench parse`: JSON and table output, stdin, unreadable input; one run of the installed entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import pytest

from mai_bench.cli.main import cli
from mai_bench.emulate.runner.gpu import GPU_ABSENT_ENV
from mai_bench.errors import EXIT_USAGE, UsageError
from mai_bench.parse import REPORT_KEYS, parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import classify
from mai_bench.session import RawRun, host_runner_argv

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
MODELS = Path(__file__).resolve().parent.parent / "fixtures" / "models"
PARTIAL = LOGS / "013_android-xnnpack-partial-int4.txt"
FAILED = LOGS / "005_mi11-sd888-nnapi-qtidefault-failed.txt"
ENTRY_POINT = Path(sys.executable).with_name("mai-bench")


# What `mai-bench parse --json` adds to the parsed values: the run's classification and what the binary used.
VERDICT_KEYS = ("log_status", "requested_delegate", "threads", "ignored_flags")


def test_json_is_the_report_dict_with_the_run_classification():
    result = CliRunner().invoke(cli, ["parse", str(PARTIAL), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert tuple(report) == REPORT_KEYS + VERDICT_KEYS
    parsed = parse_log(PARTIAL.read_text(encoding="utf-8")).to_dict()
    assert {k: v for k, v in report.items() if k in REPORT_KEYS and k != "status"} == \
        {k: v for k, v in parsed.items() if k != "status"}
    assert (report["inference_avg_us"], report["nodes_delegated"], report["p95_us"]) == (42394.8, 2136, 42671.0)
    assert (report["status"], report["log_status"], report["threads"], report["ignored_flags"]) == ("ok", "ok", 1, [])


def test_stdin_with_bytes_that_are_not_utf8():
    data = FAILED.read_bytes() + b"\xff\xfe\x80 trailing garbage\n"
    result = CliRunner().invoke(cli, ["parse", "-", "--json"], input=data)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # The log failed; as a run, its NNAPI delegate failed first (what `mai-bench run --delegate nnapi` says).
    assert (report["status"], report["log_status"], report["requested_delegate"]) == ("delegate-failed", "failed",
                                                                                      "nnapi")
    assert (report["delegate_failed"], report["inference_avg_us"]) == (True, None)


def test_table_output():
    result = CliRunner().invoke(cli, ["parse", str(PARTIAL)])
    assert result.exit_code == 0, result.output
    assert "42.395 ms" in result.output
    assert "2136/2168" in result.output
    assert "TfLiteXNNPackDelegate" in result.output


def test_table_lists_failure_reasons():
    result = CliRunner().invoke(cli, ["parse", str(FAILED)])
    assert result.exit_code == 0, result.output
    assert "delegate-failed" in result.output
    assert "Failed to apply NNAPI delegate." in result.output


def test_unrecognised_log_says_so(tmp_path):
    log = tmp_path / "notes.txt"
    log.write_text("shopping list: eggs, milk\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["parse", str(log)])
    assert result.exit_code == 0
    assert "unparsed" in result.output
    assert "No benchmark_model output recognised" in result.output


def test_missing_file_is_a_usage_error(tmp_path):
    missing = tmp_path / "nope.log"
    result = CliRunner().invoke(cli, ["parse", str(missing), "--json"])
    assert isinstance(result.exception, UsageError)
    assert str(missing) in result.exception.message
    assert result.exception.fix


def test_directory_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["parse", str(tmp_path)])
    assert isinstance(result.exception, UsageError)
    assert "directory" in result.exception.message


def test_installed_command_prints_pure_json():
    assert ENTRY_POINT.exists(), f"{ENTRY_POINT} missing: install the package into this environment"
    done = subprocess.run([str(ENTRY_POINT), "parse", str(PARTIAL), "--json"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.decode("utf-8"))
    parsed = parse_log(PARTIAL.read_text(encoding="utf-8")).to_dict()
    assert {k: report[k] for k in REPORT_KEYS if k != "status"} == {k: v for k, v in parsed.items() if k != "status"}


def test_installed_command_missing_file_exits_2(tmp_path):
    missing = tmp_path / "nope.log"
    done = subprocess.run([str(ENTRY_POINT), "parse", str(missing), "--json"], capture_output=True, timeout=60)
    assert done.returncode == EXIT_USAGE
    assert done.stdout == b""
    assert b"not found" in done.stderr


# Logs (by prefix) and the delegate their run asked for, as `mai-bench run --delegate` names it.
RUN_OF_LOG = {"005": "nnapi", "009": "nnapi", "017": "gpu", "019": "hexagon", "025": "nnapi", "035": "gpu",
              "036": "gpu", "038": "gpu", "039": "gpu"}


@pytest.mark.parametrize("prefix", sorted(RUN_OF_LOG))
def test_parse_gives_the_status_a_run_gives(prefix):
    (path,) = LOGS.glob(prefix + "_*.txt")
    text = path.read_text(encoding="utf-8", errors="replace")
    delegate = RUN_OF_LOG[prefix]
    run_status, _ = classify(RunPlan(delegate=delegate), parse_log(text), RawRun((), text, None, 1.0))
    report = json.loads(CliRunner().invoke(cli, ["parse", str(path), "--json"]).output)
    assert (report["requested_delegate"], report["status"]) == (delegate, run_status)


def test_the_loopback_gpu_log_is_a_failed_delegate_in_parse_as_in_run(tmp_path):
    """The host runner (what a loopback device runs) asked for the GPU on a device without one (spec gpu: false):
    it runs on the CPU."""
    argv = [*host_runner_argv(), f"--graph={MODELS / 'tiny_isp_static.tflite'}", "--use_gpu=true", "--num_runs=2",
            "--warmup_runs=1", "--min_secs=0", "--warmup_min_secs=0"]
    done = subprocess.run(argv, capture_output=True, timeout=120, env={**os.environ, GPU_ABSENT_ENV: "1"})
    text = (done.stdout + done.stderr).decode("utf-8")
    assert done.returncode == 0, text
    run_status, _ = classify(RunPlan(delegate="gpu"), parse_log(text), RawRun(tuple(argv), text, 0, 1.0))
    log = tmp_path / "loopback-gpu.log"
    log.write_text(text, encoding="utf-8")
    report = json.loads(CliRunner().invoke(cli, ["parse", str(log), "--json"]).output)
    assert report["status"] == run_status == "delegate-failed"
    assert report["log_status"] == "ok"  # the log alone is a complete run: on the CPU


@pytest.mark.parametrize("name", ["017_pocox3-gpu-full-opprofile.txt", "038_qrb2210-rb1-linux-gpu-opencl-full-no-"
                                  "replacing-line.txt", "011_android-xnnpack-full-fp32-p5median-count1000.txt"])
def test_a_fully_delegated_log_never_shows_cpu_fallback_full(name):
    out = CliRunner().invoke(cli, ["parse", str(LOGS / name)], terminal_width=200).output
    line = next(line for line in out.splitlines() if "CPU fallback" in line)
    assert "none (the delegate runs the whole graph)" in line
    assert "full" not in line.replace("whole", "")


def test_table_shows_ignored_flags_and_threads():
    out = CliRunner().invoke(cli, ["parse", str(LOGS / "035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-"
                                                "partial.txt")], terminal_width=250).output
    assert "flag-ignored" in out and "--allow_fp16" in out
    assert "the precision setting was not applied" in out
    assert any("CPU threads" in line and "4" in line for line in out.splitlines())
