"""`mai-bench parse`: JSON and table output, stdin, unreadable input; one run of the installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mai_bench.cli.main import cli
from mai_bench.errors import EXIT_USAGE, UsageError
from mai_bench.parse import REPORT_KEYS, parse_log

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
PARTIAL = LOGS / "013_android-xnnpack-partial-int4.txt"
FAILED = LOGS / "005_mi11-sd888-nnapi-qtidefault-failed.txt"
ENTRY_POINT = Path(sys.executable).with_name("mai-bench")


def test_json_is_the_report_dict():
    result = CliRunner().invoke(cli, ["parse", str(PARTIAL), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert tuple(report) == REPORT_KEYS
    assert report == parse_log(PARTIAL.read_text(encoding="utf-8")).to_dict()
    assert (report["inference_avg_us"], report["nodes_delegated"], report["p95_us"]) == (42394.8, 2136, 42671.0)


def test_stdin_with_bytes_that_are_not_utf8():
    data = FAILED.read_bytes() + b"\xff\xfe\x80 trailing garbage\n"
    result = CliRunner().invoke(cli, ["parse", "-", "--json"], input=data)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["status"], report["delegate_failed"], report["inference_avg_us"]) == ("failed", True, None)


def test_table_output():
    result = CliRunner().invoke(cli, ["parse", str(PARTIAL)])
    assert result.exit_code == 0, result.output
    assert "42.395 ms" in result.output
    assert "2136/2168" in result.output
    assert "TfLiteXNNPackDelegate" in result.output


def test_table_lists_failure_reasons():
    result = CliRunner().invoke(cli, ["parse", str(FAILED)])
    assert result.exit_code == 0, result.output
    assert "failed" in result.output
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
    assert json.loads(done.stdout.decode("utf-8")) == parse_log(PARTIAL.read_text(encoding="utf-8")).to_dict()


def test_installed_command_missing_file_exits_2(tmp_path):
    missing = tmp_path / "nope.log"
    done = subprocess.run([str(ENTRY_POINT), "parse", str(missing), "--json"], capture_output=True, timeout=60)
    assert done.returncode == EXIT_USAGE
    assert done.stdout == b""
    assert b"not found" in done.stderr
