"""Output for terminals and logs, through the real CLI. In a pseudo-terminal of 80 or 120 columns (COLUMNS and the
window size both set) `report`, `compare` and `devices` fit: no line wider than the terminal, no value folded over
lines. Written to a pipe (a log), nothing is ever wrapped whatever COLUMNS says: an error keeps its file path in
one piece and each table row stays one line."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from mai_bench.console import UNWRAPPED_WIDTH, make_console
from mai_bench.report.inputs import load_inputs
from mai_bench.report.merge import build_report
from mai_bench.report.numbers import fmt_interval
from synthetic import host_result

CLI = [sys.executable, "-m", "mai_bench.cli.main"]
CLI_TIMEOUT_S = 120
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
# Variables that would override what the terminal says about itself.
TERMINAL_OVERRIDES = ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def in_terminal(columns: int, *args: str) -> tuple[int, str]:
    """Run `mai-bench ARGS` with stdin, stdout and stderr on a pseudo-terminal `columns` wide: (exit code, what
    the screen got, colours removed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_OVERRIDES}
    env.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    proc = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], CLI_TIMEOUT_S)
            assert ready, f"mai-bench {' '.join(args)} printed nothing for {CLI_TIMEOUT_S} s"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        code = proc.wait(timeout=CLI_TIMEOUT_S)
    text = b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
    return code, ANSI.sub("", text)


def piped(columns: int, *args: str) -> subprocess.CompletedProcess:
    """Run `mai-bench ARGS` into pipes (a CI log) with COLUMNS set."""
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_OVERRIDES}
    env["COLUMNS"] = str(columns)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env,
                          stdin=subprocess.DEVNULL)


def assert_fits(text: str, columns: int) -> None:
    wide = [line for line in text.splitlines() if len(line.rstrip()) > columns]
    assert not wide, f"lines wider than {columns} columns:\n" + "\n".join(wide)


def assert_whole(text: str, values) -> None:
    """Each value appears unbroken: a table squeezed to the width folds values over lines (one letter per line
    in the worst case), and this catches any fold."""
    broken = [v for v in values if v not in text]
    assert not broken, f"split or missing: {broken}\n{text}"


LONG_NAMES = ("candidate_isp_with_a_rather_long_model_name", "microisp_like")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Result documents with known latencies: two models, three rounds each, on the host CPU."""
    out = tmp_path_factory.mktemp("results")
    for m, name in enumerate(LONG_NAMES):
        for i in range(3):
            result = host_result([8.0 + m + 0.1 * i + 0.01 * j for j in range(20)], name=name, sha256=f"{m}" * 64,
                                 created=f"2025-06-01T09:0{m}:{i:02d}+00:00")
            (out / f"{name}_{i}.json").write_text(json.dumps(result.to_dict()))
    return out


@pytest.fixture(scope="module")
def intervals(results: Path) -> dict[str, str]:
    """Each model's summary cell, "median (low–high)", as the report prints it."""
    inputs = load_inputs([results])
    report = build_report(inputs.results, inputs.fidelity)
    return {c.first.model.name: fmt_interval(c.summary) for c in report.configs}


# --- the console factory -------------------------------------------------------------------------------------

def test_a_console_on_a_pipe_or_file_never_wraps_and_one_on_a_terminal_follows_columns(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    buffer = io.StringIO()
    logged = make_console(file=buffer)
    assert logged.width == UNWRAPPED_WIDTH and logged.soft_wrap
    path = "/tmp/" + "a_very_long_directory_name/" * 6 + "model.tflite"
    logged.print(f"error: cannot read {path}: it is 40x60 but must be 544x960")
    assert buffer.getvalue().count("\n") == 1 and path in buffer.getvalue()
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as screen:
            assert make_console(file=screen).width == 40 and not make_console(file=screen).soft_wrap
    finally:
        os.close(master)
        os.close(slave)


# --- terminals ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 120])
def test_report_fits_the_terminal(results: Path, intervals: dict[str, str], columns: int) -> None:
    code, screen = in_terminal(columns, "report", str(results))
    assert code == 0, screen
    assert_fits(screen, columns)
    assert_whole(screen, [*LONG_NAMES, *intervals.values(), "bootstrap-rounds", "Summary", "Latency (ms)",
                          "Run details", "TfLiteXNNPackDelegate 12/12"])
    if columns == 80:  # too narrow for the summary's ten columns: stacked rows, each value named
        assert f"median (95% CI): {intervals[LONG_NAMES[0]]}" in screen


def test_report_on_a_wide_terminal_is_the_full_table(results: Path, intervals: dict[str, str]) -> None:
    code, screen = in_terminal(250, "report", str(results))
    assert code == 0, screen
    header = next(line for line in screen.splitlines() if "median (95% CI)" in line)
    assert "model" in header and "rounds" in header and "score" in header
    for name, interval in intervals.items():
        assert any(name in line and interval in line for line in screen.splitlines()), f"{name}: not one row"


@pytest.mark.parametrize("columns", [80, 120])
def test_compare_fits_the_terminal(results: Path, intervals: dict[str, str], columns: int) -> None:
    code, screen = in_terminal(columns, "compare", str(results), str(results))
    assert code == 0, screen
    assert_fits(screen, columns)
    assert_whole(screen, [*LONG_NAMES, *intervals.values(), "not significant"])


@pytest.mark.parametrize("columns", [80, 120])
def test_devices_fit_the_terminal(adb_server, loopback, columns: int) -> None:
    devices = loopback.start(2)
    code, screen = in_terminal(columns, "devices", "--adb-server", adb_server.address)
    assert code == 0, screen
    assert_fits(screen, columns)
    assert_whole(screen, [*(d.serial for d in devices), f"Devices on {adb_server.address}", "loopback-sm8450",
                          "SM8450", "arm64-v8a", "profile", "Android", "emulated"])


# --- logs -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [40, 80, 200])
def test_a_long_path_in_an_error_is_never_split_in_a_log(tmp_path: Path, columns: int) -> None:
    missing = tmp_path / ("a_directory_with_a_long_name_to_pass_any_width_" * 3) / "results.json"
    proc = piped(columns, "report", str(missing))
    assert proc.returncode == 2, proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert str(missing) in error


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_a_table_row_is_never_split_in_a_log(results: Path, intervals: dict[str, str], columns: int) -> None:
    proc = piped(columns, "report", str(results))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for name, interval in intervals.items():
        assert any(name in line and interval in line and "bootstrap-rounds" in line for line in lines), (
            f"{name}'s summary row is not one line:\n{proc.stdout}")
    assert not any(len(line) != len(line.rstrip()) for line in lines), "lines padded with spaces"


def test_a_device_row_is_never_split_in_a_log(adb_server, loopback) -> None:
    (device,) = loopback.start(1)
    proc = piped(40, "devices", "--adb-server", adb_server.address)
    assert proc.returncode == 0, proc.stderr
    assert any(device.serial in line and "loopback-sm8450" in line and "arm64-v8a" in line
               for line in proc.stdout.splitlines()), proc.stdout
