"""What `mai-bench run` on a device costs besides the benchmark (issue 12, item 12), checked by what it does, not by
a stopwatch (the figures are in bench/RESULTS.md): the modules a device run does without are never imported, and
picking the device reads no telemetry (the run reads its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mai_bench.device.address import parse_server
from mai_bench.device.discovery import list_devices, resolve_devices

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
# Each costs tens of milliseconds at every start and a device run needs none of them: numpy (through the
# flatbuffers package the model reader no longer uses), the statistics (--with-baselines only), the HTTP
# client (a binary download only), the terminal tables (not with --json).
NOT_NEEDED = ("numpy", "flatbuffers", "ai_edge_litert", "http.client", "urllib.request", "mai_bench.stats.compare",
              "mai_bench.report.terminal")

_CLI = """import atexit, sys
def report():
    sys.stderr.write("IMPORTED " + json.dumps(sorted(m for m in NAMES if m in sys.modules)) + "\\n")
import json
NAMES = json.loads(sys.argv[1])
atexit.register(report)
sys.argv = ["mai-bench", *sys.argv[2:]]
from mai_bench.cli.main import main
main()
"""


def test_a_device_run_imports_nothing_it_does_not_need(adb_server, loopback) -> None:
    device = loopback.one()
    binary = device.root / "system" / "bin" / "benchmark_model"  # pushed, as --benchmark-binary is
    argv = ["run", str(MODEL), "--device", device.serial, "--adb-server", adb_server.address, "--delegate",
            "xnnpack", "--runs", "2", "--warmup", "0", "--min-secs", "0", "--cooldown-timeout", "0",
            "--benchmark-binary", str(binary), "--json"]
    proc = subprocess.run([sys.executable, "-c", _CLI, json.dumps(NOT_NEEDED), *argv], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HOME": str(adb_server.home)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["status"] == "ok"
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("IMPORTED ")]
    assert json.loads(line.removeprefix("IMPORTED ")) == []


def test_picking_a_device_for_a_run_reads_no_telemetry(adb_server, loopback) -> None:
    device = loopback.one()
    servers = [parse_server(adb_server.address)]
    for spec in (device.serial, "loopback-sm8450"):
        (picked,) = [d for d in resolve_devices(spec, servers) if d.serial == device.serial]
        assert picked.profile == "loopback-sm8450" and picked.props["ro.soc.model"] == "SM8450"
        assert picked.telemetry is None, "a run reads its own, right before it runs"
    (listed,) = [d for d in list_devices(servers).devices if d.serial == device.serial]
    assert listed.telemetry is not None and listed.telemetry.max_temp_c is not None, "`devices` still shows them"
