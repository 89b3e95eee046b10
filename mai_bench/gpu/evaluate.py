"""`mai-bench eval --delegate gpu`: score LiteRT's GPU accelerator's outputs, and what they cost against the CPU.

Every pair runs twice: on the GPU accelerator (in its own process, `infer.GpuRunner`) and on the CPU in FP32
(LiteRT's Interpreter, the ordinary `eval`). The scores against the targets are the GPU's; beside them, per
image, the GPU output's error against the CPU output (max absolute error, PSNR against it) and the CPU's own
PSNR/SSIM, so a report shows what the GPU path costs in fidelity.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

from mai_bench.errors import ModelError
from mai_bench.fidelity.evaluate import check_output_shape
from mai_bench.fidelity.metrics import json_psnr, metrics
from mai_bench.fidelity.rawdata import load_pair
from mai_bench.gpu.numerics import REFERENCE, compare, precision_label


def evaluate_on_gpu(model: Any, cpu: Any, pairs: Any, threads: int, precision: str | None,
                    progress: Callable[[int, int], None] | None, score: Callable[..., Any]) -> tuple[list, dict]:
    """The GPU's ImageScores and the `gpu` record of the Evaluation."""
    from mai_bench.gpu.infer import GpuRunner

    if model.inputs[0].dtype != "float32" or model.outputs[0].dtype != "float32":
        raise ModelError(f"{model.path.name} has {model.inputs[0].dtype} input / {model.outputs[0].dtype} output; "
                         "eval --delegate gpu compares float32 models", "evaluate it with --delegate cpu")
    scores, per_image = [], []
    with GpuRunner(model.path, precision) as gpu:
        for files in pairs:
            pair = load_pair(files)
            on_cpu = cpu.run(pair)
            on_gpu = gpu.infer(pair.raw)
            check_output_shape(f"on the GPU {model.path.name}", on_gpu, pair)
            mine = score(files, pair, on_gpu[0], threads)
            theirs = metrics(on_cpu, pair.target, threads=threads)
            scores.append(mine)
            per_image.append({"name": files.name, **compare(on_gpu[0], on_cpu), "cpu_psnr": json_psnr(theirs.psnr),
                              "cpu_ssim": theirs.ssim})
            if progress is not None:
                progress(len(scores), len(pairs))
        decision = gpu.decision
        device = gpu.gpu.device.to_dict() if gpu.gpu.device else None
    finite = [p["cpu_psnr"] for p in per_image if p["cpu_psnr"] is not None]
    errors = [p["max_abs_error"] for p in per_image if "max_abs_error" in p]
    record = {"reference": REFERENCE, "precision": precision_label(precision), "vulkan": device,
              "accelerator": decision, "max_abs_error": max(errors) if errors else None,
              "cpu_mean_psnr": statistics.fmean(finite) if len(finite) == len(per_image) else None,
              "cpu_mean_ssim": statistics.fmean(p["cpu_ssim"] for p in per_image),
              "per_image": per_image}
    return scores, record
