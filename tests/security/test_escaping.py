"""Device-reported strings (getprop values) and file names carrying HTML, Markdown, CSV formulas and terminal
escape sequences are data in every output: `mai-bench run`, `mai-bench report --format table|md|html|csv|json`
and `mai-bench devices` (table and JSON)."""

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

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
FAST = ("--runs", "2", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0")

SOC = '=HYPERLINK("http://evil","<script>alert(1)</script>")'  # a CSV formula holding HTML
PRODUCT = "\x1b[31mRED\x1b[0m\x07\x1b]0;title\x07"  # colour, bell, window-title sequences
MAKER = "| md | table | **bold** [link](http://evil) `code`"
EGL = "\u202eevil"  # right-to-left override
NAME = "<img src=x onerror=alert(1)> *em* | cell | \x1b[2J"  # the model file's name, clear-screen included
RAW_CONTROLS = ("\x1b", "\x07", "\u202e")


def _mai_bench(server, *args: str) -> subprocess.CompletedProcess:
    extra = ["--adb-server", server.address] if server is not None else []
    env = {**os.environ, "COLUMNS": "400"}  # wide tables: no cell folds over lines
    if server is not None:
        env["HOME"] = str(server.home)
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, *extra], capture_output=True,
                          text=True, timeout=300, env=env)


def _no_raw_controls(text: str, where: str) -> None:
    for char in RAW_CONTROLS:
        assert char not in text, f"{where} passes {char!r} through raw"


@pytest.fixture(scope="module")
def hostile(adb_server, tmp_path_factory):
    """A loopback device reporting hostile getprop values, one run of a hostile file name on it saved to a
    folder, and what the run printed."""
    from mai_bench.emulate import loopback as loopback_lib
    from mai_bench.emulate.adbd.spec import load_spec

    base = tmp_path_factory.mktemp("hostile")
    props = {"ro.soc.model": SOC, "ro.product.model": PRODUCT, "ro.product.manufacturer": MAKER,
             "ro.hardware.egl": EGL}
    spec = load_spec("loopback-sm8450").with_faults(Faults(benchmark_sleep_s=0.05)).with_props(**props)
    device = loopback_lib.start_device(spec, base / "device")
    try:
        loopback_lib.connect_devices(adb_server, [device])
        model = base / f"{NAME}.tflite"
        model.write_bytes(MODEL.read_bytes())
        # No SoC profile matches this device, so no preinstalled binary: push the device's own stand-in.
        binary = base / "benchmark_model"
        binary.write_bytes((device.root / "system" / "bin" / "benchmark_model").read_bytes())
        binary.chmod(0o755)
        out = base / "results"
        run = _mai_bench(adb_server, "run", str(model), "--device", device.serial, "--delegate", "xnnpack",
                         "--benchmark-binary", str(binary), "--out", str(out), *FAST)
        assert run.returncode == 0, run.stderr[-3000:]
        yield {"server": adb_server, "device": device, "out": out, "run": run}
    finally:
        loopback_lib.disconnect_devices(adb_server, [device])
        loopback_lib.stop_device(device)


def test_the_run_output_shows_hostile_text_as_text(hostile) -> None:
    run = hostile["run"]
    _no_raw_controls(run.stdout + run.stderr, "mai-bench run")
    assert "\\x1b[2J" in run.stdout, "the escape is shown, visibly"


@pytest.mark.parametrize("fmt", ["table", "md", "html", "csv", "json"])
def test_every_report_format_escapes_device_strings_and_file_names(hostile, fmt) -> None:
    proc = _mai_bench(None, "report", str(hostile["out"]), "--format", fmt)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    _no_raw_controls(text, f"report --format {fmt}")
    if fmt == "html":
        assert "<img" not in text and "<script>alert" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
    elif fmt == "md":
        assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
        assert r"\*em\* \| cell \|" in text, "emphasis and cell borders are escaped"
    elif fmt == "csv":
        [row] = list(csv.DictReader(io.StringIO(text)))
        assert row["soc"] == "'" + SOC, "a formula is neutralised with a leading quote"
        assert row["model"] == NAME.replace("\x1b", "\\x1b")
    elif fmt == "json":
        assert "<" not in text and ">" not in text
        [result] = json.loads(text)["results"]
        assert result["model"]["name"] == NAME, "JSON keeps the exact strings"
        props = result["device"]["properties"]
        assert (props["ro.soc.model"], props["ro.product.model"], props["ro.product.manufacturer"],
                props["ro.hardware.egl"]) == (SOC, PRODUCT, MAKER, EGL)
    else:
        assert "\\x1b[2J" in text


def test_devices_output_escapes_device_strings(hostile) -> None:
    table = _mai_bench(hostile["server"], "devices")
    assert table.returncode == 0, table.stderr[-3000:]
    _no_raw_controls(table.stdout + table.stderr, "mai-bench devices")
    assert "\\x1b[31mRED\\x1b[0m\\x07" in table.stdout
    listing = _mai_bench(hostile["server"], "devices", "--json")
    assert listing.returncode == 0
    _no_raw_controls(listing.stdout, "mai-bench devices --json")
    [entry] = [d for d in json.loads(listing.stdout)["devices"] if d["serial"] == hostile["device"].serial]
    assert (entry["model"], entry["soc_model"], entry["manufacturer"], entry["egl_driver"]) == (PRODUCT, SOC, MAKER,
                                                                                                 EGL)
