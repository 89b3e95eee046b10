"""The loopback device is as strict as a phone: its own root, the shell user, Android's shell and tools, a
terminal when asked, stdin delivered and SIGHUP on a close, `pm` refusing a non-APK; tried through the real
adb server and the adb CLI, as a user would."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import termios

import adbutils

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd import jail, system_bin
from mai_bench.emulate.adbd.spec import load_spec
from support import wait_for

GUARD_TIMEOUT_S = 60.0


def _out(result: subprocess.CompletedProcess) -> str:
    return result.stdout.decode()


def test_the_shell_starts_in_the_device_root_as_the_shell_user(loopback, adb):
    serial = loopback.one().serial
    assert _out(adb("-s", serial, "shell", "pwd")) == "/\n"
    assert _out(adb("-s", serial, "shell", "id")).startswith("uid=2000(shell) gid=2000(shell)")
    assert _out(adb("-s", serial, "shell", "cd /data/local/tmp && pwd")) == "/data/local/tmp\n"
    assert _out(adb("-s", serial, "shell", "echo /data/local/tmp/x")) == "/data/local/tmp/x\n"
    missing = adb("-s", serial, "shell", "ls /data/local/tmp/missing")
    assert missing.returncode != 0 and b"/data/local/tmp/missing" in missing.stderr
    assert str(loopback.base).encode() not in missing.stderr  # no host path leaks out


def test_writes_outside_data_local_tmp_and_sdcard_fail(loopback, adb):
    device = loopback.one()
    for path in ("/system/x", "/data/x", "/x", "/vendor/x"):
        result = adb("-s", device.serial, "shell", f"touch {path}")
        assert result.returncode != 0, path
    assert not (device.root / "system/x").exists() and not (device.root / "data/x").exists()
    assert adb("-s", device.serial, "shell", "touch /data/local/tmp/ok /sdcard/ok").returncode == 0
    assert (device.root / "data/local/tmp/ok").exists() and (device.root / "sdcard/ok").exists()


def test_push_where_the_shell_user_cannot_write_fails(loopback, adb, tmp_path):
    device = loopback.one()
    local = tmp_path / "f"
    local.write_bytes(b"x")
    result = adb("-s", device.serial, "push", str(local), "/system/bin/f")
    assert result.returncode != 0 and b"Read-only file system" in result.stderr + result.stdout
    assert not (device.root / "system/bin/f").exists()
    assert adb("-s", device.serial, "push", str(local), "/sdcard/f").returncode == 0


def test_android_shell_and_toybox_only(loopback, adb):
    serial = loopback.one().serial
    assert _out(adb("-s", serial, "shell", "echo $KSH_VERSION")).startswith("@(#)MIRBSD KSH")
    assert _out(adb("-s", serial, "shell", "readlink /system/bin/ls")) == "toybox\n"
    for host_only in ("bash -c true", "python3 -c 1", "gcc --version", "awk 1 /dev/null"):
        assert adb("-s", serial, "shell", host_only).returncode == 127, host_only
    # GNU-only options fail as they fail with toybox on a phone
    assert adb("-s", serial, "shell", "ls --group-directories-first /").returncode != 0
    path = _out(adb("-s", serial, "shell", "echo $PATH")).strip().split(":")
    assert "/system/bin" in path and not any(p.startswith(("/usr", "/bin", "/tmp")) for p in path)


def test_ps_sees_only_the_device(loopback, adb):
    serial = loopback.one().serial
    pids = [int(line.split()[0]) for line in _out(adb("-s", serial, "shell", "ps -A -o PID")).splitlines()[1:]]
    assert 1 in pids and len(pids) < 20  # a PID namespace of its own: not the host's hundreds of processes


def test_a_terminal_when_asked(loopback, adb):
    serial = loopback.one().serial
    # -tt: the adb CLI allocates a remote pty only for a local terminal unless forced twice
    assert re.fullmatch(r"/dev/pts/\d+\r?\n", _out(adb("-s", serial, "shell", "-tt", "tty")))
    assert _out(adb("-s", serial, "shell", "-T", "tty")) == "not a tty\n"


def test_window_size_packets_resize_the_terminal(loopback, adb_server):
    device = loopback.one()
    with socket.create_connection((adb_server.host, adb_server.port), timeout=GUARD_TIMEOUT_S) as sock:
        _request(sock, f"host:transport:{device.serial}")
        _request(sock, "shell,v2,pty:sleep 304")
        assert wait_for(lambda: _find(device, "sleep304"), "the command to start")
        sock.sendall(_packet(5, b"40x132,0x0\0"))
        assert wait_for(lambda: _winsize(_find(device, "sleep304")) == (40, 132), "the terminal to be resized")


def _find(device, cmdline: str) -> int | None:
    return next((pid for pid in _device_pids(device) if _cmdline(pid) == cmdline), None)


def _winsize(pid: int) -> tuple[int, int]:
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NOCTTY)
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    finally:
        os.close(fd)
    return rows, cols


def test_exec_in_keeps_all_of_ten_megabytes(loopback, adb, tmp_path):
    device = loopback.one()
    data = os.urandom(10_000_000)
    result = adb("-s", device.serial, "exec-in", "cat > /data/local/tmp/f", input=data)
    assert result.returncode == 0, result.stderr
    stored = device.root / "data/local/tmp/f"
    assert wait_for(lambda: stored.exists() and stored.stat().st_size == len(data), "cat to write 10 MB")
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_interrupted_adb_shell_sends_sighup(loopback, adb_server):
    device = loopback.one()
    env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(adb_server.home)}
    client = subprocess.Popen([adb_server_lib.adb_binary(), "-H", adb_server.host, "-P", str(adb_server.port),
                               "-s", device.serial, "shell",
                               'trap "echo hup > /data/local/tmp/h" HUP; echo ready; sleep 100'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    try:
        assert client.stdout.readline() == b"ready\n"
        client.send_signal(signal.SIGINT)
        client.wait(GUARD_TIMEOUT_S)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        client.stdout.close()
        client.stderr.close()
    marker = device.root / "data/local/tmp/h"
    assert wait_for(marker.exists, "the HUP trap to run")
    assert marker.read_text() == "hup\n"


def test_pm_refuses_a_file_that_is_not_an_apk(loopback, adb, tmp_path):
    serial = loopback.one().serial
    fake = tmp_path / "model.apk"
    fake.write_bytes(b"not a zip at all")
    result = adb("-s", serial, "install", str(fake))
    assert result.returncode == 1
    assert b"Failure [INSTALL_PARSE_FAILED_NOT_APK" in result.stdout + result.stderr
    direct = adb("-s", serial, "shell", "echo x > /data/local/tmp/x.apk; pm install /data/local/tmp/x.apk")
    assert direct.returncode == 1 and b"INSTALL_PARSE_FAILED_NOT_APK" in direct.stdout


def test_framework_commands_print_what_a_phone_prints(loopback, adb):
    serial = loopback.one().serial
    battery = _out(adb("-s", serial, "shell", "dumpsys battery"))
    assert battery.startswith("Current Battery Service state:\n") and "  temperature: 305\n" in battery
    thermal = _out(adb("-s", serial, "shell", "dumpsys thermalservice"))
    assert "Current temperatures from HAL:" in thermal
    hal = re.findall(r"Temperature\{mValue=([\d.]+), mType=(\d+), mName=([^,]+), mStatus=0\}", thermal)
    assert ("34.9", "1", "gpuss-0-usr") in hal and ("30.5", "2", "battery") in hal


def test_one_benchmark_model_identity_for_every_device(loopback, adb):
    devices = loopback.start(2)
    expected = hashlib.sha256(system_bin.stand_in("benchmark_model").encode()).hexdigest()
    for device in devices:
        line = _out(adb("-s", device.serial, "shell", "sha256sum /system/bin/benchmark_model"))
        assert line.split()[0] == expected
    assert (devices[0].root / "system/bin/benchmark_model").read_bytes() == \
        (devices[1].root / "system/bin/benchmark_model").read_bytes()


def test_stopping_the_device_ends_its_detached_processes(loopback, adb):
    device = loopback.one()
    assert adb("-s", device.serial, "shell", "setsid nohup sleep 303 > /dev/null 2>&1 &").returncode == 0
    # toybox runs nohup and sleep inside its setsid process: one process, `setsid nohup sleep 303`
    assert wait_for(lambda: any(_cmdline(pid).endswith("sleep303") for pid in _device_pids(device)),
                    "the detached sleep")
    loopback_lib.stop_device(device)
    assert not any(_cmdline(pid).endswith("sleep303") for pid in _all_pids())


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _device_pids(device) -> list[int]:
    return loopback_lib.session_processes(device.pid)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b"").decode(errors="replace")
    except OSError:
        return ""


def _request(sock: socket.socket, service: str) -> None:
    data = service.encode()
    sock.sendall(b"%04x" % len(data) + data)
    status = _read_exactly(sock, 4)
    assert status == b"OKAY", status + sock.recv(256)


def _packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the stream ended"
        data += chunk
    return data


def test_a_lenient_device_says_so_everywhere(adb_server, tmp_path):
    # What a host without bwrap, mksh or toybox gets: it still works, and says loudly that it is lenient.
    lenient = jail.Isolation(False, "forced by the test")
    device = loopback_lib.start_device(load_spec("loopback-sm8450"), tmp_path / "dev", isolation=lenient,
                                       trusted_keys=[loopback_lib.server_public_key(adb_server)])
    try:
        loopback_lib.connect_devices(adb_server, [device])
        env = {**os.environ, "HOME": str(adb_server.home)}
        cli = [sys.executable, "-m", "mai_bench.cli.main", "devices", "--adb-server", adb_server.address]
        listing = json.loads(subprocess.run(cli + ["--json"], capture_output=True, text=True, env=env,
                                            timeout=GUARD_TIMEOUT_S).stdout)
        entry = next(d for d in listing["devices"] if d["serial"] == device.serial)
        assert entry["emulated"] is True and entry["lenient"] == "forced by the test"
        table = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=GUARD_TIMEOUT_S).stdout
        assert "LENIENT" in table and "forced by the test" in table
        # ...and it is lenient: its shell is the host's, in a host folder
        handle = adbutils.AdbClient(host=adb_server.host, port=adb_server.port).device(device.serial)
        assert handle.shell("pwd", timeout=GUARD_TIMEOUT_S) == str(device.root)
        assert handle.shell("getprop mai_bench.lenient", timeout=GUARD_TIMEOUT_S) == "forced by the test"
    finally:
        adb_server_lib.disconnect(adb_server, device.serial, timeout=5.0)
        loopback_lib.stop_device(device)
    assert loopback_lib.session_processes(device.pid) == []
