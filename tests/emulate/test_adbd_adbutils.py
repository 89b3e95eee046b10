"""The loopback device through the real adb server and adbutils (what mai_bench.device builds on)."""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import adbutils
import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults, load_spec

TIMEOUT_S = 30.0


def _client(server) -> adbutils.AdbClient:
    return adbutils.AdbClient(host=server.host, port=server.port)


def test_shell_and_props(loopback, adb_server):
    device = _client(adb_server).device(loopback.one().serial)
    assert device.shell("getprop ro.soc.model", timeout=TIMEOUT_S) == "SM8450"
    assert device.prop.model == "Loopback SM8450"
    assert device.getprop("mai_bench.emulated") == "1"
    assert device.shell(["echo", "a b", "$HOME"], timeout=TIMEOUT_S) == "a b $HOME"


def test_shell2_v2_exit_code_and_stderr(loopback, adb_server):
    device = _client(adb_server).device(loopback.one().serial)
    result = device.shell2("echo out; echo err >&2; exit 5", timeout=TIMEOUT_S, v2=True)
    assert (result.returncode, result.stdout, result.stderr) == (5, "out\n", "err\n")


def test_shell2_falls_back_to_legacy_marker_without_shell_v2(loopback, adb_server):
    device = _client(adb_server).device(loopback.one(faults=Faults(no_shell_v2=True)).serial)
    result = device.shell2("echo out; false", timeout=TIMEOUT_S, v2=True)
    assert (result.returncode, result.output) == (1, "out\n")
    with pytest.raises(adbutils.AdbError):  # adbd refuses shell,v2: when it did not advertise it
        device._shell_v2("true", timeout=TIMEOUT_S)


def test_sync_push_pull_stat_list(loopback, adb_server, tmp_path):
    device = _client(adb_server).device(loopback.one().serial)
    data = os.urandom(3 * 1024 * 1024 + 7)
    assert device.sync.push(data, "/data/local/tmp/d/x.bin", mode=0o640) == len(data)
    assert device.sync.read_bytes("/data/local/tmp/d/x.bin") == data
    info = device.sync.stat("/data/local/tmp/d/x.bin")
    assert info.size == len(data) and stat.S_ISREG(info.mode) and stat.S_IMODE(info.mode) == 0o640
    assert device.sync.stat("/data/local/tmp/missing").mtime is None
    names = {entry.path for entry in device.sync.list("/data/local/tmp/d")}
    assert names == {".", "..", "x.bin"}
    device.sync.pull("/data/local/tmp/d/x.bin", tmp_path / "back.bin")
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).digest() == hashlib.sha256(data).digest()


def test_four_devices_at_once(loopback, adb_server):
    devices = loopback.start(4)
    assert len({d.port for d in devices}) == 4
    states = adb_server_lib.devices(adb_server)
    assert all(states[d.serial] == "device" for d in devices)
    client = _client(adb_server)

    def work(serial: str) -> tuple[str, str]:
        handle = client.device(serial)
        handle.sync.push(serial.encode() * 1000, "/data/local/tmp/who")
        return handle.getprop("ro.serialno"), handle.shell("cat /data/local/tmp/who", timeout=TIMEOUT_S)[:20]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, [d.serial for d in devices]))
    assert [serialno for serialno, _ in results] == [f"loopback{d.port}" for d in devices]
    assert [content for _, content in results] == [(d.serial * 2)[:20] for d in devices]


def test_delayed_ack_with_a_burst_mode_server(tmp_path):
    """ADB_BURST_MODE=1 makes the server offer delayed_ack: streams then run on byte windows."""
    server = adb_server_lib.start_server(tmp_path / "home", burst_mode=True)
    device = None
    try:
        device = loopback_lib.start_device(load_spec("loopback-sm8450"), tmp_path / "dev")
        loopback_lib.connect_devices(server, [device])
        handle = _client(server).device(device.serial)
        assert "delayed_ack" in handle.get_features()
        data = os.urandom(6 * 1024 * 1024)
        handle.sync.push(data, "/data/local/tmp/x")
        assert handle.sync.read_bytes("/data/local/tmp/x") == data
        big = handle.shell2("head -c 3000000 /data/local/tmp/x | sha256sum", timeout=TIMEOUT_S, v2=True)
        assert big.stdout.split()[0] == hashlib.sha256(data[:3000000]).hexdigest()
        assert "delayed_ack True" in device.log_path.read_text()
    finally:
        if device is not None:
            loopback_lib.stop_device(device)
        adb_server_lib.stop_server(server)
    assert loopback_lib.session_processes(server.pid) == []
    assert device is None or loopback_lib.session_processes(device.pid) == []


def test_props_overridden_per_device(loopback, adb_server):
    device = loopback.one(props={"ro.soc.model": "SM8550", "ro.product.model": "Other Phone"})
    handle = _client(adb_server).device(device.serial)
    assert handle.getprop("ro.soc.model") == "SM8550"
    assert handle.prop.model == "Other Phone"
    assert "model:Other_Phone" in adb_server_lib.host_request(adb_server, "host:devices-l")
