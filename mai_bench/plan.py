"""Frozen run settings, and how they become benchmark_model flags.

A plan says what to measure (model, delegate, run counts, shape); it knows nothing about where it runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.errors import UsageError


DELEGATES = ("gpu", "nnapi", "hexagon", "xnnpack", "cpu")
# The delegates that are acceleration: one that does not take the whole graph leaves it (or part of it) to the CPU.
ACCELERATORS = ("gpu", "nnapi", "hexagon")
GPU_BACKENDS = ("cl", "gl")
PRECISIONS = ("fp16", "fp32")
# benchmark_model's --num_threads defaults to -1, "the runtime decides", which runs the CPU kernels (XNNPACK's
# included) on one thread.
DEFAULT_CPU_THREADS = 1
# The benchmark_model flags (without dashes) and the setting each one carries: what is lost when a binary ignores
# the flag. Some are not flags mai-bench passes, but flags of the same kind in other people's logs.
FLAG_SETTINGS = {
    "num_threads": "threads",
    "use_gpu": "delegate", "use_nnapi": "delegate", "use_hexagon": "delegate", "use_xnnpack": "delegate",
    "gpu_backend": "delegate", "nnapi_accelerator_name": "delegate", "hexagon_lib_path": "delegate",
    "gpu_precision_loss_allowed": "precision", "nnapi_allow_fp16": "precision", "allow_fp16": "precision",
    "xnnpack_force_fp16": "precision",
    "num_runs": "runs", "warmup_runs": "warmup", "min_secs": "min_secs", "max_secs": "max_secs",
    "input_layer": "input_shape", "input_layer_shape": "input_shape",
    "input_layer_value_files": "fidelity_input", "output_filepath": "fidelity_output",
    "enable_op_profiling": "op_profiling", "report_peak_memory_footprint": "peak_memory",
    "require_full_delegation": "no_cpu_fallback",
}
# A binary that ignored one of these measured another configuration than the one asked for.
DECISIVE_SETTINGS = ("delegate", "precision")


@dataclass(frozen=True)
class RunPlan:
    """What one benchmark run does. Values are checked when built."""

    delegate: str = "xnnpack"
    threads: int | None = None
    runs: int = 50
    warmup: int = 1
    min_secs: float = 1.0
    max_secs: float = 150.0
    input_shape: tuple[int, ...] = FULL_HD_INPUT
    resize_input: bool = False
    input_name: str | None = None  # benchmark_model wants --input_layer beside --input_layer_shape
    gpu_backend: str | None = None
    precision: str | None = None
    nnapi_accelerator: str | None = None
    hexagon_lib_path: str | None = None
    op_profiling: bool = False
    # benchmark_model's --report_peak_memory_footprint samples the footprint from a thread throughout the run,
    # which its own documentation says can affect the timings: only when asked for.
    peak_memory: bool = False
    allow_fallback: bool = False
    time_limit_s: float | None = None  # wall clock for the whole run; None: both phases' max_secs + start-up
    extra_flags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.delegate not in DELEGATES:
            raise UsageError(f"unknown delegate {self.delegate!r}", f"use one of: {', '.join(DELEGATES)}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {self.threads}", "pass --threads 1 or more")
        if self.runs < 1:
            raise UsageError(f"--runs must be at least 1, got {self.runs}", "pass --runs 1 or more")
        if self.warmup < 0:
            raise UsageError(f"--warmup must be 0 or more, got {self.warmup}", "pass --warmup 0 or more")
        if self.min_secs < 0 or self.max_secs <= 0:
            raise UsageError("--min-secs must be >= 0 and the time limit > 0", "check --min-secs")
        if self.gpu_backend is not None and self.gpu_backend not in GPU_BACKENDS:
            raise UsageError(f"unknown GPU backend {self.gpu_backend!r}", "use --gpu-backend cl or gl")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r}", "use --precision fp16 or fp32")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise UsageError(f"the run time limit must be positive, got {self.time_limit_s}", "pass --run-timeout > 0")
        if any(d < 1 for d in self.input_shape):
            raise UsageError(f"input shape {self.input_shape} has a dimension below 1", "give positive dims")

    def benchmark_flags(self, graph: str) -> list[str]:
        """The benchmark_model argv (without the binary) for this plan, `graph` being the model's path there."""
        flags = [f"--graph={graph}"]
        if self.resize_input:
            if not self.input_name:
                raise UsageError("resizing the input needs the input tensor's name", "read the model first")
            flags.append(f"--input_layer={self.input_name}")
            flags.append("--input_layer_shape=" + ",".join(str(d) for d in self.input_shape))
        flags += [f"--num_runs={self.runs}", f"--warmup_runs={self.warmup}", f"--min_secs={_num(self.min_secs)}",
                  f"--max_secs={_num(self.max_secs)}"]
        if self.threads is not None:
            flags.append(f"--num_threads={self.threads}")
        flags += self._delegate_flags()
        if self.op_profiling:
            flags.append("--enable_op_profiling=true")
        if self.peak_memory:
            flags.append("--report_peak_memory_footprint=true")
        flags += list(self.extra_flags)
        return flags

    def _delegate_flags(self) -> list[str]:
        d = self.delegate
        if d == "cpu":
            return ["--use_xnnpack=false"]
        if d == "xnnpack":
            return ["--use_xnnpack=true"]
        if self.stops_on_fallback:
            return self._accelerator_flags() + ["--require_full_delegation=true"]
        return self._accelerator_flags()

    def _accelerator_flags(self) -> list[str]:
        d = self.delegate
        if d == "gpu":
            flags = ["--use_gpu=true"]
            if self.gpu_backend:
                flags.append(f"--gpu_backend={self.gpu_backend}")
            if self.precision:
                flags.append(f"--gpu_precision_loss_allowed={'true' if self.precision == 'fp16' else 'false'}")
            return flags
        if d == "nnapi":
            flags = ["--use_nnapi=true"]
            if self.nnapi_accelerator:
                flags.append(f"--nnapi_accelerator_name={self.nnapi_accelerator}")
            if self.precision == "fp16":
                flags.append("--nnapi_allow_fp16=true")
            return flags
        flags = ["--use_hexagon=true"]
        if self.hexagon_lib_path:
            flags.append(f"--hexagon_lib_path={self.hexagon_lib_path}")
        return flags

    @property
    def stops_on_fallback(self) -> bool:
        """Whether a run that falls back to the CPU ends before its timed runs: a requested accelerator without
        --allow-fallback. benchmark_model is passed --require_full_delegation=true (and the device guards the
        builds that do not honour it), so no CPU fallback is ever timed in the delegate's place."""
        return self.delegate in ACCELERATORS and not self.allow_fallback

    def to_dict(self) -> dict:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["extra_flags"] = list(self.extra_flags)
        return data


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
