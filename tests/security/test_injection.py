"""No injection: hostile model file names and option values reach the device as exactly one argument each, and
nothing in them ever runs. The loopback device records the argv benchmark_model received (argv.log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mai_bench.android.staging import content_path
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
FAST = ("--runs", "1", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0")

# Each name carries shell syntax that would run `touch pwned*` (or split the argument) if it were ever pasted
# into a command line unquoted: spaces, quotes, `;`, `&&`, `$(...)`, backticks, pipes and redirections,
# newlines, tabs, non-ASCII, a leading dash.
HOSTILE = [
    "sp ace 'single\"double;touch pwned1&&touch pwned2.tflite",
    "$(touch pwned3)`touch pwned4`|x>y<z.tflite",
    "new\nline\ttab \u00fcn\u00ef \u6a21\u578b \u202eevil.tflite",
    "-rf --graph=x.tflite",
]


def _mai_bench(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(server.home)})


def _calls(device) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in device.argv_log.read_text(encoding="utf-8").splitlines()]


def _no_marker_anywhere(*folders: Path) -> None:
    for folder in folders:
        found = [p for p in folder.rglob("pwned*")]
        assert not found, f"a command in a name ran: {found}"


def test_hostile_model_names_reach_the_device_as_one_argument(adb_server, loopback, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=0.05))
    folder = tmp_path / "models; $(touch pwned0)"
    folder.mkdir()
    paths = []
    for name in ["plain.tflite", *HOSTILE]:
        path = folder / name
        path.write_bytes(MODEL.read_bytes())
        paths.append(path)
    proc = _mai_bench(adb_server, "run", *map(str, paths), "--device", device.serial, "--delegate", "xnnpack",
                      "--json", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in json.loads(proc.stdout)] == ["ok"] * len(paths)

    calls = _calls(device)
    assert len(calls) == len(paths)
    assert len({len(argv) for argv in calls}) == 1, "every name is one argument: the argv lengths agree"
    sha = sha256_file(MODEL)
    for path, argv in zip(paths, calls):
        graphs = [a for a in argv if a.startswith("--graph=")]
        # The loopback device maps /data/... into its sandbox folder: compare the device path's tail.
        assert len(graphs) == 1 and graphs[0].endswith(content_path("models", sha, path.name)), graphs
    _no_marker_anywhere(device.root, tmp_path, Path.cwd())


def test_a_hostile_option_value_reaches_the_device_as_one_argument(adb_server, loopback, tmp_path: Path) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=0.05))
    accelerator = "qti-dsp; touch pwned5 && $(touch pwned6) `touch pwned7`"
    proc = _mai_bench(adb_server, "run", str(MODEL), "--device", device.serial, "--delegate", "nnapi",
                      "--nnapi-accelerator", accelerator, "--json", *FAST)
    assert "Traceback" not in proc.stderr
    [argv] = _calls(device)
    assert f"--nnapi_accelerator_name={accelerator}" in argv
    recorded = json.loads(proc.stdout)["argv"][1:]
    # The loopback device maps /data/... into its sandbox folder: the graph path is the one that differs.
    assert [a for a in recorded if not a.startswith("--graph=")] == [a for a in argv if not a.startswith("--graph=")]
    _no_marker_anywhere(device.root, tmp_path, Path.cwd())
