"""What the GPU path costs in numbers: the GPU accelerator's output against LiteRT's CPU FP32 output of the same
input (max and mean absolute error, PSNR against it with a peak of 1.0, the range of an ISP's RGB output)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

REFERENCE = "LiteRT on the CPU, FP32 (XNNPACK), same input"
RANDOM_INPUT = "benchmark_model's random input (std::mt19937 default seed, uniform in [-0.5, 0.5))"
_TOOL_RNG_SEED = 5489


def precision_label(precision: str | None) -> str:
    """How the GPU was asked to compute: --precision fp32 sets the accelerator's enforce_f32."""
    if precision == "fp32":
        return "fp32 (enforce_f32)"
    return "fp16 allowed (benchmark_model's default; the device decides)"


def compare(gpu: np.ndarray, cpu: np.ndarray) -> dict[str, Any]:
    """Error of `gpu` against `cpu` (same shape): max and mean absolute error, PSNR in dB (peak 1.0; None when
    identical, with a note)."""
    if gpu.shape != cpu.shape:
        return {"error": f"the GPU output is {list(gpu.shape)}, the CPU output {list(cpu.shape)}"}
    g, c = gpu.astype(np.float64), cpu.astype(np.float64)
    if not np.isfinite(g).all():
        return {"error": "the GPU output holds NaN or infinite values"}
    diff = np.abs(g - c)
    mse = float(np.mean(diff ** 2))
    record: dict[str, Any] = {"max_abs_error": float(diff.max()), "mean_abs_error": float(diff.mean()),
                              "psnr_db": None if mse == 0 else 10 * math.log10(1.0 / mse), "elements": int(g.size)}
    if mse == 0:
        record["psnr_note"] = "identical outputs (PSNR is infinite)"
    return record


def tool_random_input(name: str, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The first input benchmark_model (and the host runner) fills with random data, reproduced."""
    from mai_bench.emulate.runner.inputs import random_tensor

    return random_tensor(np.random.RandomState(_TOOL_RNG_SEED), name, np.dtype(dtype), tuple(shape), None)


def gpu_vs_cpu_on_random_input(output: bytes, model: Any, input_shape: tuple[int, ...], precision: str | None,
                               threads: int = 2) -> dict[str, Any]:
    """The GPU run's output (the bytes it wrote with --output_filepath) against LiteRT's CPU FP32 output for the
    same random input."""
    from mai_bench.errors import MaiBenchError
    from mai_bench.fidelity.evaluate import HostRunner

    record: dict[str, Any] = {"reference": REFERENCE, "input": RANDOM_INPUT, "precision": precision_label(precision)}
    source = model.inputs[0]
    if source.dtype != "float32" or len(model.outputs) != 1 or model.outputs[0].dtype != "float32":
        record["error"] = "compared only for one float32 input and one float32 output"
        return record
    x = tool_random_input(source.name, np.float32, input_shape)
    try:
        cpu = HostRunner(model, threads).infer(x[0])
    except MaiBenchError as error:
        record["error"] = f"the CPU reference did not run: {error.message}"
        return record
    if len(output) != cpu.size * 4:
        record["error"] = f"the GPU run wrote {len(output)} output bytes; float32 {list(cpu.shape)} is {cpu.size * 4}"
        return record
    gpu = np.frombuffer(output, dtype="<f4").reshape(cpu.shape)
    record.update(compare(gpu, cpu))
    return record
