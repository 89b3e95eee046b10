"""`mai-bench emulate` as a user runs it: devices come up on an adb server it starts, and everything it started
is gone after SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib

GUARD_TIMEOUT_S = 60.0


def _mai_bench() -> list[str]:
    script = Path(sys.executable).parent / "mai-bench"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from mai_bench.cli.main import main; main()"]


def _read_lines(proc: subprocess.Popen, until: int) -> list[str]:
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + GUARD_TIMEOUT_S
    while len(lines) < until and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in complete]
    return lines


def test_emulate_starts_devices_and_cleans_up_on_sigterm(tmp_path):
    port = adb_server_lib.free_port()
    proc = subprocess.Popen([*_mai_bench(), "emulate", "--count", "2", "--adb-server", f"127.0.0.1:{port}",
                             "--root", str(tmp_path / "emu")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server = adb_server_lib.AdbServer("127.0.0.1", port)
    pids: list[int] = []
    try:
        lines = _read_lines(proc, until=4)
        assert lines[0].startswith(f"adb server 127.0.0.1:{port} (started here)"), (lines, proc.stderr)
        rows = [line.split() for line in lines[1:3]]
        serials = [row[0] for row in rows]
        pids = [int(row[3].removeprefix("pid=")) for row in rows]
        assert all(row[1] == "device" and row[2] == "loopback-sm8450" for row in rows)
        states = adb_server_lib.devices(server)
        assert [states.get(serial) for serial in serials] == ["device", "device"]
        adb = adb_server_lib.adb_binary()
        out = subprocess.run([adb, "-P", str(port), "-s", serials[1], "shell", "getprop", "ro.soc.model"],
                             capture_output=True, timeout=GUARD_TIMEOUT_S)
        assert out.stdout == b"SM8450\n"
        # The other terminal: `mai-bench devices --json` lists both, matched to the SM8450 profile they emulate.
        listing = subprocess.run([*_mai_bench(), "devices", "--json", "--adb-server", f"127.0.0.1:{port}"],
                                 capture_output=True, text=True, timeout=GUARD_TIMEOUT_S)
        assert listing.returncode == 0, listing.stderr
        found = {d["serial"]: d for d in json.loads(listing.stdout)["devices"]}
        assert set(found) == set(serials)
        for device in found.values():
            assert device["state"] == "device" and device["soc_model"] == "SM8450" and device["emulated"] is True
            assert device["profile"] == "loopback-sm8450" and device["emulates"] == "sm8450"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(GUARD_TIMEOUT_S)
    assert code == 0, proc.stderr.read()
    assert adb_server_lib.server_version(server) is None
    assert all(loopback_lib.session_processes(pid) == [] for pid in pids)


def test_emulate_refuses_unknown_profile(tmp_path):
    result = subprocess.run([*_mai_bench(), "emulate", "--profile", "sm9999", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=GUARD_TIMEOUT_S)
    assert result.returncode == 2
    assert "no loopback profile 'sm9999'" in result.stderr and "Traceback" not in result.stderr
