"""The device seam against a real adb server and loopback devices: shell (shell_v2 and legacy), quoting,
files, failures (killed, hung, unauthorized, refused), discovery over two servers, `--device` resolution and
`mai-bench devices`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.device.address import ServerAddress, parse_server
from mai_bench.device.device import Device
from mai_bench.device.discovery import list_devices, resolve_devices
from mai_bench.device.errors import (
    AdbServerUnreachable,
    DeviceError,
    DeviceLost,
    DeviceNotFound,
    DeviceNotReady,
    DeviceTimeout,
    UnknownDevice,
)
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults, load_spec

SPEC = load_spec("loopback-sm8450")
TMP = "/data/local/tmp"


def address(server) -> ServerAddress:
    return ServerAddress(server.host, server.port)


@pytest.fixture(scope="module")
def lab(adb_server, tmp_path_factory):
    """Two adb servers: A (the session's) holds a shell_v2 device and a legacy-shell one; B (started here) a
    device and an unauthorized one. Devices are shared by the module's tests, which do not break them."""
    base = tmp_path_factory.mktemp("device-lab")
    second, devices = None, []
    try:
        second = adb_server_lib.start_server(base / "home-b")
        specs = [SPEC, SPEC.with_faults(Faults(no_shell_v2=True)), SPEC, SPEC.with_faults(Faults(reject_auth=True))]
        devices = [loopback_lib.start_device(spec, base / f"dev{i}") for i, spec in enumerate(specs)]
        loopback_lib.connect_devices(adb_server, devices[:2])
        loopback_lib.connect_devices(second, devices[2:3])
        loopback_lib.connect_devices(second, devices[3:], wait=False)
        adb_server_lib.wait_for_state(second, devices[3].serial, ("unauthorized",))
        a, b = address(adb_server), address(second)
        yield {
            "servers": [a, b],
            "v2": Device(devices[0].serial, a),
            "legacy": Device(devices[1].serial, a),
            "other": Device(devices[2].serial, b),
            "unauthorized": devices[3].serial,
        }
    finally:
        for device in devices[:2]:
            adb_server_lib.disconnect(adb_server, device.serial)  # the session server outlives this module
        for device in devices:
            loopback_lib.stop_device(device)
        if second is not None:
            adb_server_lib.stop_server(second)
        sessions = [d.pid for d in devices] + ([second.pid] if second else [])
        deadline = time.monotonic() + 5  # stopped processes need a moment to be gone from /proc
        while (leftovers := [p for sid in sessions for p in loopback_lib.session_processes(sid)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert not leftovers, f"processes left running: {leftovers}"


@pytest.fixture(params=["v2", "legacy"])
def device(request, lab) -> Device:
    return lab[request.param]


def test_features_pick_the_shell(lab):
    assert "shell_v2" in lab["v2"].features
    assert "shell_v2" not in lab["legacy"].features


def test_exit_codes_and_stderr(device):
    result = device.shell(["sh", "-c", "echo out; echo err >&2; exit 7"], 10)
    assert result.exit_code == 7
    if device.features >= {"shell_v2"}:
        assert (result.stdout, result.stderr, result.stderr_merged) == (b"out\n", b"err\n", False)
    else:
        assert sorted(result.out.splitlines()) == ["err", "out"] and result.stderr_merged
    assert device.shell(["true"], 10).exit_code == 0
    assert device.shell(["false"], 10).exit_code == 1
    # `exit N` as the command itself: adbutils' appended marker never runs; ours survives it
    assert device.shell(["exit", "3"], 10).exit_code == 3
    assert device.shell(["sh", "-c", "kill -9 $$"], 10).exit_code == 137


def test_output_without_trailing_newline_and_binary(device):
    assert device.shell(["printf", "no newline"], 10).stdout == b"no newline"
    data = bytes(range(256))
    octal = "".join(f"\\{b:03o}" for b in data)
    assert device.shell(["printf", octal], 10).stdout == data


def test_check_raises_with_the_command_and_output(device):
    with pytest.raises(DeviceError) as error:
        device.shell(["sh", "-c", "echo broken >&2; exit 4"], 10, check=True)
    assert error.value.exit_status == 4 and error.value.exit_code == 3
    assert "broken" in error.value.output and error.value.serial == device.serial
    assert "exit 4" in error.value.message and device.serial in error.value.message


ARGS = ["a b", "it's", '"double"', "$(echo pwned)", "`echo pwned`", "x;y", "a|b", "a&&b", "new\nline", "", " ",
        "*", "~", "\\", "$HOME", "tab\there", "'", "!", "#c", "ünïcødé"]


def test_every_argument_arrives_as_one_word(device):
    result = device.shell(["printf", "%s\\0", *ARGS], 10)
    assert result.ok
    assert result.stdout.split(b"\0")[:-1] == [a.encode() for a in ARGS]


def test_stdin_is_closed(device):
    assert device.shell(["cat"], 10).stdout == b""


def test_push_pull_byte_exact(device, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 12345)  # several batches and a ragged last DATA frame
    local = tmp_path / "model.tflite"
    local.write_bytes(payload)
    local.chmod(0o751)
    remote = f"{TMP}/push test {device.serial.replace(':', '_')}.bin"
    assert device.push(local, remote, 30) == len(payload)
    assert device.exists(remote, 10)
    assert device.sha256(remote, 10) == hashlib.sha256(payload).hexdigest()
    assert device.shell(["stat", "-c", "%a", remote], 10).out.strip() == "751"
    back = tmp_path / "back" / "copy.bin"
    back.parent.mkdir()
    assert device.pull(remote, back, 30) == len(payload)
    assert back.read_bytes() == payload
    assert [p.name for p in back.parent.iterdir()] == ["copy.bin"]
    device.remove(remote, 10)
    assert not device.exists(remote, 10)
    device.remove(remote, 10)  # already gone: fine


def test_empty_file_round_trip(lab, tmp_path):
    device = lab["v2"]
    (tmp_path / "empty").write_bytes(b"")
    assert device.push(tmp_path / "empty", f"{TMP}/empty", 10) == 0
    assert device.pull(f"{TMP}/empty", tmp_path / "empty.back", 10) == 0
    assert (tmp_path / "empty.back").read_bytes() == b""


def test_pull_of_a_missing_file_leaves_nothing(lab, tmp_path):
    with pytest.raises(DeviceError, match="cannot pull"):
        lab["v2"].pull(f"{TMP}/does-not-exist", tmp_path / "out.bin", 10)
    assert list(tmp_path.iterdir()) == []


def test_sha256_of_a_missing_file(lab):
    with pytest.raises(DeviceError, match="cannot hash") as error:
        lab["v2"].sha256(f"{TMP}/nope", 10)
    assert error.value.exit_status == 1


def test_relative_device_paths_are_refused(lab, tmp_path):
    with pytest.raises(ValueError):
        lab["v2"].push(__file__, "relative/path", 10)
    with pytest.raises(ValueError):
        lab["v2"].pull("relative", tmp_path / "x", 10)


def test_properties_are_read_once(lab):
    device = Device(lab["v2"].serial, lab["servers"][0])
    props = device.properties
    assert props["ro.soc.model"] == "SM8450" and props["mai_bench.emulated"] == "1"
    assert device._properties is not None and device.properties == props


def test_unknown_serial_and_dead_server(lab):
    with pytest.raises(DeviceNotFound):
        Device("127.0.0.1:1", lab["servers"][0]).shell(["true"], 5)
    with pytest.raises(AdbServerUnreachable) as error:
        Device("x", "127.0.0.1:1").shell(["true"], 5)
    assert "127.0.0.1:1" in error.value.message and "--adb-server" in error.value.fix


@pytest.mark.timeout(60)
@pytest.mark.parametrize("legacy", [False, True])
def test_killed_device_raises_device_lost(adb_server, loopback, legacy):
    started = loopback.one(faults=Faults(no_shell_v2=legacy))
    device = Device(started.serial, address(adb_server))
    assert ("shell_v2" in device.features) is not legacy
    threading.Timer(0.5, os.kill, (started.pid, signal.SIGKILL)).start()
    # The 30 s timeout is never reached: the dropped connection is seen at once, as DeviceLost, never as an
    # empty success (adbutils' legacy shell returns '') nor as a timeout.
    with pytest.raises(DeviceLost) as error:
        device.shell(["sh", "-c", "echo started; sleep 20; echo finished"], 30)
    assert "started" in error.value.output and "finished" not in error.value.output
    with pytest.raises((DeviceLost, DeviceNotReady)):
        device.shell(["true"], 5)
    loopback_lib.kill_session(started.pid)


@pytest.mark.timeout(60)
def test_hung_device_raises_device_timeout(adb_server, loopback):
    started = loopback.one()
    device = Device(started.serial, address(adb_server))
    device.shell(["true"], 10)
    os.kill(started.pid, signal.SIGSTOP)  # the factory's teardown sends SIGCONT before stopping it
    with pytest.raises(DeviceTimeout) as error:
        device.shell(["true"], 2)
    assert "2 s" in error.value.message and "reboot" in error.value.fix
    with pytest.raises(DeviceTimeout):
        device.push(__file__, f"{TMP}/x", 2)


@pytest.mark.timeout(60)
def test_connection_dropped_mid_push(adb_server, loopback, tmp_path):
    started = loopback.one(faults=Faults(drop_after_bytes=256 * 1024))
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(DeviceLost):
        Device(started.serial, address(adb_server)).push(local, f"{TMP}/big.bin", 30)


def test_unauthorized_device_is_not_ready(lab):
    with pytest.raises(DeviceNotReady) as error:
        Device(lab["unauthorized"], lab["servers"][1]).shell(["true"], 5)
    assert error.value.state == "unauthorized" and "accept" in error.value.fix and error.value.exit_code == 3


def test_storage_full_is_reported_not_lost(adb_server, loopback, tmp_path):
    started = loopback.one(faults=Faults(storage_full_after_bytes=1000))
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(100_000))
    with pytest.raises(DeviceError) as error:
        Device(started.serial, address(adb_server)).push(local, f"{TMP}/f.bin", 30)
    assert type(error.value) is DeviceError
    assert f"{TMP}/f.bin" in error.value.message


def test_discovery_across_two_servers_and_a_dead_one(lab):
    dead = parse_server("127.0.0.1:1")
    listing = list_devices([*lab["servers"], dead])
    by_serial = {(d.server, d.serial): d for d in listing.devices}
    a, b = (str(s) for s in lab["servers"])
    v2 = by_serial[(a, lab["v2"].serial)]
    assert v2.ready and v2.profile == "loopback-sm8450" and v2.emulated
    assert v2.model == "Loopback SM8450" and v2.sdk == 33
    assert v2.telemetry.max_temp_c == 37.4 and v2.telemetry.battery_c == 30.5 and v2.telemetry.cpu_count == 8
    assert by_serial[(a, lab["legacy"].serial)].profile == "loopback-sm8450"
    assert by_serial[(b, lab["other"].serial)].ready
    unauthorized = by_serial[(b, lab["unauthorized"])]
    assert unauthorized.state == "unauthorized" and not unauthorized.ready and "accept" in unauthorized.fix
    assert [p.server for p in listing.problems] == ["127.0.0.1:1"]
    assert "adb -P 1 start-server" in listing.problems[0].fix


def test_one_dead_server_alone_is_an_error():
    with pytest.raises(AdbServerUnreachable, match="127.0.0.1:1"):
        list_devices([parse_server("127.0.0.1:1")])


def test_resolve_device_specs(lab):
    servers = lab["servers"]
    ready = {lab["v2"].serial, lab["legacy"].serial, lab["other"].serial}
    assert ready <= {d.serial for d in resolve_devices("all", servers)}
    assert ready <= {d.serial for d in resolve_devices("sm8450", servers)}  # loopback emulates sm8450
    assert {d.serial for d in resolve_devices("loopback-sm8450", servers[1:])} == {lab["other"].serial}
    (one,) = resolve_devices(lab["other"].serial, servers)
    assert one.server == str(servers[1]) and one.profile == "loopback-sm8450"
    (same,) = resolve_devices(f"{servers[0]}/{lab['v2'].serial}", servers[1:])
    assert same.serial == lab["v2"].serial
    with pytest.raises(DeviceNotFound) as error:
        resolve_devices("mt6983", servers)
    assert lab["v2"].serial in error.value.message and error.value.exit_code == 3
    with pytest.raises(UnknownDevice) as error:
        resolve_devices("no-such-thing", servers)
    assert error.value.exit_code == 2 and "sm8450" in error.value.fix
    with pytest.raises(DeviceNotReady) as error:
        resolve_devices(lab["unauthorized"], servers)
    assert error.value.state == "unauthorized" and "accept" in error.value.fix


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})


def test_devices_json_command(lab):
    args = [a for s in lab["servers"] for a in ("--adb-server", str(s))]
    done = _cli("devices", *args, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["servers"] == [str(s) for s in lab["servers"]]
    states = {d["serial"]: d for d in data["devices"]}
    assert states[lab["unauthorized"]]["state"] == "unauthorized" and "accept" in states[lab["unauthorized"]]["fix"]
    v2 = states[lab["v2"].serial]
    assert v2["profile"] == "loopback-sm8450" and v2["emulated"] and v2["soc_model"] == "SM8450"
    assert v2["telemetry"]["cpu_max_mhz"] == [1786] * 4 + [2496] * 3 + [2995]


def test_devices_table_shows_states_and_fixes(lab):
    done = _cli("devices", "--adb-server", str(lab["servers"][1]), "--adb-server", "127.0.0.1:1")
    assert done.returncode == 0, done.stderr
    assert "unauthorized" in done.stdout and "accept" in done.stdout
    assert "loopback-sm8450" in done.stdout and "37.4" in done.stdout
    assert "127.0.0.1:1 does not answer" in done.stdout


def test_devices_command_with_no_server_exits_3():
    done = _cli("devices", "--adb-server", "127.0.0.1:1")
    assert done.returncode == 3
    assert "127.0.0.1:1" in done.stderr and "fix:" in done.stderr and done.stdout == ""
