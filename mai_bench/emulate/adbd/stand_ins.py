"""Programs preinstalled in a loopback device's /system/bin that need Python, run as
`python -m mai_bench.emulate.adbd.stand_ins STATE_DIR TOOL ARGS...` by the device's launcher (see
`system_bin`); STATE_DIR is the device's `.loopback` folder, as the running program sees it.

`benchmark_model` appends its exact argv and its LD_LIBRARY_PATH as one JSON line to the argv log, then, by the
device's current faults: execs the host runner (mai_bench.emulate.host_runner, real LiteRT on the host CPU, and
LiteRT's GPU accelerator on the host's Vulkan device for --use_gpu=true unless the spec says `gpu: false`); or
prints the tool's start lines, "Segmentation fault" and exits 139 (crashing_benchmark); or spends
benchmark_sleep_s in timed sleeps, one per warm-up and timed run, and prints a benchmark_model log of those
measured sleeps (orchestration benchmarks); or prints a recorded log and exits with its exit code.
`df` reports no free space while storage_full_after_bytes is set, else runs toybox's df (the host's on a
lenient device).
`setsid` (lenient devices only; a faithful one has toybox's) detaches its command from the shell's process
group but keeps it in the device's session, so a detached run is still found, and stopped, with the device.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.errors import MaiBenchError

SEGFAULT_EXIT = 139


def main(argv: list[str]) -> int:
    root, tool, args = Path(os.path.abspath(argv[0])).parent, argv[1], argv[2:]
    if tool == "setsid":
        return setsid(args)
    try:
        faults = sandbox.read_faults(root, recorded_log=sandbox.RECORDED_LOG)
    except (OSError, ValueError, MaiBenchError) as error:
        print(f"{tool} (mai-bench loopback stand-in): cannot read the device's faults: {error}", file=sys.stderr)
        return 1
    if tool == "benchmark_model":
        return benchmark_model(root, faults, args)
    if tool == "df":
        return df(root, faults, args)
    print(f"{tool}: not a mai-bench stand-in", file=sys.stderr)
    return 127


def benchmark_model(root: Path, faults: Faults, args: list[str]) -> int:
    record = json.dumps({"argv": args, "cwd": os.getcwd(), "pid": os.getpid(), "time": time.time(),
                         "ld_library_path": os.environ.get("LD_LIBRARY_PATH")})
    fd = os.open(root / sandbox.ARGV_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (record + "\n").encode("utf-8", errors="surrogateescape"))
    finally:
        os.close(fd)
    if faults.benchmark_log_file is not None:
        sys.stdout.buffer.write(Path(faults.benchmark_log_file).read_bytes())
        sys.stdout.flush()
        return faults.benchmark_exit_code
    flags = _flags(args)
    if faults.crashing_benchmark:
        _print_start(flags)
        _say("Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding "
             "150 seconds.")
        sys.stdout.flush()
        print("Segmentation fault", file=sys.stderr, flush=True)
        return SEGFAULT_EXIT
    if faults.benchmark_sleep_s is not None:
        return _sleeping_benchmark(flags, faults.benchmark_sleep_s)
    runner = [sys.executable, "-m", "mai_bench.emulate.host_runner", *args]
    os.execve(sys.executable, runner, runner_env(root, os.environ))


def runner_env(root: Path, env: dict[str, str]) -> dict[str, str]:
    """The host runner's environment on this device: a spec with `gpu: false` makes the GPU absent (a phone whose
    benchmark_model cannot create the GPU delegate); otherwise the runner finds the Vulkan device the device can
    see itself (`mai_bench.gpu.vulkan`), with a private XDG_RUNTIME_DIR in the stand-ins' run folder, not in
    the shell user's /data/local/tmp."""
    from mai_bench.emulate.runner.gpu import GPU_ABSENT_ENV

    env = dict(env)
    try:
        has_gpu = sandbox.read_spec(root).gpu
    except (OSError, ValueError, KeyError, MaiBenchError):
        has_gpu = True  # no spec to read: the default, a device with the host's GPU path
    if not has_gpu:
        env[GPU_ABSENT_ENV] = "1"
        return env
    runtime = root / sandbox.STATE_DIR / sandbox.RUN_DIR / "xdg-runtime"
    try:
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    except OSError:
        pass  # the runner makes one of its own
    return env


def df(root: Path, faults: Faults, args: list[str]) -> int:
    if faults.storage_full_after_bytes is None:
        for candidate in (str(root / "system/bin/toybox"), "/bin/df", "/usr/bin/df"):
            if os.path.exists(candidate):
                os.execv(candidate, ["df", *args])
        print("df: not found", file=sys.stderr)
        return 127
    print("Filesystem      1K-blocks    Used Available Use% Mounted on")
    print("/dev/block/dm-0    1048576 1048576         0 100% /data")
    return 0


def setsid(args: list[str]) -> int:
    if not args:
        print("usage: setsid COMMAND [ARG...]", file=sys.stderr)
        return 1
    os.setpgid(0, 0)
    try:
        os.execvp(args[0], args)
    except OSError as error:
        print(f"setsid: {args[0]}: {error.strerror}", file=sys.stderr)
        return 127


def _flags(args: list[str]) -> dict[str, str]:
    flags = {}
    for arg in args:
        name, sep, value = arg.lstrip("-").partition("=")
        if arg.startswith("--") and sep:
            flags[name] = value
    return flags


def _say(line: str) -> None:
    print("INFO: " + line)


def _print_start(flags: dict[str, str]) -> None:
    graph = flags.get("graph", "")
    _say("STARTING!")
    _say("Log parameter values verbosely: [0]")
    if "num_runs" in flags:
        _say(f"Min num runs: [{flags['num_runs']}]")
    _say(f"Graph: [{graph}]")
    _say(f"Loaded model {graph}")
    _say("Initialized TensorFlow Lite runtime.")
    try:
        size_mb = os.path.getsize(graph) / 1e6
    except OSError:
        size_mb = 0.0
    _say(f"The input model file size (MB): {size_mb:g}")
    _say("Initialized session in 1.5ms.")


def _sleeping_benchmark(flags: dict[str, str], total_s: float) -> int:
    num_runs = max(1, int(flags.get("num_runs", 50)))
    warmup_runs = max(1, int(flags.get("warmup_runs", 1)))
    per_run = total_s / (num_runs + warmup_runs)
    _print_start(flags)
    _say(f"Running benchmark for at least {warmup_runs} iterations and at least 0 seconds but terminate if "
         "exceeding 150 seconds.")
    warmup = _timed_sleeps(warmup_runs, per_run)
    _say(_stat_line(warmup))
    _say(f"Running benchmark for at least {num_runs} iterations and at least 0 seconds but terminate if "
         "exceeding 150 seconds.")
    timed = _timed_sleeps(num_runs, per_run)
    _say(_stat_line(timed))
    _say(f"Inference timings in us: Init: 1500, First inference: {warmup[0]}, "
         f"Warmup (avg): {_g(sum(warmup) / len(warmup))}, Inference (avg): {_g(sum(timed) / len(timed))}")
    sys.stdout.flush()
    return 0


def _timed_sleeps(count: int, seconds: float) -> list[int]:
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        time.sleep(seconds)
        samples.append((time.perf_counter_ns() - start) // 1000)
    return samples


def _stat_line(samples: list[int]) -> str:
    # tsl StatsCalculator format: population std, nearest-rank percentiles on the sorted samples.
    ordered = sorted(samples)
    n = len(ordered)
    avg = sum(ordered) / n
    std = int(math.sqrt(sum((s - avg) ** 2 for s in ordered) / n))

    def pct(q: float) -> int:
        return ordered[min(n - 1, int(q / 100 * n))]

    return (f"count={n} first={samples[0]} curr={samples[-1]} min={ordered[0]} max={ordered[-1]} avg={_g(avg)} "
            f"std={std} p5={pct(5)} median={pct(50)} p95={pct(95)}")


def _g(value: float) -> str:
    return f"{value:g}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
