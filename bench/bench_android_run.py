"""mai-bench on a (loopback) device vs the bare way: a shell script doing `adb push` of the binary and the model,
then `adb shell benchmark_model` with the same flags. Same device, same model, same run.

1. The MicroISP 1.0 reference on the device's real host runner (LiteRT). Goals: first run at most 1.15x the
   script; a cached re-run faster than the script.
2. The CLI's own cost, measured where the benchmark takes the same time whatever the machine's load: the device's
   stand-in benchmark_model sleeps SLEEP_S (and prints a real-format log). Each round: a first run (the device's
   mai-bench folder removed: pushes the binary, the wrapper and the model), a cached re-run (pushes nothing) and
   `adb shell benchmark_model` with the same stand-in (reference). Overhead: a run's wall time minus the
   reference's. Goals: a cached re-run's overhead under 0.3 s; a cached re-run never slower than a first run.
   Also in process: measure_on_device's wall time minus the detached run's own.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback_env import adb_argv, adb_env, loopback_devices  # noqa: E402

from mai_bench.emulate import loopback  # noqa: E402
from mai_bench.emulate.adbd.spec import Faults  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "mai_bench" / "reference_models" / "microisp_1_0.tflite"  # the challenge reference, Full HD
FLAGS = ["--num_runs=3", "--warmup_runs=1", "--min_secs=0", "--max_secs=150", "--num_threads=2",
         "--use_xnnpack=true"]
REPEAT = 5
SLEEP_S = 1.0
CLI_ROUNDS = 9
# What `mai-bench run --device SERIAL --benchmark-binary B --json` imports (the CLI imports them as it goes).
RUN_MODULES = ("mai_bench.cli.main", "mai_bench.cli.run", "mai_bench.cli.console", "mai_bench.campaign",
               "mai_bench.device.discovery", "mai_bench.android.measure", "mai_bench.binaries.resolve",
               "mai_bench.results.store")


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with loopback_devices(1) as (server, (device,)):
        env = adb_env(server)
        binary = device.root / "system" / "bin" / "benchmark_model"  # a stand-in binary to push, as a user would
        remote_dir = "/data/local/tmp/bare"

        def script() -> float:
            start = time.perf_counter()
            for local in (binary, MODEL):
                subprocess.run(adb_argv(server, "-s", device.serial, "push", str(local), f"{remote_dir}/{local.name}"),
                               env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(adb_argv(server, "-s", device.serial, "shell", f"sh {remote_dir}/benchmark_model",
                                    f"--graph={remote_dir}/{MODEL.name}", *FLAGS),
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - start

        bench_only = adb_argv(server, "-s", device.serial, "shell", "/system/bin/benchmark_model",
                              f"--graph={remote_dir}/{MODEL.name}", *FLAGS)
        mai = [sys.executable, "-m", "mai_bench.cli.main", "run", str(MODEL), "--device", device.serial,
               "--adb-server", server.address, "--delegate", "xnnpack", "--runs", "3", "--warmup", "1",
               "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0", "--benchmark-binary", str(binary),
               "--json"]
        firsts, cached, scripts, bare = [], [], [], []
        for _ in range(REPEAT):
            subprocess.run(adb_argv(server, "-s", device.serial, "shell", "rm", "-rf", "/data/local/tmp/mai-bench",
                                    remote_dir), env=env, check=True)
            scripts.append(script())
            firsts.append(timed(mai, env))
            cached.append(timed(mai, env))
            bare.append(timed(bench_only, env))
        med = statistics.median
        print(f"| figure (median of {REPEAT}, MicroISP 1.0 reference, Full HD, 3 runs) | seconds |\n|---|---|")
        print(f"| bare script: adb push binary + model, adb shell benchmark_model | {med(scripts):.3f} |")
        print(f"| mai-bench first run (pushes binary, wrapper, model) | {med(firsts):.3f} |")
        print(f"| mai-bench cached re-run (pushes nothing) | {med(cached):.3f} |")
        print(f"| `adb shell benchmark_model` alone | {med(bare):.3f} |")
        print(f"\nfirst run / script: {med(firsts) / med(scripts):.2f}x (goal <= 1.15)")
        print(f"cached re-run / script: {med(cached) / med(scripts):.2f}x (goal < 1)")
        print(f"cached re-run minus `adb shell benchmark_model` alone: {med(cached) - med(bare):.3f} s (as noisy as "
              "the benchmark itself on a shared machine: part 2 measures this overhead)")
        device = loopback.set_faults(device, Faults(benchmark_sleep_s=SLEEP_S))
        cli_cost(server, device, env, mai)
        overhead = in_process_overhead(server, device, binary)
        print(f"cached re-run overhead in process (measure_on_device wall time minus the run's own, stand-in): "
              f"{overhead:.3f} s (goal < 0.3)")


def cli_cost(server, device, env: dict, mai: list[str]) -> None:
    """Part 2: the CLI's wall time over `adb shell benchmark_model`'s, both running the sleeping stand-in."""
    bare = adb_argv(server, "-s", device.serial, "shell", "/system/bin/benchmark_model", "--graph=/dev/null",
                    "--num_runs=3", "--warmup_runs=1")
    clear = adb_argv(server, "-s", device.serial, "shell", "rm", "-rf", "/data/local/tmp/mai-bench")
    firsts, cached = [], []
    for _ in range(CLI_ROUNDS):
        subprocess.run(clear, env=env, check=True)
        reference = timed(bare, env)
        firsts.append(timed(mai, env) - reference)
        cached.append(timed(mai, env) - timed(bare, env))
    imports = [timed([sys.executable, "-c", "import " + ", ".join(RUN_MODULES)], env) for _ in range(CLI_ROUNDS)]
    med = statistics.median
    print(f"\n| stand-in benchmark ({SLEEP_S:g} s), {CLI_ROUNDS} rounds | overhead over `adb shell benchmark_model`, "
          "median (range), s |\n|---|---|")
    print(f"| mai-bench first run (pushes binary, wrapper, model) | {med(firsts):.3f} ({min(firsts):.3f}-"
          f"{max(firsts):.3f}) |")
    print(f"| mai-bench cached re-run (pushes nothing) | {med(cached):.3f} ({min(cached):.3f}-{max(cached):.3f}) |")
    print(f"| of which: Python start-up and the imports of a device run | {med(imports):.3f} ({min(imports):.3f}-"
          f"{max(imports):.3f}) |")
    print(f"\ncached re-run overhead through the CLI (Python start-up and imports included): {med(cached):.3f} s "
          f"(goal < 0.3: {'met' if med(cached) < 0.3 else 'NOT met'}); cached / first: {med(cached) / med(firsts):.2f} "
          f"(goal <= 1: {'met' if med(cached) <= med(firsts) else 'NOT met'})")


def in_process_overhead(server, device, binary: Path) -> float:
    """measure_on_device's wall time minus the detached run's own duration, median of REPEAT cached re-runs."""
    from mai_bench.android.measure import DeviceRunOptions, measure_on_device
    from mai_bench.android.thermal import ThermalLimits
    from mai_bench.device.discovery import resolve_devices
    from mai_bench.device.address import parse_server
    from mai_bench.plan import RunPlan

    plan = RunPlan(delegate="xnnpack", runs=3, warmup=1, min_secs=0, threads=2)
    options = DeviceRunOptions(benchmark_binary=binary, thermal=ThermalLimits(max_wait_s=0))
    samples = []
    for _ in range(REPEAT + 1):
        start = time.perf_counter()
        (target,) = resolve_devices(device.serial, [parse_server(server.address)])
        result = measure_on_device(MODEL, plan, target, options)
        samples.append(time.perf_counter() - start - result.duration_s)
    return statistics.median(samples[1:])  # the first one pushes


if __name__ == "__main__":
    main()
