"""The device side of a detached run on a loopback device (Android's shell and toybox, uid 2000): the wrapper kills
a run past its limit whichever way its watchdog waits, and the wait shell reports the exit status, a kill, or a
wrapper that is gone, with or without its wake fifo."""

from __future__ import annotations

import posixpath

import pytest

from mai_bench.android import remote_run
from mai_bench.device.device import Device, quote_argv
from mai_bench.resources import data_dir
from support import wait_for

FOLDER = "/data/local/tmp/wrapper-test"
WRAPPER = posixpath.join(FOLDER, "run_benchmark.sh")


@pytest.fixture
def device(adb_server, loopback) -> Device:
    device = Device(loopback.one().serial, adb_server.address)
    device.shell(["mkdir", "-p", FOLDER], 10, check=True)
    device.push(data_dir("android_runner") / "run_benchmark.sh", WRAPPER, 30)
    return device


def start(device: Device, run_dir: str, limit_s: int, argv: list[str], fifos: bool) -> None:
    """What start_detached does, with or without the fifos (a device without mkfifo)."""
    make = f"mkfifo {run_dir}/wake {run_dir}/timer && " if fifos else ""
    inner = quote_argv(["sh", WRAPPER, run_dir, str(limit_s), *argv])
    device.shell(["sh", "-c", f"mkdir -p {run_dir} && {make}(setsid nohup {inner} </dev/null >/dev/null 2>&1 &)"],
                 30, check=True)


def wait(device: Device, run_dir: str, seconds: float = 60) -> list[str]:
    """The wait shell's whole answer, heartbeats included."""
    return device.shell(["sh", "-c", remote_run._wait_script(run_dir, seconds)], seconds + 30,
                        idle_s=remote_run.DEVICE_TICK_S + 10).out.split()


@pytest.mark.parametrize("fifos", [True, False], ids=["timed-read", "sleep-fallback"])
def test_the_wrapper_kills_a_run_past_its_limit(device: Device, fifos: bool) -> None:
    run_dir = posixpath.join(FOLDER, f"limit-{fifos}")
    start(device, run_dir, 3, ["sleep", "60"], fifos)  # past one heartbeat
    answer = wait(device, run_dir)
    assert [w for w in answer if w != remote_run.HEARTBEAT] == ["137", "timed_out"], answer  # 128 + SIGKILL
    assert remote_run.HEARTBEAT in answer, "the wait shell told the host it was alive while it waited"
    left = device.shell(["sh", "-c", "ps -A -o ARGS | grep -c '^sleep 60' || true"], 10).out.strip()
    assert left == "0", "the benchmark was killed"


@pytest.mark.parametrize("fifos", [True, False], ids=["wake-fifo", "no-fifo"])
def test_the_wait_shell_reports_a_finished_run(device: Device, fifos: bool) -> None:
    run_dir = posixpath.join(FOLDER, f"done-{fifos}")
    start(device, run_dir, 30, ["sh", "-c", "sleep 1; echo hello; exit 3"], fifos)
    answer = wait(device, run_dir)
    assert [w for w in answer if w != remote_run.HEARTBEAT] == ["3"], answer
    assert device.shell(["cat", posixpath.join(run_dir, "log")], 10, check=True).out == "hello\n"
    # The watchdog ends with the run (the wrapper itself a moment after writing the rc): nothing is left of it.
    ps = ["sh", "-c", f"ps -A -o ARGS | grep -c '^sh {WRAPPER} {run_dir}' || true"]
    wait_for(lambda: device.shell(ps, 10).out.strip() == "0", "the wrapper and its watchdog to end", timeout=10)


def test_the_wait_shell_says_gone_for_a_wrapper_that_died_without_an_exit_status(device: Device) -> None:
    run_dir = posixpath.join(FOLDER, "gone")
    device.shell(["sh", "-c", f"mkdir -p {run_dir} && mkfifo {run_dir}/wake && echo 999999 > {run_dir}/wrapper.pid"],
                 10, check=True)
    assert wait(device, run_dir) == ["gone"]
    assert wait(device, posixpath.join(FOLDER, "never-started")) == ["gone"]
