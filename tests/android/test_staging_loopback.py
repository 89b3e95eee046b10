"""Staging on loopback devices (issue 12, item 9): a custom --benchmark-binary is executable on the device whatever
its local mode; a device without `sha256sum` (toybox before 0.7.2, Android 6 and 7) compares its copies by MD5,
and one with no hashing command at all gets every file pushed again, and the run says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.android.staging import StagedFile, comparison_note, content_path, stage
from mai_bench.device.device import Device
from mai_bench.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
FAST = ["--runs", "2", "--warmup", "0", "--min-secs", "0", "--threads", "1", "--cooldown-timeout", "0"]
# A custom build as a user would hand it over: a file of theirs, here one that runs the device's benchmark_model.
CUSTOM_BUILD = b'#!/system/bin/sh\nexec /system/bin/benchmark_model "$@"\n'


def mai_bench(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(server.home)}
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=timeout, env=env)


def run_json(server, *args: str) -> dict:
    proc = mai_bench(server, "run", str(MODEL), "--delegate", "xnnpack", "--json", *FAST, *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def host_path(phone, remote: str) -> Path:
    return phone.root / remote.lstrip("/")


def staged(role: str, local: Path, executable: bool = False) -> StagedFile:
    sha = sha256_file(local)
    return StagedFile(role, local, content_path("test", sha, local.name), sha, local.stat().st_size, executable)


def without_commands(phone, *names: str) -> None:
    """The device as an older Android ships it: these toybox applets are not in /system/bin."""
    for name in names:
        (phone.root / "system/bin" / name).unlink()


@pytest.fixture
def custom_build(tmp_path: Path) -> Path:
    build = tmp_path / "benchmark_model"
    build.write_bytes(CUSTOM_BUILD)
    build.chmod(0o644)  # as a download or a copy from another machine often leaves it
    return build


def test_a_custom_binary_without_x_bit_runs_on_the_device(adb_server, loopback, custom_build: Path) -> None:
    phone = loopback.one()
    result = run_json(adb_server, "--device", phone.serial, "--benchmark-binary", str(custom_build))
    assert result["status"] == "ok", result["raw_log"][-2000:]
    remote = result["argv"][0]
    assert remote == result["transfer"]["binary"]["remote"] and remote.startswith("/data/local/tmp/mai-bench/bin/")
    assert os.stat(host_path(phone, remote)).st_mode & 0o777 == 0o755
    assert "origin" not in result["binary"], "a custom build has no download origin"
    assert os.stat(custom_build).st_mode & 0o777 == 0o644, "the user's file is left as it was"


def test_a_cached_executable_that_lost_its_x_bit_is_made_executable(adb_server, loopback, tmp_path: Path) -> None:
    phone = loopback.one()
    device = Device(phone.serial, adb_server.address)
    build = tmp_path / "benchmark_model"
    build.write_bytes(CUSTOM_BUILD)
    data = tmp_path / "data.bin"
    data.write_bytes(b"not a program")
    files = [staged("binary", build, executable=True), staged("data", data)]
    first = stage(device, files)
    assert [t.cached for t in first] == [False, False]
    assert os.stat(host_path(phone, files[0].remote)).st_mode & 0o111
    assert not os.stat(host_path(phone, files[1].remote)).st_mode & 0o111, "only executables get the x bit"
    host_path(phone, files[0].remote).chmod(0o644)  # pushed by an older mai-bench that kept the local mode
    again = stage(device, files)
    assert [t.cached for t in again] == [True, True]
    assert device.shell(["sh", "-c", '[ -x "$1" ]', "sh", files[0].remote], 10).ok


def test_a_device_without_sha256sum_compares_by_md5(adb_server, loopback, tmp_path: Path) -> None:
    phone = loopback.one()
    without_commands(phone, "sha256sum")
    device = Device(phone.serial, adb_server.address)
    assert device.shell(["sh", "-c", "command -v sha256sum"], 10).exit_code != 0
    data = tmp_path / "model.tflite"
    data.write_bytes(b"weights" * 1000)
    files = [staged("model", data)]
    (first,) = stage(device, files)
    assert (first.cached, first.compared_by) == (False, "md5")
    (second,) = stage(device, files)
    assert (second.cached, second.pushed_bytes, second.compared_by) == (True, 0, "md5")
    host_path(phone, files[0].remote).write_bytes(b"weights" * 999 + b"changed")  # a damaged copy
    (third,) = stage(device, files)
    assert not third.cached and host_path(phone, files[0].remote).read_bytes() == data.read_bytes()
    assert comparison_note([first, second, third]) is None


def test_a_device_with_no_hashing_command_pushes_everything_and_says_so(adb_server, loopback) -> None:
    phone = loopback.one()
    without_commands(phone, "sha256sum", "md5sum")
    first = run_json(adb_server, "--device", phone.serial)
    second = run_json(adb_server, "--device", phone.serial)
    for result in (first, second):
        assert result["status"] == "ok"
        assert result["transfer"]["model"]["compared_by"] is None
        (note,) = [w for w in result["warnings"] if "pushed again" in w]
        assert "sha256sum" in note and "Android 8" in note
    assert second["transfer"]["model"]["cached"] is False
    assert second["transfer"]["model"]["pushed_bytes"] == MODEL.stat().st_size
    # The preinstalled benchmark_model is still identified by its sha256: pulled and hashed on the host.
    assert second["binary"]["sha256"] == sha256_file(phone.root / "system/bin/benchmark_model")


def test_a_device_with_sha256sum_caches_and_says_nothing(adb_server, loopback) -> None:
    phone = loopback.one()
    run_json(adb_server, "--device", phone.serial)
    second = run_json(adb_server, "--device", phone.serial)
    assert second["transfer"]["model"]["cached"] is True and second["transfer"]["model"]["compared_by"] == "sha256"
    assert not [w for w in second["warnings"] if "pushed again" in w]
