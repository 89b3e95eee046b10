"""Fault switches and dying devices, through the real adb server: errors, never hangs, no leftover processes."""

from __future__ import annotations

import os
import signal
import time

import adbutils
import pytest

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd.spec import Faults

SHORT_TIMEOUT_S = 2.0
GUARD_TIMEOUT_S = 30.0  # a subprocess that exceeds this is a hang: the test fails instead of waiting forever


def _handle(server, serial: str) -> adbutils.AdbDevice:
    return adbutils.AdbClient(host=server.host, port=server.port).device(serial)


def _wait_until(predicate, timeout: float = GUARD_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _children(device: loopback_lib.LoopbackDevice) -> list[int]:
    return loopback_lib.shell_processes(device)


def test_reject_auth_leaves_the_device_unauthorized(loopback, adb, adb_server):
    device = loopback.one(faults=Faults(reject_auth=True))
    assert adb_server_lib.devices(adb_server)[device.serial] == "unauthorized"
    result = adb("-s", device.serial, "shell", "true", timeout=GUARD_TIMEOUT_S)
    assert result.returncode != 0 and b"unauthorized" in result.stderr


def test_killed_device_gives_errors_not_hangs(loopback, adb, adb_server):
    device = loopback.one()
    handle = _handle(adb_server, device.serial)
    assert handle.shell("echo up", timeout=SHORT_TIMEOUT_S) == "up"
    os.kill(device.pid, signal.SIGKILL)
    device.process.wait()
    assert _wait_until(lambda: adb_server_lib.devices(adb_server).get(device.serial) != "device")
    with pytest.raises(adbutils.AdbError):
        handle.shell2("echo hi", timeout=SHORT_TIMEOUT_S, v2=True)
    result = adb("-s", device.serial, "shell", "true", timeout=GUARD_TIMEOUT_S)
    assert result.returncode != 0 and b"offline" in result.stderr


def test_killed_device_mid_command_leaves_no_processes(loopback, adb_server):
    device = loopback.one()
    stream = _handle(adb_server, device.serial).open_shell("sleep 300")
    assert _wait_until(lambda: any(_is_sleep(pid) for pid in _children(device)))
    os.kill(device.pid, signal.SIGKILL)
    device.process.wait()
    stream.close()
    # The device's zygote sees its daemon go and ends, and with it the device's PID namespace.
    assert _wait_until(lambda: not loopback_lib.session_processes(device.pid))
    loopback_lib.stop_device(device)
    assert loopback_lib.session_processes(device.pid) == []


def test_closing_a_stream_kills_its_process_group(loopback, adb_server):
    device = loopback.one()
    stream = _handle(adb_server, device.serial).open_shell("sleep 300 & sleep 301; echo never")
    assert _wait_until(lambda: sum(_is_sleep(pid) for pid in _children(device)) == 2)
    stream.close()
    assert _wait_until(lambda: not any(_is_sleep(pid) for pid in _children(device))), device.log_path.read_text()


def test_finished_command_keeps_its_background_children(loopback, adb_server):
    # As on a phone, `cmd &` outlives the shell that started it (until the device stops).
    device = loopback.one()
    handle = _handle(adb_server, device.serial)
    handle.shell2("sleep 302 > /dev/null 2>&1 &", timeout=GUARD_TIMEOUT_S, v2=True)
    assert any(_is_sleep(pid) for pid in _children(device))


def test_stopped_device_times_out_then_recovers(loopback, adb_server):
    device = loopback.one()
    handle = _handle(adb_server, device.serial)
    os.kill(device.pid, signal.SIGSTOP)
    try:
        with pytest.raises(adbutils.AdbTimeout):
            handle.shell2("echo hi", timeout=SHORT_TIMEOUT_S, v2=True)
    finally:
        os.kill(device.pid, signal.SIGCONT)
    assert handle.shell2("echo back", timeout=GUARD_TIMEOUT_S, v2=True).output == "back\n"


def test_hang_fault_set_at_run_time(loopback, adb_server):
    device = loopback.one()
    handle = _handle(adb_server, device.serial)
    device = loopback.set_faults(device, Faults(hang=True))
    with pytest.raises(adbutils.AdbTimeout):
        handle.shell2("echo hi", timeout=SHORT_TIMEOUT_S, v2=True)
    loopback.set_faults(device, Faults())
    assert handle.shell2("echo back", timeout=GUARD_TIMEOUT_S, v2=True).output == "back\n"


def test_drop_during_push_fails_the_push_once(loopback, adb, adb_server, tmp_path):
    device = loopback.one(faults=Faults(drop_after_bytes=2_000_000))
    local = tmp_path / "blob.bin"
    local.write_bytes(os.urandom(8_000_000))
    result = adb("-s", device.serial, "push", str(local), "/data/local/tmp/blob.bin", timeout=GUARD_TIMEOUT_S)
    assert result.returncode != 0
    # The server reconnects by itself; the fault fired once, so the device works again.
    assert adb_server_lib.wait_for_state(adb_server, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)
    again = adb("-s", device.serial, "push", str(local), "/data/local/tmp/blob.bin", timeout=GUARD_TIMEOUT_S)
    assert again.returncode == 0, again.stderr


def test_drop_during_command_output(loopback, adb_server):
    device = loopback.one(faults=Faults(drop_after_bytes=100_000))
    handle = _handle(adb_server, device.serial)
    with pytest.raises((adbutils.AdbError, EOFError, ConnectionError)):
        handle.shell2("head -c 1000000 /dev/zero", timeout=GUARD_TIMEOUT_S, v2=True)


def test_slow_link_limits_throughput(loopback, adb_server):
    rate = 200_000
    device = loopback.one(faults=Faults(slow_link_bytes_per_s=rate))
    handle = _handle(adb_server, device.serial)
    data = os.urandom(300_000)
    started = time.perf_counter()
    handle.sync.push(data, "/data/local/tmp/slow.bin")
    assert time.perf_counter() - started >= 0.5 * len(data) / rate  # lower bound only: a slower machine passes
    assert (device.root / "data/local/tmp/slow.bin").read_bytes() == data


def test_storage_full_always_refuses_any_push(loopback, adb_server):
    device = loopback.one(faults=Faults(storage_full_after_bytes=0))
    handle = _handle(adb_server, device.serial)
    with pytest.raises(adbutils.AdbError):
        handle.sync.push(b"tiny", "/data/local/tmp/tiny")
    assert not (device.root / "data/local/tmp/tiny").exists()
    assert handle.shell("echo still-alive", timeout=GUARD_TIMEOUT_S) == "still-alive"


def test_recorded_log_benchmark_through_adb(loopback, adb_server, tmp_path):
    log = tmp_path / "phone.txt"
    log.write_text("INFO: STARTING!\nERROR: Benchmarking failed.\n")
    device = loopback.one(faults=Faults(benchmark_log_file=str(log), benchmark_exit_code=1))
    result = _handle(adb_server, device.serial).shell2(
        "benchmark_model --graph=/data/local/tmp/m.tflite", timeout=GUARD_TIMEOUT_S, v2=True)
    assert (result.returncode, result.stdout) == (1, log.read_text())


def _is_sleep(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().startswith(b"sleep\0")
    except OSError:
        return False


def test_handshake_faults_changed_at_run_time_reach_the_server(loopback, adb, adb_server):
    device = loopback.one()
    assert "shell_v2" in adb("-s", device.serial, "features").stdout.decode()
    device = loopback.set_faults(device, Faults(no_shell_v2=True))
    assert _wait_until(lambda: adb_server_lib.devices(adb_server).get(device.serial) == "device"
                       and "shell_v2" not in adb("-s", device.serial, "features").stdout.decode())
    loopback.set_faults(device, Faults(reject_auth=True))
    assert _wait_until(lambda: adb_server_lib.devices(adb_server).get(device.serial) == "unauthorized")


def test_hung_from_the_start_through_the_factory(loopback, adb_server):
    device = loopback.one(faults=Faults(hang=True))
    with pytest.raises(adbutils.AdbTimeout):
        _handle(adb_server, device.serial).shell2("true", timeout=SHORT_TIMEOUT_S, v2=True)
