"""Device locks where the device cannot write them (issue 12, item 3), on loopback devices through the real adb
server: a lock folder left owned by root after `adb root`, a stale lock that cannot be removed, a lock folder
without its owner file, full storage. Each is reported at once with the device's own error, exit 3 and the fix;
no loop outlives the wait limit.

The device's shell runs as uid 2000, which is the host user behind the device tree; a folder chowned on the host
to another uid is, to the device's shell, a folder of another user (shown as 65534, where a phone shows root)
with mode 0755: what `adb root` leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.device.device import Device, ShellResult
from mai_bench.device.lock import (
    LOCK_PATH,
    DeviceBusy,
    LockUnusable,
    acquire,
    read_lock,
    release,
    unusable_fix,
)
from mai_bench.emulate.adbd.spec import Faults

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
OTHER_UID = 4321  # not mapped into the device: another user's files, as root's are to the shell on a phone
FOLDER = "/data/local/tmp/mai-bench"


class CountingDevice(Device):
    """The real device seam, counting the shell commands it sends."""

    calls = 0

    def shell(self, argv, timeout, *, check=False):
        self.calls += 1
        return super().shell(argv, timeout, check=check)


@pytest.fixture
def phone(adb_server, loopback):
    return loopback.one()


@pytest.fixture
def device(adb_server, phone) -> CountingDevice:
    return CountingDevice(phone.serial, adb_server.address)


def host_folder(phone) -> Path:
    return phone.root / "data/local/tmp/mai-bench"


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"acquire waited ({seconds} s) for a lock that can never be taken")


def left_by_root(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, OTHER_UID, OTHER_UID)
    path.chmod(0o755)


def stale_lock(phone, owner_text: str | None = "owner=crashed run\ntoken=dead\ntime=1\nstale_s=5\n") -> Path:
    lock_dir = host_folder(phone) / "lock"
    lock_dir.mkdir(parents=True)
    if owner_text is not None:
        (lock_dir / "owner").write_text(owner_text)
    os.utime(lock_dir, (1, 1))  # the folder's time: an ownerless lock ages from it
    return lock_dir


def mai_bench(server, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # A lock wait of 600 s inside a 120 s limit: a run that waited for the lock would time out here.
    env = {**os.environ, "HOME": str(server.home), "ANDROID_ADB_SERVER_ADDRESS": "", "ANDROID_ADB_SERVER_PORT": ""}
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_a_lock_folder_left_by_root_fails_at_once_with_the_devices_error_and_the_fix(device, phone) -> None:
    left_by_root(host_folder(phone))
    with pytest.raises(LockUnusable) as error:
        acquire(device, "mai-bench run", wait_s=600, sleep=no_sleep)
    assert device.calls == 1, "one attempt: a folder the shell cannot write is not a busy device"
    assert "Permission denied" in error.value.message and f"{FOLDER}/lock" in error.value.message
    assert "unknown owner" not in error.value.message and device.serial in error.value.message
    assert error.value.exit_code == 3
    assert f"shell rm -rf {FOLDER}" in error.value.fix and "unroot" in error.value.fix
    assert f"-s {device.serial}" in error.value.fix


def test_a_missing_folder_under_an_unwritable_parent_is_reported_too(device, phone) -> None:
    left_by_root(phone.root / "data/local/tmp/elsewhere")
    path = "/data/local/tmp/elsewhere/mai-bench/lock"
    with pytest.raises(LockUnusable) as error:
        acquire(device, "mai-bench run", wait_s=600, path=path, sleep=no_sleep)
    assert "Permission denied" in error.value.message and "/data/local/tmp/elsewhere/mai-bench" in error.value.message


def test_a_stale_lock_that_cannot_be_removed_is_reported_not_retried(device, phone) -> None:
    lock_dir = stale_lock(phone)
    os.chown(lock_dir, OTHER_UID, OTHER_UID)  # its owner file cannot be removed by the shell
    with pytest.raises(LockUnusable) as error:
        acquire(device, "mai-bench run", wait_s=600, sleep=no_sleep)
    assert device.calls == 2, "one attempt, one removal, then the device's error: no loop of adb calls"
    assert error.value.message.startswith(f"device {device.serial}")
    assert "cannot remove the lock" in error.value.message and "Permission denied" in error.value.message
    assert "rm -rf" in error.value.fix and error.value.exit_code == 3
    assert (lock_dir / "owner").exists(), "the device really failed to remove it"


def test_releasing_a_lock_that_cannot_be_removed_is_not_reported_as_removed(device, phone) -> None:
    mine = acquire(device, "mai-bench run", wait_s=0)
    os.chown(host_folder(phone) / "lock", OTHER_UID, OTHER_UID)
    with pytest.raises(LockUnusable) as error:
        release(mine)
    assert "Permission denied" in error.value.message
    assert read_lock(device).token == mine.token


def test_a_lock_folder_without_owner_file_is_shown_waited_for_and_broken_once_stale(device, phone, adb_server) \
        -> None:
    lock_dir = host_folder(phone) / "lock"
    lock_dir.mkdir(parents=True)  # fresh: its taker may still be writing the owner file
    holder = read_lock(device)
    assert holder.ownerless and not holder.stale and "without an owner file" in holder.describe()
    proc = mai_bench(adb_server, "devices", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = [d for d in json.loads(proc.stdout)["devices"] if d["serial"] == device.serial]
    assert "without an owner file" in entry["lock"] and "command failed" not in entry["lock"]
    with pytest.raises(DeviceBusy) as busy:
        acquire(device, "mai-bench run", wait_s=0)
    assert "without an owner file" in busy.value.message
    os.utime(lock_dir, (1, 1))
    taken = acquire(device, "mai-bench run", wait_s=0)
    assert taken.broke is not None and taken.broke.ownerless
    release(taken)


def test_an_old_lock_folder_without_owner_file_that_cannot_be_removed_is_reported(device, phone) -> None:
    lock_dir = stale_lock(phone, owner_text=None)
    (lock_dir / "leftover").write_text("x")  # a non-empty folder of another user
    os.chown(lock_dir, OTHER_UID, OTHER_UID)
    os.utime(lock_dir, (1, 1))
    with pytest.raises(LockUnusable) as error:
        acquire(device, "mai-bench run", wait_s=600, sleep=no_sleep)
    assert "Permission denied" in error.value.message and device.calls == 2


def test_devices_names_an_unusable_lock_folder_and_its_fix(phone, adb_server) -> None:
    left_by_root(host_folder(phone))
    proc = mai_bench(adb_server, "devices", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = [d for d in json.loads(proc.stdout)["devices"] if d["serial"] == phone.serial]
    assert entry["lock"].startswith("lock unusable:") and "not writable" in entry["lock"]
    assert "unroot" in entry["lock"]
    table = mai_bench(adb_server, "devices")
    assert table.returncode == 0, table.stderr
    assert f"{phone.serial} on {adb_server.address}: lock unusable:" in " ".join(table.stdout.split())


def test_run_on_a_device_whose_lock_folder_root_left_exits_3_with_the_fix(phone, adb_server) -> None:
    left_by_root(host_folder(phone))
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", phone.serial, "--delegate", "xnnpack", "--json",
                     "--lock-wait", "600", "--runs", "1", "--warmup", "0", "--cooldown-timeout", "0")
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "infra-error"
    (reason,) = result["delegation"]["reasons"]
    assert "Permission denied" in reason and "unroot" in reason and "in use" not in reason


def test_a_run_on_full_storage_exits_3_and_gives_the_lock_back(phone, adb_server, loopback, device) -> None:
    loopback.set_faults(phone, Faults(storage_full_after_bytes=0))
    proc = mai_bench(adb_server, "run", str(MODEL), "--device", phone.serial, "--delegate", "xnnpack", "--json",
                     "--runs", "1", "--warmup", "0", "--cooldown-timeout", "0")
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "infra-error" and "free space" in result["raw_log"]
    assert read_lock(device) is None, "the lock was released after the failed staging"


def test_the_fix_for_full_storage_is_free_space_not_root(device) -> None:
    fix = unusable_fix(device, LOCK_PATH, "mkdir: '/data/local/tmp/mai-bench/lock': No space left on device")
    assert "df -h /data/local/tmp/mai-bench" in fix and "unroot" not in fix


class ScriptedDevice(Device):
    """A device seam whose lock commands get fixed answers: to drive the loop through cases a real device
    produces only in races (a lock released between `mkdir` and the look at it, stale locks appearing again)."""

    def __init__(self, answers: dict[str, str]):
        super().__init__("scripted", "127.0.0.1:9")
        self.answers = answers
        self.calls: list[str] = []

    def shell(self, argv, timeout, *, check=False):
        kind = "remove" if "rm -rf" in argv[2] and "holds" in argv[2] and "mkdir" not in argv[2] else "acquire"
        self.calls.append(kind)
        return ShellResult(tuple(argv), 0, self.answers[kind].encode(), b"", 0.0)


@pytest.mark.parametrize("answers", [
    {"acquire": "retry\n", "remove": "removed\n"},  # released every time just before we look
    {"acquire": "held\nnow=1000\nmtime=1\nowner=x\ntoken=t\ntime=1\nstale_s=5\n", "remove": "removed\n"},
    {"acquire": "held\nnow=1000\nmtime=1\nowner=x\ntoken=t\ntime=1\nstale_s=5\n", "remove": "kept\n"},
], ids=["retry", "stale-again", "stale-kept"])
def test_every_loop_ends_at_the_wait_limit(answers) -> None:
    device = ScriptedDevice(answers)
    with pytest.raises(DeviceBusy):
        acquire(device, "mai-bench run", wait_s=0, sleep=no_sleep)
    assert device.calls.count("acquire") == 2, device.calls  # the attempt, and the one allowed after the limit


def test_a_lock_the_device_refuses_to_give_back_is_a_warning_of_the_run(phone, adb_server) -> None:
    from mai_bench.android.measure import DeviceRunOptions, measure_on_device
    from mai_bench.device.discovery import describe
    from mai_bench.plan import RunPlan

    target = describe(Device(phone.serial, adb_server.address))
    lock_dir = host_folder(phone) / "lock"

    def status(line: str) -> None:
        if line.startswith("running") and lock_dir.stat().st_uid != OTHER_UID:
            os.chown(lock_dir, OTHER_UID, OTHER_UID)  # root took the folder over during the run

    plan = RunPlan(delegate="xnnpack", runs=1, warmup=0, min_secs=0)
    result = measure_on_device(MODEL, plan, target, DeviceRunOptions(), status)  # the loopback device is cool
    assert result.status == "ok", result.raw_log[-2000:]
    (warning,) = [w for w in result.warnings if "lock could not be given back" in w]
    assert "Permission denied" in warning and "unroot" in warning
