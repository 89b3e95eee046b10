"""Device locks on a loopback device through the real adb server: one holder at a time, who holds it, bounded
waits, stale and orphaned locks broken, the heartbeat keeping a long holder alive, user text kept out of the
shell, and two processes that never hold it at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mai_bench.device import lock
from mai_bench.device.device import Device
from mai_bench.device.lock import DeviceBusy, acquire, held, parse_lock_state, read_lock, release


@pytest.fixture
def device(adb_server, loopback) -> Device:
    return Device(loopback.one().serial, adb_server.address)


def test_one_holder_at_a_time_and_everyone_can_see_who(device: Device) -> None:
    mine = acquire(device, "mai-bench farm nightly", wait_s=0)
    holder = read_lock(device)
    assert holder is not None and holder.owner == "mai-bench farm nightly" and holder.token == mine.token
    assert holder.age_s is not None and holder.age_s >= 0 and not holder.stale and not holder.orphaned
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with pytest.raises(DeviceBusy) as busy:
        acquire(device, "mai-bench run", wait_s=0.5, sleep=sleep)
    # Bounded by construction, not by a stopwatch: each poll sleeps at most what is left of the wait.
    assert sum(slept) <= 0.5 + 1e-9, slept
    assert "in use by mai-bench farm nightly" in busy.value.message and device.serial in busy.value.message
    assert busy.value.exit_code == 3 and "rm -r /data/local/tmp/mai-bench/lock" in busy.value.fix
    assert release(mine) is True
    assert read_lock(device) is None
    assert release(mine) is False, "a lock is released once"


def test_a_waiter_gets_the_lock_once_it_is_released(device: Device) -> None:
    first = acquire(device, "first", wait_s=0)
    seen = []

    def release_soon(holder, waited) -> None:
        seen.append(holder.owner)
        if len(seen) == 2:
            release(first)

    second = acquire(device, "second", wait_s=30, on_wait=release_soon)
    assert seen == ["first", "first"] and second.waited_s > 0
    assert read_lock(device).token == second.token
    release(second)


def test_a_stale_lock_is_broken_and_a_fresh_one_is_not(device: Device) -> None:
    old = acquire(device, "crashed run", wait_s=0, stale_s=1)
    time.sleep(2.2)  # the device clock counts whole seconds
    taken = acquire(device, "next run", wait_s=0)
    assert taken.broke is not None and taken.broke.token == old.token and taken.broke.stale
    assert release(old) is False, "a broken lock is no longer its old holder's to release"
    assert read_lock(device).token == taken.token
    release(taken)


def test_the_heartbeat_keeps_a_long_holder_from_looking_stale(device: Device) -> None:
    with held(device, "long run", wait_s=0, stale_s=2, heartbeat_s=0.5) as mine:
        time.sleep(3.5)
        holder = read_lock(device)
        assert holder.token == mine.token and not holder.stale
        with pytest.raises(DeviceBusy):
            acquire(device, "intruder", wait_s=0)
    assert read_lock(device) is None


def test_a_lock_this_process_left_behind_is_an_orphan_broken_at_once(device: Device) -> None:
    left = acquire(device, "a run whose device dropped", wait_s=0)
    lock._held_tokens.discard(left.token)  # what a release that could not reach the device leaves behind
    taken = acquire(device, "resumed farm", wait_s=0)
    assert taken.broke is not None and taken.broke.token == left.token and taken.broke.orphaned
    release(taken)


def test_a_lock_of_a_dead_process_on_this_machine_is_an_orphan(device: Device, tmp_path: Path) -> None:
    code = ("import sys; from mai_bench.device.device import Device; from mai_bench.device.lock import acquire; "
            "acquire(Device(sys.argv[1], sys.argv[2]), 'killed process', wait_s=0)")
    subprocess.run([sys.executable, "-c", code, device.serial, device.server], check=True, timeout=60)
    holder = read_lock(device)
    assert holder.owner == "killed process" and holder.orphaned
    taken = acquire(device, "next", wait_s=0)
    assert taken.broke.owner == "killed process"
    release(taken)


def test_owner_text_never_reaches_the_shell(device: Device, tmp_path: Path) -> None:
    # Relative paths: the loopback device rewrites absolute /data paths even inside quoted text.
    owner = "x'; touch pwned; echo \"$(touch pwned2)\" `id` $HOME"
    mine = acquire(device, owner, wait_s=0)
    assert read_lock(device).owner == owner
    assert device.shell(["sh", "-c", "ls pwned pwned2"], 5).exit_code != 0, "the owner text ran as a command"
    release(mine)


def test_parsing_of_lock_states() -> None:
    assert parse_lock_state("free\n") is None
    info = parse_lock_state("held\nnow=1000\nmtime=900\nowner=o\nhost=h\npid=12\ntoken=t\ntime=990\n"
                            "stale_s=5\nmachine=-\n")
    assert (info.owner, info.pid, info.age_s, info.stale, info.machine) == ("o", 12, 10.0, True, "")
    ownerless = parse_lock_state("held\nnow=1000\nmtime=998\n", default_stale_s=60)
    assert ownerless.age_s == 2.0 and ownerless.token == "" and not ownerless.stale
    assert json.dumps(ownerless.to_dict())


def test_devices_command_shows_who_holds_a_lock(device: Device) -> None:
    import os

    mine = acquire(device, "mai-bench farm nightly", wait_s=0)
    try:
        env = {**os.environ, "ANDROID_ADB_SERVER_ADDRESS": "", "ANDROID_ADB_SERVER_PORT": ""}
        proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "devices", "--json", "--adb-server",
                               device.server], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        (entry,) = [d for d in json.loads(proc.stdout)["devices"] if d["serial"] == device.serial]
        assert "mai-bench farm nightly" in entry["lock"]
        table = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "devices", "--adb-server", device.server],
                               capture_output=True, text=True, timeout=60, env=env)
        assert f"{device.serial} on {device.server} is in use by mai-bench farm nightly" in table.stdout
    finally:
        release(mine)
