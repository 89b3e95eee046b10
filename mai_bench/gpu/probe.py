"""Ask LiteRT's GPU accelerator what it would do with a model, without running it: compile only.

`probe_model` runs `python -m mai_bench.gpu.probe MODEL` in a child process (the accelerator writes to the
process's file descriptors and loads Vulkan once per process) with the Vulkan device found by `vulkan`, and
returns a `Probe`. Compiling is cheap even on SwiftShader (about 0.5 s for MicroISP 1.0 at Full HD): shaders are
built by the first run, which this never does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mai_bench.gpu.accelerator import GpuDecision
from mai_bench.gpu.vulkan import HostGpu, host_gpu

PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Probe:
    """The accelerator's decision for one model on this host's Vulkan device; `error` when it could not say."""

    gpu: HostGpu
    decision: GpuDecision | None
    error: str | None
    seconds: float
    input_shape: tuple[int, ...] | None

    @property
    def available(self) -> bool:
        return self.gpu.device is not None

    def to_dict(self) -> dict[str, Any]:
        return {"vulkan": self.gpu.to_dict(), "decision": None if self.decision is None else self.decision.to_dict(),
                "error": self.error, "seconds": round(self.seconds, 3),
                "input_shape": None if self.input_shape is None else list(self.input_shape)}


class PendingProbe:
    """A probe started in the background (`start_probe`); `result()` waits for it."""

    def __init__(self, gpu: HostGpu, proc: subprocess.Popen | None, started: float,
                 input_shape: tuple[int, ...] | None, error: str | None = None):
        self.gpu, self.proc, self.started, self.input_shape, self.error = gpu, proc, started, input_shape, error

    def result(self, timeout: float = PROBE_TIMEOUT_S) -> Probe:
        if self.proc is None:
            return Probe(self.gpu, None, self.error, time.perf_counter() - self.started, self.input_shape)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            return Probe(self.gpu, None, f"the GPU accelerator did not finish compiling within {timeout:g} s",
                         time.perf_counter() - self.started, self.input_shape)
        seconds = time.perf_counter() - self.started
        try:
            answer = json.loads(out.decode("utf-8", errors="replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = err.decode("utf-8", errors="replace").strip().splitlines()[-3:]
            return Probe(self.gpu, None, f"the GPU probe failed (exit {self.proc.returncode}): " + " | ".join(tail),
                         seconds, self.input_shape)
        decision = GpuDecision(**{**answer["decision"], "unsupported": tuple(
            (u["op"], u["reason"]) for u in answer["decision"]["unsupported"]), "errors": tuple(
            answer["decision"]["errors"]), "lines": tuple(answer["decision"]["lines"])})
        return Probe(self.gpu, decision, answer.get("error"), seconds, self.input_shape)


def start_probe(model: str | Path, input_shape: tuple[int, ...] | None = None,
                precision: str | None = None) -> PendingProbe:
    """Start compiling `model` for the GPU accelerator in a child process (see the module docstring)."""
    started = time.perf_counter()
    gpu = host_gpu()
    if gpu.device is None:
        return PendingProbe(gpu, None, started, input_shape, f"no Vulkan device on this host: {gpu.describe()}")
    argv = [sys.executable, "-m", "mai_bench.gpu.probe", str(model)]
    if input_shape is not None:
        argv.append("--input-shape=" + ",".join(map(str, input_shape)))
    if precision is not None:
        argv.append(f"--precision={precision}")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=gpu.env())
    except OSError as error:
        return PendingProbe(gpu, None, started, input_shape, f"cannot start the GPU probe: {error}")
    return PendingProbe(gpu, proc, started, input_shape)


def probe_model(model: str | Path, input_shape: tuple[int, ...] | None = None,
                precision: str | None = None) -> Probe:
    return start_probe(model, input_shape, precision).result()


def _decision_fields(decision: GpuDecision) -> dict[str, Any]:
    data = decision.to_dict()
    data.pop("software")
    return data


def main(argv: list[str]) -> int:
    from mai_bench.gpu.accelerator import NativeCapture, compile_on_gpu
    from mai_bench.gpu.vulkan import prepare_this_process

    path = argv[0]
    options = dict(arg[2:].split("=", 1) for arg in argv[1:] if arg.startswith("--") and "=" in arg)
    shape = tuple(int(d) for d in options["input-shape"].split(",")) if "input-shape" in options else None
    prepare_this_process()
    with NativeCapture() as capture:
        compiled = compile_on_gpu(path, capture, precision=options.get("precision"), input_shape=shape)
        decision = compiled.decision()
    answer = {"decision": _decision_fields(decision), "error": compiled.error}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
