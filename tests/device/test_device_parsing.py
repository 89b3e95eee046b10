"""Pure parsers: getprop listings, telemetry lines, `host:devices` replies, probe output, server addresses."""

from __future__ import annotations

import hashlib

import shlex
from pathlib import Path

import pytest

from mai_bench.device.address import ServerAddress, default_server, parse_server
from mai_bench.device.device import ShellResult, quote_argv
from mai_bench.device.discovery import PROBE_SEPARATOR, DeviceInfo, info_from_probe, parse_devices
from mai_bench.device.props import parse_getprop
from mai_bench.device.states import fix_for_state
from mai_bench.device.telemetry import Telemetry, parse_telemetry, thermal_celsius
from mai_bench.errors import UsageError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_getprop_listing():
    props = parse_getprop((FIXTURES / "getprop" / "gs201_pixel_7.txt").read_text())
    assert props["ro.soc.model"] == "GS201"
    assert props["ro.product.model"] == "Pixel 7"
    assert props["ro.product.assistant.hint"] == "Hey Google,\nOK Google"
    assert props["ro.product.board"] == "panther"  # the line after a multi-line value is read normally
    assert len(props) == 43  # 43 property lines, one of them continued on the next line


def test_getprop_odd_lines():
    text = "noise\n[a]: []\n[b]: [x]]\r\n[c.d]: [spaces in value]\n[unterminated]: [abc\n"
    assert parse_getprop(text) == {"a": "", "b": "x]", "c.d": "spaces in value"}


def test_thermal_units():
    assert thermal_celsius("35200") == 35.2  # millidegrees
    assert thermal_celsius("352") == 35.2  # tenths
    assert thermal_celsius("35") == 35.0  # degrees
    assert thermal_celsius("-5000") == -5.0
    assert thermal_celsius("-273000") is None  # sensor off
    assert thermal_celsius("") is None and thermal_celsius("n/a") is None


def test_telemetry_sm8450():
    t = parse_telemetry((FIXTURES / "telemetry" / "sm8450_galaxy_s22_sm-s901u.txt").read_text())
    assert t.thermal_c["cpu-1-4-usr"] == 41.2
    assert t.thermal_c["battery"] == 29.0
    assert t.thermal_c["aoss0-usr (thermal_zone0)"] == 33.6 and t.thermal_c["aoss0-usr (thermal_zone22)"] == 33.7
    assert "camera_flash_therm" not in t.thermal_c and "pm8010i_tz" not in t.thermal_c
    assert t.max_temp_c == 41.2
    assert t.battery_c == 29.1
    assert t.cpu_count == 8
    assert t.cpu_max_mhz == (1786,) * 4 + (2496,) * 3 + (2995,)
    assert t.gpu == "Adreno730v2"


def test_telemetry_pixel_with_unreadable_sensors():
    t = parse_telemetry((FIXTURES / "telemetry" / "gs201_pixel_7.txt").read_text())
    assert list(t.thermal_c) == ["BIG", "MID", "LITTLE", "G3D", "TPU"]
    assert t.battery_c is None
    assert t.gpu == "Mali-G710 7 cores r0p0 0xA867"


def test_telemetry_without_anything_is_none_not_zero():
    t = parse_telemetry("battery|\n")
    assert t.max_temp_c is None and t.battery_c is None and t.cpu_count is None and t.gpu is None
    assert t.to_dict()["cpu_max_mhz"] == []


def test_telemetry_rejects_impossible_values():
    with pytest.raises(ValueError):
        Telemetry({"cpu": 400.0})
    with pytest.raises(ValueError):
        Telemetry(cpu_max_mhz=(0,))


def test_host_devices_reply():
    reply = "127.0.0.1:5555\tdevice\nR5CT1234\tunauthorized\nabc\tno permissions (missing udev rules?); see [http://x]\n\n"
    assert parse_devices(reply) == [
        ("127.0.0.1:5555", "device"),
        ("R5CT1234", "unauthorized"),
        ("abc", "no permissions (missing udev rules?); see [http://x]"),
    ]


def test_probe_output_becomes_device_info():
    listing = (FIXTURES / "getprop" / "sm8450_galaxy_s22_sm-s901u.txt").read_text()
    telemetry = (FIXTURES / "telemetry" / "sm8450_galaxy_s22_sm-s901u.txt").read_text()
    info = info_from_probe("127.0.0.1:5037", "R5CT1234", f"{listing}{PROBE_SEPARATOR}\n{telemetry}")
    assert info.ready and info.profile == "sm8450" and not info.emulated
    assert info.model == "SM-S901U" and info.soc == "SM8450" and info.sdk == 31
    assert info.telemetry.max_temp_c == 41.2
    data = info.to_dict()
    assert data["fingerprint"].startswith("samsung/r0quew/r0q:12/")
    assert data["egl_driver"] == "adreno" and data["abi"] == "arm64-v8a"
    assert "dalvik.vm.heapsize" not in info.props  # only the reported properties are kept
    assert info.spec == "127.0.0.1:5037/R5CT1234"


def test_device_info_needs_a_fix_when_not_ready():
    with pytest.raises(ValueError):
        DeviceInfo("127.0.0.1:5037", "X", "offline")
    fix = fix_for_state("unauthorized", "X", ServerAddress("127.0.0.1", 5037))
    assert "accept" in fix and "adb -s X reconnect" in fix
    assert "adb -P 5999 disconnect 10.0.0.2:5555" in fix_for_state("offline", "10.0.0.2:5555", ServerAddress("127.0.0.1", 5999))
    assert fix_for_state("device", "X", ServerAddress("127.0.0.1", 5037)) is None


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("127.0.0.1:5037", "127.0.0.1", 5037), ("build-farm:15037", "build-farm", 15037), ("[::1]:5038", "::1", 5038),
     ("5039", "127.0.0.1", 5039)],
)
def test_parse_server(text, host, port):
    address = parse_server(text)
    assert (address.host, address.port) == (host, port)
    assert parse_server(str(address)) == address


@pytest.mark.parametrize("text", ["host:", "host:port", "host:70000", ":5037", "[::1]5037", "a b:5037"])
def test_parse_server_rejects(text):
    with pytest.raises(UsageError) as error:
        parse_server(text)
    assert error.value.fix


def test_default_server_from_environment():
    assert str(default_server({})) == "127.0.0.1:5037"
    env = {"ANDROID_ADB_SERVER_ADDRESS": "10.1.2.3", "ANDROID_ADB_SERVER_PORT": "6000"}
    assert str(default_server(env)) == "10.1.2.3:6000"
    with pytest.raises(UsageError, match="ANDROID_ADB_SERVER_PORT"):
        default_server({"ANDROID_ADB_SERVER_PORT": "five"})


def test_quote_argv_is_one_word_per_argument():
    argv = ["printf", "%s\\0", "a b", "it's", "$(id)", "`id`", "x;y", "new\nline", ""]
    assert shlex.split(quote_argv(argv)) == argv
    for bad in ("echo hi", [], ["a\0b"]):
        with pytest.raises(ValueError):
            quote_argv(bad)


def test_shell_result_checks_values():
    result = ShellResult(("true",), 0, b"", b"", 0.001)
    assert result.ok and result.out == ""
    with pytest.raises(ValueError):
        ShellResult(("x",), 300, b"", b"", 0.0)
    with pytest.raises(ValueError):
        ShellResult(("x",), 0, b"", b"", -1.0)


def test_sha256_without_sha256sum_on_the_device_pulls_and_hashes_on_the_host(monkeypatch):
    from mai_bench.device.device import Device

    device = Device("SERIAL", "127.0.0.1:5037")
    missing = ShellResult(("sha256sum", "/x"), 127, b"", b"/system/bin/sh: sha256sum: inaccessible or not found\n", 0.01)
    monkeypatch.setattr(device, "shell", lambda argv, timeout: missing)
    pulled = []
    monkeypatch.setattr(device, "pull", lambda path, local, timeout: (pulled.append(path), local.write_bytes(b"abc")))
    assert device.sha256("/x", 5) == hashlib.sha256(b"abc").hexdigest()
    assert pulled == ["/x"]
