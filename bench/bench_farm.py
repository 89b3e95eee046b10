"""Farm orchestration: four loopback devices on two adb servers whose benchmark_model sleeps a fixed time, so the
figures measure mai-bench, not the host CPU.

- parallel efficiency: one device alone doing its share of the jobs, divided by the farm's wall time for all
  four devices (1.0 = perfect; goal >= 0.85);
- per-job orchestration overhead: a job's wall time minus the time of the stand-in benchmark itself run
  straight through `adb shell` (staging check, lock, thermal reading, detached start, wait, log, clean-up).

Reference in the same run: the stand-in run through `adb shell` without mai-bench, so the noise of a shared
machine shows in every figure.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mai_bench.device import adb_server
from mai_bench.device.device import Device
from mai_bench.emulate import loopback
from mai_bench.emulate.adbd.spec import Faults, load_spec
from mai_bench.farm.plan import expand, load_plan
from mai_bench.farm.session import device_resolver, run_plan_file

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "fixtures" / "models"
SLEEP_S = 2.0  # the stand-in benchmark's duration per job
REPEAT = 3
GOAL = 0.85


def write_plan(path: Path, servers, devices: list[str]) -> Path:
    plan = {"servers": [s.address for s in servers],
            "models": [str(MODELS / "tiny_isp.tflite"), str(MODELS / "tiny_isp_fullhd.tflite")],
            "devices": devices, "delegates": ["xnnpack", "cpu"], "runs": 4, "warmup": 1, "min_secs": 0,
            "input_shape": [1, 32, 32, 4], "thermal": {"cooldown_timeout_s": 0}}
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def farm_wall(plan: Path, out: Path) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    outcome = run_plan_file(plan, out_dir=out)
    wall = time.perf_counter() - start
    if outcome.exit_code != 0:
        raise SystemExit(f"the farm failed (exit {outcome.exit_code}); see {out / 'summary.md'}")
    return wall, outcome.run.ran


def start_s(plan_file: Path) -> float:
    """A farm's fixed start: plan, model preflight on the host, device discovery and expansion."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        plan = load_plan(plan_file)
        expand(plan, device_resolver(plan))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bare_tool_s(device: Device) -> float:
    """The stand-in benchmark run straight through `adb shell`, as a job's floor."""
    argv = ["benchmark_model", "--graph=/dev/null", "--num_runs=4", "--warmup_runs=1"]
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        device.shell(argv, 60, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mai-bench-bench-farm-") as tmp:
        root = Path(tmp)
        servers = [adb_server.start_server(root / f"home{i}") for i in range(2)]
        devices = []
        try:
            spec = load_spec("loopback-sm8450").with_faults(Faults(benchmark_sleep_s=SLEEP_S))
            devices = loopback.start_devices(spec, [root / f"device{i}" for i in range(4)])
            loopback.connect_devices(servers[0], devices[:2])
            loopback.connect_devices(servers[1], devices[2:])
            single = write_plan(root / "single.yaml", servers, [f"{servers[0].address}/{devices[0].serial}"])
            whole = write_plan(root / "whole.yaml", servers, ["sm8450"])
            farm_wall(single, root / "warm")  # first pushes fill the devices' content caches
            farm_wall(whole, root / "warm")
            tool = bare_tool_s(Device(devices[0].serial, servers[0].address))
            fixed = start_s(whole)
            alone, together = [], []
            for _ in range(REPEAT):
                wall, jobs = farm_wall(single, root / "single")
                alone.append((wall, jobs))
                together.append(farm_wall(whole, root / "farm"))
        finally:
            for device in devices:
                loopback.stop_device(device)
            for server in servers:
                adb_server.stop_server(server)
    alone_s = statistics.median(w for w, _ in alone)
    farm_s = statistics.median(w for w, _ in together)
    share = alone[0][1]
    efficiency = alone_s / farm_s
    per_job = (alone_s - fixed) / share
    print(f"| figure | median of {REPEAT} |\n|---|---|")
    print(f"| stand-in benchmark through `adb shell` (reference) | {tool:.2f} s |")
    print(f"| one device alone, its share ({share} jobs) | {alone_s:.2f} s |")
    print(f"| farm, 4 devices on 2 adb servers ({together[0][1]} jobs) | {farm_s:.2f} s |")
    print(f"| parallel efficiency (alone / farm) | {efficiency:.3f} |")
    print(f"| farm start: plan, preflight, discovery of 4 devices | {fixed * 1000:.0f} ms |")
    print(f"| wall time per job (one device, start excluded) | {per_job:.2f} s |")
    print(f"| orchestration overhead per job (minus the reference) | {(per_job - tool) * 1000:.0f} ms |")
    print(f"\ngoal: parallel efficiency >= {GOAL} -> {'met' if efficiency >= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
