"""The thermal gate and `mai-bench devices` on loopback devices with a Google Tensor's and a Snapdragon 865's
sensors (tests/fixtures/loopback/): the hottest CPU/GPU sensor is found by what the HAL and the SoC family say
it is, battery-current and charge-level zones never count, and a device with nothing readable says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from mai_bench.android.thermal import ThermalLimits, wait_until_cool
from mai_bench.device.address import ServerAddress
from mai_bench.device.device import Device
from mai_bench.emulate.adbd.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
TENSOR = ROOT / "tests" / "fixtures" / "loopback" / "tensor_g3_hot.yaml"
SM8250 = ROOT / "tests" / "fixtures" / "loopback" / "sm8250_zones.yaml"
FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0"]
BATTERY_LIMITS = ("ocp_cpu1", "soft_ocp_cpu2", "ocp_gpu", "soc", "vdroop1")
NOT_TEMPERATURES = ("socd", "soc", "pm8150b-ibat-lvl0", "pm8150b-vbat-lvl0", "pm8150b-bcl-lvl0", "pm8150l-vph-lvl0")


def mai_bench(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(server.home), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=timeout, env=env)


def under_the_sm8450_profile(zones_from: Path, **changes):
    """The loopback-sm8450 device (its profile has the preinstalled benchmark_model) with other zones."""
    return replace(load_spec("loopback-sm8450"), thermal=load_spec(zones_from).thermal, **changes)


def run_json(server, serial: str, expect: int = 0) -> dict:
    proc = mai_bench(server, "run", str(MODEL), "--device", serial, "--delegate", "xnnpack", "--json", *FAST)
    assert proc.returncode == expect, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_devices_names_the_hottest_cpu_gpu_sensor(adb_server, loopback) -> None:
    tensor = loopback.one(profile=str(TENSOR))
    qualcomm = loopback.one(profile=str(SM8250))
    done = mai_bench(adb_server, "devices", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    by_serial = {d["serial"]: d for d in json.loads(done.stdout)["devices"]}

    t = by_serial[tensor.serial]["telemetry"]
    assert t["hottest"] == {"name": "BIG", "kind": "cpu", "celsius": 78.0} and t["max_temp_c"] == 78.0
    assert t["source"] == "dumpsys thermalservice" and t["battery_c"] == 30.5 and t["problem"] is None
    assert not set(BATTERY_LIMITS) & set(t["thermal_c"])

    q = by_serial[qualcomm.serial]["telemetry"]
    assert q["hottest"] == {"name": "cpu-1-0-step", "kind": "cpu", "celsius": 34.6}
    assert not set(NOT_TEMPERATURES) & set(q["thermal_c"]) and q["battery_c"] == 25.5

    table = mai_bench(adb_server, "devices", timeout=120)
    assert table.returncode == 0, table.stderr
    assert "BIG 78.0 / 30.5" in table.stdout and "cpu-1-0-step 34.6 / 25.5" in table.stdout


def test_gate_waits_while_big_is_hot_and_reads_it_again(adb_server, loopback) -> None:
    started = loopback.one(profile=str(TENSOR))
    device = Device(started.serial, ServerAddress(adb_server.host, adb_server.port))
    big = started.root / "sys" / "class" / "thermal" / "thermal_zone0"
    assert big.joinpath("type").read_text().strip() == "BIG"
    waits: list[list[str]] = []

    def cool_down(_seconds: float) -> None:  # instead of sleeping: BIG cools to 40 °C meanwhile
        big.joinpath("temp").write_text("40000\n")

    reading, _, hot = wait_until_cool(device, ThermalLimits(soc_c=45.0, battery_c=40.0, max_wait_s=600),
                                      on_wait=lambda _s, what: waits.append(what), sleep=cool_down)
    assert waits == [["BIG (CPU) at 78.0 C (limit 45 C)"]]
    assert hot == [] and (reading.hottest.name, reading.max_temp_c) == ("MID", 41.0)


def test_run_on_tensor_zones_is_gated_by_big_not_by_currents(adb_server, loopback) -> None:
    started = loopback.one(spec=under_the_sm8450_profile(TENSOR))
    result = run_json(adb_server, started.serial)
    thermal = result["thermal"]
    assert thermal["hot_before"] == ["BIG (CPU) at 78.0 C (limit 45 C)"]
    assert thermal["soc_sensor"] == "BIG" and thermal["soc_before_c"] == 78.0
    assert thermal["gated"] == ["soc", "battery"] and thermal["unread"] == []
    assert not set(BATTERY_LIMITS) & set(thermal["before"]["thermal_c"])
    assert any(w.startswith("still hot after waiting") and "BIG" in w for w in result["warnings"])


def test_run_on_sm8250_zones_is_not_held_up_by_socd(adb_server, loopback) -> None:
    started = loopback.one(spec=under_the_sm8450_profile(SM8250, battery_temp=255))
    result = run_json(adb_server, started.serial)
    thermal = result["thermal"]
    assert result["status"] == "ok" and thermal["hot_before"] == []
    assert thermal["soc_sensor"] == "cpu-1-0-step" and thermal["soc_before_c"] == 34.6
    assert not set(NOT_TEMPERATURES) & set(thermal["before"]["thermal_c"])
    assert not any("still hot" in w or "thermal gate" in w for w in result["warnings"])


def test_run_with_nothing_readable_says_so_and_records_it(adb_server, loopback) -> None:
    spec = replace(load_spec("loopback-sm8450"), thermal={"ocp_cpu1": 6900, "socd": 78}, battery_temp=None)
    started = loopback.one(spec=spec)
    result = run_json(adb_server, started.serial)
    thermal = result["thermal"]
    assert thermal["gated"] == [] and thermal["soc_before_c"] is None and thermal["soc_sensor"] is None
    assert "no CPU/GPU temperature could be read" in thermal["before"]["problem"]
    notes = [w for w in result["warnings"] if "the thermal gate did not check" in w]
    assert len(notes) == 2 and notes == thermal["unread"]
    assert "CPU/GPU" in notes[0] and "device_profiles/families/" in notes[0] and "battery" in notes[1]
