"""A requested GPU, NNAPI or Hexagon delegate that falls back to the CPU, through `mai-bench run` on loopback
devices and `mai-bench report` on the saved results: without --allow-fallback the run stops before anything is
timed on the CPU (by benchmark_model's --require_full_delegation, or by the device-side delegate guard for a
build that goes on regardless); with it, the CPU timings are kept and every report labels them "CPU fallback",
never with the delegate's name."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.emulate.adbd.spec import Faults
from mai_bench.report.numbers import fmt_ms
from support import cmdline

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
LOGS = ROOT / "tests" / "fixtures" / "logs"
FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0"]
GPU_UNSUPPORTED = "035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-partial.txt"  # GPU not created
NNAPI_PARTIAL = "025_benchmarkapp-logcat-nnapi-partial-44kernels-truncated.txt"  # NNAPI took 44 kernels' worth
GUARD_MARK = "mai-bench delegate guard: stopped benchmark_model at log line"


def mai_bench(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(server.home)}
    server_args = ["--adb-server", server.address] if args[0] == "run" else []
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, *server_args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def argv_records(device) -> list[dict]:
    return [json.loads(line) for line in device.argv_log.read_text().splitlines()]


# The loopback device's benchmark_model (the host runner) plays a phone without a DSP and with an NNAPI that has no
# device: the Hexagon delegate cannot be created, the NNAPI one is created and takes no node (the refusal comes
# before the tool's verdict line, as in benchmark_tflite_model.cc). The last line each prints before the refusal:
CANNOT = {"hexagon": "Could not create Hexagon delegate: platform may not support delegate or required libraries are "
                     "missing",
          "nnapi": "NNAPI delegate created."}
# (A loopback GPU may be a real one, so the GPU's cases are the guard's and the replays' below.)


@pytest.mark.parametrize("delegate", sorted(CANNOT))
def test_a_delegate_that_cannot_run_stops_before_the_cpu_is_timed(adb_server, loopback, tmp_path: Path,
                                                                   delegate) -> None:
    device = loopback.one()
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", "sm8450", "--delegate", delegate, "--json",
                     "--out", str(tmp_path), *FAST)
    assert proc.returncode == 1, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "delegate-failed"
    (record,) = argv_records(device)
    assert "--require_full_delegation=true" in record["argv"] and "--require_full_delegation=true" in result["argv"]
    assert CANNOT[delegate] in result["raw_log"] and "Disallowed CPU fallback detected." in result["raw_log"]
    assert "Running benchmark" not in result["raw_log"], "not one warm-up or timed run on the CPU"
    assert all(value is None for value in result["latency_ms"].values())
    assert result["extra"]["delegate_stop"] == {"by": "benchmark_model --require_full_delegation",
                                                "line": "Disallowed CPU fallback detected."}
    assert any(w.startswith("stopped before the timed runs") and "--allow-fallback" in w
               for w in result["warnings"])
    assert result["argv"][0].endswith("benchmark_model"), "the recorded command is the benchmark's, not the guard's"
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["extra"]["delegate_stop"], "saved with the result"


def _old_binary(path: Path, log_name: str) -> Path:
    """A benchmark_model build that goes on on the CPU after its delegate failed: it prints a real phone log up to
    its first "Running benchmark" line, then stays in its warm-up (until something stops it)."""
    head = []
    for line in (LOGS / log_name).read_text(encoding="utf-8").splitlines():
        head.append(line)
        if "Running benchmark" in line:
            break
    body = "\n".join(head)
    assert "MAI_BENCH_LOG_END" not in body
    path.write_text(f"#!/system/bin/sh\ncat <<'MAI_BENCH_LOG_END'\n{body}\nMAI_BENCH_LOG_END\nexec sleep 600\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("log_name, delegate, status, line", [
    (GPU_UNSUPPORTED, "gpu", "flag-ignored", "GPU acceleration is unsupported on this platform."),
    (NNAPI_PARTIAL, "nnapi", "delegate-fallback", None),
], ids=["gpu-not-created", "nnapi-partial"])
def test_a_build_that_goes_on_on_the_cpu_is_stopped_by_the_delegate_guard(adb_server, loopback, tmp_path: Path,
                                                                          log_name, delegate, status, line) -> None:
    device = loopback.one()
    binary = _old_binary(tmp_path / "benchmark_model", log_name)
    # Were the guard not there, the run would sit in its warm-up until --run-timeout ended it (status timeout).
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", "sm8450", "--delegate", delegate, "--json",
                     "--benchmark-binary", str(binary), "--run-timeout", "120", *FAST, timeout=400)
    assert proc.returncode == 1, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == status, result["raw_log"][-1000:]
    log_lines = result["raw_log"].splitlines()
    (mark,) = [text for text in log_lines if text.startswith(GUARD_MARK)]
    number = int(mark[len(GUARD_MARK):].split(":")[0])
    decided = log_lines[number - 1]
    if line is not None:
        assert decided == line
    else:
        assert "will be partially executed by the delegate w/ 44 delegate kernels" in decided
    assert result["extra"]["delegate_stop"] == {"by": "mai-bench's delegate guard", "line": decided.strip()}
    assert result["exit_code"] == 128 + 15, "stopped with SIGTERM"
    assert result["latency_ms"]["avg"] is None and result["latency_ms"]["count"] is None
    assert "--require_full_delegation=true" in result["argv"] and result["argv"][0].endswith("/benchmark_model")
    left = [p for p in _all_pids() if str(device.root) in cmdline(p) and "sleep 600" in cmdline(p)]
    assert not left, f"the stopped benchmark is still running: {left}"


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


# Real phone logs replayed by the loopback device's benchmark_model, with --allow-fallback: the CPU timings are
# kept, and every report shows them as CPU fallback. (label, the log's own timed-run average in ms, exit code:
# --allow-fallback accepts a partial fallback, never a delegate that ran nothing)
REPLAYED = [
    (GPU_UNSUPPORTED, "gpu", "CPU fallback (gpu failed)", 74.4816, 1),
    (NNAPI_PARTIAL, "nnapi", "CPU fallback (nnapi partial)", 12.1676, 0),
]


@pytest.mark.parametrize("log_name, delegate, label, avg_ms, code", REPLAYED, ids=["gpu-failed", "nnapi-partial"])
def test_fallback_timings_are_labelled_cpu_fallback_in_every_report(adb_server, loopback, tmp_path: Path,
                                                                    log_name, delegate, label, avg_ms, code) -> None:
    loopback.one(faults=Faults(benchmark_log_file=str(LOGS / log_name), benchmark_exit_code=0))
    out = tmp_path / "results"
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", "sm8450", "--delegate", delegate,
                     "--allow-fallback", "--out", str(out), *FAST)
    shown = fmt_ms(avg_ms)
    assert proc.returncode == code, proc.stderr[-2000:]
    # run's own tables and the published-runtime line
    lines = [text for text in proc.stdout.splitlines() if f" {shown} " in text]
    assert lines and all(label in text for text in lines), proc.stdout
    (saved,) = out.glob("*.json")
    result = json.loads(saved.read_text())
    assert "--require_full_delegation=true" not in result["argv"] and "delegate_stop" not in result["extra"]
    assert result["latency_ms"]["avg"] == avg_ms

    table = mai_bench(adb_server, "report", str(out), "--format", "table")
    rows = [text for text in table.stdout.splitlines() if f" {shown} " in text]
    assert rows and all(label in text for text in rows), table.stdout

    rows = list(csv.DictReader(io.StringIO(mai_bench(adb_server, "report", str(out), "--format", "csv").stdout)))
    assert [(r["delegate"], r["requested_delegate"], float(r["avg_ms"])) for r in rows] == [(label, delegate, avg_ms)]

    report = json.loads(mai_bench(adb_server, "report", str(out), "--format", "json").stdout)
    assert [r["timings_from"] for r in report["results"]] == [label]
    assert [c["summary"]["center_ms"] for c in report["configs"]] == [None], "no summary from fallback numbers"

    markdown = mai_bench(adb_server, "report", str(out), "--format", "md").stdout
    assert shown not in markdown and str(avg_ms) not in markdown, "Markdown shows no number for this delegate"

    html = mai_bench(adb_server, "report", str(out), "--format", "html").stdout
    (cells,) = [row for row in html.split("<tr") if f">{shown}<" in row]
    assert f"<td>{label}</td>" in cells and f"<td>{delegate}</td>" not in cells
    assert 'id="chart-latency"' in html
