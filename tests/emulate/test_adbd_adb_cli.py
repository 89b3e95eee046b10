"""The loopback device through the real adb server and the real adb CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shlex

import pytest

from mai_bench.emulate.adbd.spec import Faults

HOSTILE = "a b'c\"d;$(touch pwned)`touch pwned2`\nline2 \u00e9\u6f22.tflite"


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_device_is_listed_with_its_banner(loopback, adb):
    device = loopback.one()
    listing = adb("devices", "-l").stdout.decode()
    line = next(line for line in listing.splitlines() if line.startswith(device.serial))
    assert line.split()[1] == "device"
    assert "model:Loopback_SM8450" in line and "product:loopback_sm8450" in line


def test_getprop_through_adb_shell(loopback, adb):
    device = loopback.one()
    result = adb("-s", device.serial, "shell", "getprop", "ro.soc.model")
    assert (result.returncode, result.stdout) == (0, b"SM8450\n")
    serialno = adb("-s", device.serial, "shell", "getprop ro.serialno").stdout.decode().strip()
    assert serialno == f"loopback{device.port}"


def test_shell_v2_exit_code_and_separate_stderr(loopback, adb):
    device = loopback.one()
    result = adb("-s", device.serial, "shell", "echo out; echo err >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, b"out\n", b"err\n")


def test_shell_v2_stdin_reaches_the_command(loopback, adb):
    device = loopback.one()
    result = adb("-s", device.serial, "shell", "cat; echo done", input=b"fed through stdin\n")
    assert result.stdout == b"fed through stdin\ndone\n"


def test_legacy_shell_merges_streams_and_has_no_exit_code(loopback, adb):
    device = loopback.one(faults=Faults(no_shell_v2=True))
    features = adb("-s", device.serial, "features").stdout.decode()
    assert "shell_v2" not in features and "stat_v2" in features
    result = adb("-s", device.serial, "shell", "echo out; echo err >&2; exit 7")
    assert result.returncode == 0
    assert sorted(result.stdout.split()) == [b"err", b"out"]


def test_push_pull_multi_megabyte_byte_exact(loopback, adb, tmp_path):
    device = loopback.one()
    local = tmp_path / "blob.bin"
    local.write_bytes(os.urandom(5 * 1024 * 1024 + 12345))
    pushed = adb("-s", device.serial, "push", str(local), "/data/local/tmp/blob.bin")
    assert pushed.returncode == 0, pushed.stderr
    on_device = adb("-s", device.serial, "shell", "sha256sum /data/local/tmp/blob.bin").stdout.split()[0]
    assert on_device.decode() == _sha256(local)
    back = tmp_path / "back.bin"
    pulled = adb("-s", device.serial, "pull", "/data/local/tmp/blob.bin", str(back))
    assert pulled.returncode == 0, pulled.stderr
    assert _sha256(back) == _sha256(local)


def test_push_into_folder_creates_parents_and_lists(loopback, adb, tmp_path):
    device = loopback.one()
    local = tmp_path / "model.tflite"
    local.write_bytes(b"x" * 1000)
    assert adb("-s", device.serial, "push", str(local), "/data/local/tmp/").returncode == 0
    assert adb("-s", device.serial, "push", str(local), "/data/local/tmp/new/deeper/m.tflite").returncode == 0
    listing = adb("-s", device.serial, "ls", "/data/local/tmp").stdout.decode()
    names = {line.split()[-1] for line in listing.splitlines()}
    assert {"model.tflite", "new", ".", ".."} <= names
    assert (device.root / "data/local/tmp/new/deeper/m.tflite").read_bytes() == b"x" * 1000


def test_pull_of_missing_file_and_escape_fail(loopback, adb, tmp_path):
    device = loopback.one()
    missing = adb("-s", device.serial, "pull", "/data/local/tmp/nope", str(tmp_path / "x"))
    assert missing.returncode != 0 and b"No such file" in missing.stderr
    escape = adb("-s", device.serial, "pull", "/data/../../etc/passwd", str(tmp_path / "y"))
    assert escape.returncode != 0
    assert not (tmp_path / "y").exists()


def test_storage_full_fails_push_and_leaves_no_partial_file(loopback, adb, tmp_path):
    device = loopback.one(faults=Faults(storage_full_after_bytes=100_000))
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(1_000_000))
    result = adb("-s", device.serial, "push", str(local), "/data/local/tmp/big.bin")
    assert result.returncode != 0
    assert b"No space left on device" in result.stderr
    assert not (device.root / "data/local/tmp/big.bin").exists()
    small = tmp_path / "small.bin"
    small.write_bytes(b"s" * 1000)
    assert adb("-s", device.serial, "push", str(small), "/data/local/tmp/small.bin").returncode == 0
    df = adb("-s", device.serial, "shell", "df /data/local/tmp").stdout.splitlines()
    assert df[1].split()[3] == b"0"  # Available


def test_crashing_benchmark_exits_139(loopback, adb):
    device = loopback.one(faults=Faults(crashing_benchmark=True))
    result = adb("-s", device.serial, "shell", "benchmark_model --graph=/data/local/tmp/m.tflite --num_runs=3")
    assert result.returncode == 139
    assert b"INFO: STARTING!" in result.stdout and result.stderr.strip() == b"Segmentation fault"


def test_hostile_path_reaches_benchmark_model_as_one_argument(loopback, adb, tmp_path):
    device = loopback.one(faults=Faults(crashing_benchmark=True))
    local = tmp_path / "m.tflite"
    local.write_bytes(b"model")
    remote = "/data/local/tmp/" + HOSTILE
    assert adb("-s", device.serial, "push", str(local), remote).returncode == 0
    assert (device.root / "data/local/tmp" / HOSTILE).read_bytes() == b"model"
    argv = ["benchmark_model", f"--graph={remote}", "--num_runs=1"]
    result = adb("-s", device.serial, "shell", shlex.join(argv))
    assert result.returncode == 139
    record = json.loads(device.argv_log.read_text().splitlines()[-1])
    assert record["argv"] == [f"--graph={remote}", "--num_runs=1"]
    assert not any(p.name.startswith("pwned") for p in device.root.rglob("*"))


@pytest.mark.parametrize("service, message", [("reboot", b"cannot reboot"), ("root", b"cannot run as root")])
def test_reboot_and_root_are_refused(loopback, adb, service, message):
    device = loopback.one()
    result = adb("-s", device.serial, service)
    assert message in result.stdout + result.stderr
    assert adb("-s", device.serial, "shell", "true").returncode == 0
