"""Run benchmark_model's contract somewhere and collect its raw output, with what produced it.

The host session runs the bundled host runner (real LiteRT on this machine's CPU) in a child process.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mai_bench import __version__
from mai_bench.errors import InfraError
from mai_bench.hashing import sha256_of_files
from mai_bench.plan import RunPlan
from mai_bench.results.schema import BinaryRef, DeviceRef

# Time allowed for start-up and model initialisation on top of the plan's own limits (Full-HD models take
# seconds to allocate on this class of machine).
INIT_ALLOWANCE_S = 120.0


@dataclass(frozen=True)
class RawRun:
    """What a benchmark run printed (stdout and stderr in order), how it ended, and the exact argv."""

    argv: tuple[str, ...]
    output: str
    exit_code: int | None
    duration_s: float
    timed_out: bool = False


def run_timeout(plan: RunPlan) -> float:
    """The wall-clock limit of one run: the plan's, else warm-up and timed phases may each take max_secs."""
    return plan.time_limit_s if plan.time_limit_s is not None else 2 * plan.max_secs + INIT_ALLOWANCE_S


def host_runner_argv() -> list[str]:
    return [sys.executable, "-m", "mai_bench.emulate.host_runner"]


def run_on_host(plan: RunPlan, model: Path, timeout: float | None = None,
                env: dict[str, str] | None = None, extra_argv: tuple[str, ...] = ()) -> RawRun:
    """Run the host runner on `model` with the plan's flags and `extra_argv` (in `env`, default this process's
    environment); never raises for what the runner itself does."""
    argv = host_runner_argv() + plan.benchmark_flags(str(model)) + list(extra_argv)
    limit = run_timeout(plan) if timeout is None else timeout
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
    except OSError as error:
        raise InfraError(f"cannot start the host runner: {error}", "reinstall mai-bench") from None
    try:
        out, _ = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return RawRun(argv=tuple(argv), output=out.decode("utf-8", errors="replace"),
                  exit_code=None if timed_out else proc.returncode,
                  duration_s=time.perf_counter() - started, timed_out=timed_out)


@lru_cache(maxsize=1)
def host_binary() -> BinaryRef:
    """The host runner identifies itself by the sha256 of all its sources and the LiteRT it runs on."""
    from importlib import metadata

    import mai_bench.emulate.host_runner as runner
    import mai_bench.emulate.runner as parts
    import mai_bench.gpu as gpu_parts

    path = Path(runner.__file__)
    # The entry point and every module of its package (and of mai_bench.gpu, which drives the GPU accelerator),
    # by name relative to mai_bench/emulate, so that a change to any of them (or a module added or removed)
    # changes the runner's identity.
    files = [path, *Path(parts.__file__).parent.glob("*.py"), *sorted(Path(gpu_parts.__file__).parent.glob("*.py"))]
    sha256, _ = sha256_of_files((os.path.relpath(f, path.parent), f) for f in files)
    try:
        litert = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        litert = "unknown"
    return BinaryRef(name="mai-bench-runner", sha256=sha256, path=str(path),
                     version=f"mai-bench {__version__}; ai-edge-litert {litert}; python {platform.python_version()}")


@lru_cache(maxsize=1)
def host_device() -> DeviceRef:
    """This machine as a benchmark device: its CPU, core count and OS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    props = {"cpu": cpu, "cores": str(os.cpu_count() or 0), "os": platform.platform(), "machine": platform.machine()}
    return DeviceRef(serial="local", backend="host", soc=cpu, profile=None, emulated=False, properties=props)
