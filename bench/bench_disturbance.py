"""What the harness does to the device while the benchmark is timed (issue 12, item 5), on a loopback device (its
own PID namespace, Android's shell and toybox) through a real adb server.

1. Processes started on the device per second of timed run, and wake-ups per second of the harness's own
   processes there, while a stand-in benchmark_model sleeps SLEEP_S seconds (longer than the old lock
   heartbeat): mai-bench `run` against the bare `adb shell benchmark_model` (reference, same stand-in). Processes
   are counted by the device's PID namespace: a pid is handed out per process started, so two probes
   (`echo $$` in a shell of their own) bracket every process started between them; the probes' own cost is
   measured first by two probes back to back. Wake-ups: voluntary context switches of the device's processes
   that lived through the whole window (the benchmark excluded), read from the host's /proc. Goal: at most 1
   process/s, and at most one wake-up per second.
2. mai-bench's reported average against a bare `adb shell benchmark_model` with the same flags, ROUNDS alternated
   rounds (ABBA): with the stand-in's timed sleeps (what the harness does to the device's scheduling, immune to
   the load of a shared machine), and with the real host runner (LiteRT) on the MicroISP 1.0 reference at Full HD
   (as noisy as the machine). Goal: within 2%.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback_env import adb_argv, adb_env, loopback_devices  # noqa: E402

from mai_bench.device.device import Device  # noqa: E402
from mai_bench.emulate import loopback  # noqa: E402
from mai_bench.emulate.adbd.spec import Faults  # noqa: E402
from mai_bench.parse import parse_log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "mai_bench" / "reference_models" / "microisp_1_0.tflite"
SLEEP_S = 40.0  # the stand-in's whole run; its timed part starts after one warm-up sleep of SLEEP_S / 21
SLEEP_RUNS = 20
WINDOW_START_S = 3.0  # after the benchmark started: inside its timed runs
WINDOW_END_S = 1.5  # before it ends
ROUNDS = 5  # ABBA: each round runs both sides twice
STANDIN_S = 2.1  # the stand-in's whole run: 20 timed sleeps of 100 ms after one warm-up sleep
STANDIN_RUNS = 20
RUNS = 8
THREADS = 2
PROCESS_GOAL = 1.0
RATIO_GOAL = 0.02


def probe(device: Device) -> int:
    """The pid of a fresh shell on the device: the PID namespace's counter, at this moment."""
    return int(device.shell(["sh", "-c", "echo $$"], 10, check=True).out)


def switches(device: loopback.LoopbackDevice) -> dict[int, int]:
    """Wake-ups so far (voluntary context switches: each time it slept and was woken) of each process on the
    device other than the benchmark."""
    counts = {}
    for pid in loopback.shell_processes(device):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"stand_ins" in argv or b"host_runner" in argv:
            continue
        counts[pid] = sum(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("voluntary_ctxt_switches:"))
    return counts


def during_run(device: loopback.LoopbackDevice, client: Device, start_subject) -> tuple[float, float]:
    """(processes started per second, wake-ups per second) on the device inside the subject's timed run."""
    device.argv_log.unlink(missing_ok=True)
    cost = -probe(client) + probe(client)
    proc = start_subject()
    while not device.argv_log.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the subject ended before its benchmark started: {proc.communicate()}")
        time.sleep(0.01)
    started = time.monotonic()
    time.sleep(WINDOW_START_S)
    first, before, t0 = probe(client), switches(device), time.monotonic()
    time.sleep(max(0.0, started + SLEEP_S - WINDOW_END_S - time.monotonic()))
    after, last, t1 = switches(device), probe(client), time.monotonic()
    out, err = proc.communicate(timeout=SLEEP_S + 120)
    if proc.returncode != 0:
        raise SystemExit(f"the subject failed ({proc.returncode}): {err[-2000:]}")
    window = t1 - t0
    wakeups = sum(after[pid] - before[pid] for pid in before if pid in after)
    return (last - first - cost) / window, wakeups / window


def mai_bench_argv(server, device, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mai_bench.cli.main", "run", str(MODEL), "--device", device.serial,
            "--adb-server", server.address, "--delegate", "xnnpack", "--min-secs", "0", "--cooldown-timeout", "0",
            "--json", *extra]


def disturbance() -> None:
    with loopback_devices(1, Faults(benchmark_sleep_s=0.1)) as (server, (device,)):
        env = adb_env(server)
        client = Device(device.serial, server.address)

        def bare():
            return subprocess.Popen(adb_argv(server, "-s", device.serial, "shell", "benchmark_model",
                                             "--graph=/dev/null", f"--num_runs={SLEEP_RUNS}", "--warmup_runs=1"),
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def mai():
            return subprocess.Popen(mai_bench_argv(server, device, "--runs", str(SLEEP_RUNS), "--warmup", "1"),
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

        if mai().wait() != 0:  # stages the model and the wrapper
            raise SystemExit("mai-bench run failed on the loopback device")
        device = loopback.set_faults(device, Faults(benchmark_sleep_s=SLEEP_S))
        rows = [("bare `adb shell benchmark_model` (reference)", during_run(device, client, bare)),
                ("mai-bench run", during_run(device, client, mai))]
    print(f"| during a {SLEEP_S:g} s timed run (stand-in), per second | processes started | harness wake-ups |")
    print("|---|---|---|")
    for name, (procs, wakes) in rows:
        print(f"| {name} | {procs:.2f} | {wakes:.2f} |")
    procs = rows[1][1][0]
    print(f"\nprocesses started per second by mai-bench during the timed run: {procs:.2f} (goal <= {PROCESS_GOAL:g}: "
          f"{'met' if procs <= PROCESS_GOAL else 'NOT met'})")


def bare_avg_ms(server, device, env, *flags: str) -> float:
    out = subprocess.run(adb_argv(server, "-s", device.serial, "shell", "benchmark_model", *flags),
                         env=env, capture_output=True, text=True, check=True).stdout
    return parse_log(out).inference_avg_us / 1000


def mai_avg_ms(server, device, env, *flags: str) -> float:
    proc = subprocess.run(mai_bench_argv(server, device, *flags), env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"mai-bench run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)["latency_ms"]["avg"]


def abba(bare, mai, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Each round: bare, mai-bench, mai-bench, bare (drift hits both alike); the averages and each round's ratio."""
    bares, mais, ratios = [], [], []
    for _ in range(rounds):
        a1, m1, m2, a2 = bare(), mai(), mai(), bare()
        bares += [a1, a2]
        mais += [m1, m2]
        ratios.append((m1 + m2) / (a1 + a2))
    return bares, mais, ratios


def print_ratio(title: str, bares: list[float], mais: list[float], ratios: list[float]) -> None:
    med = statistics.median
    print(f"\n| {title} | ms |\n|---|---|")
    print(f"| bare `adb shell benchmark_model`, reported average (median; range) | {med(bares):.2f} "
          f"({min(bares):.2f}-{max(bares):.2f}) |")
    print(f"| mai-bench run, reported average (median; range) | {med(mais):.2f} ({min(mais):.2f}-{max(mais):.2f}) |")
    ratio = med(ratios)
    print(f"\nmai-bench / bare, median of the rounds' ratios: {ratio:.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}; "
          f"goal within {RATIO_GOAL:.0%}: {'met' if abs(ratio - 1) <= RATIO_GOAL else 'NOT met'})")


def reported_average() -> None:
    """The stand-in (timed sleeps: what the harness does to the device's scheduling) and the real runner."""
    with loopback_devices(1, Faults(benchmark_sleep_s=STANDIN_S)) as (server, (device,)):
        env = adb_env(server)
        flags = [f"--num_runs={STANDIN_RUNS}", "--warmup_runs=1"]
        mai_avg_ms(server, device, env, "--runs", str(STANDIN_RUNS), "--warmup", "1")  # stages the model
        print_ratio(f"stand-in: {STANDIN_RUNS} timed sleeps of {STANDIN_S / (STANDIN_RUNS + 1) * 1000:.0f} ms, "
                    f"{ROUNDS} ABBA rounds",
                    *abba(lambda: bare_avg_ms(server, device, env, "--graph=/dev/null", *flags),
                          lambda: mai_avg_ms(server, device, env, "--runs", str(STANDIN_RUNS), "--warmup", "1"),
                          ROUNDS))
        device = loopback.set_faults(device, Faults())
        remote_model = "/data/local/tmp/bare/" + MODEL.name
        subprocess.run(adb_argv(server, "-s", device.serial, "push", str(MODEL), remote_model), env=env, check=True,
                       capture_output=True)
        flags = [f"--graph={remote_model}", f"--num_runs={RUNS}", "--warmup_runs=1", "--min_secs=0", "--max_secs=150",
                 f"--num_threads={THREADS}", "--use_xnnpack=true"]
        mine = ("--runs", str(RUNS), "--warmup", "1", "--threads", str(THREADS))
        mai_avg_ms(server, device, env, *mine)
        print_ratio(f"MicroISP 1.0, Full HD, host runner (LiteRT), {THREADS} threads, {RUNS} runs, {ROUNDS} ABBA "
                    "rounds", *abba(lambda: bare_avg_ms(server, device, env, *flags),
                                    lambda: mai_avg_ms(server, device, env, *mine), ROUNDS))


def main() -> None:
    selected = sys.argv[1:] or ["processes", "average"]
    if "processes" in selected:
        disturbance()
    if "average" in selected:
        reported_average()


if __name__ == "__main__":
    main()
