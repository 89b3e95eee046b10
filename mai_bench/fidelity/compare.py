"""PSNR and SSIM of two image files: `mai-bench metrics PRED TARGET`."""

from __future__ import annotations

from pathlib import Path

from mai_bench.errors import UsageError
from mai_bench.fidelity.images import read_rgb
from mai_bench.fidelity.metrics import Fidelity, metrics


def compare_files(pred: str | Path, target: str | Path, *, threads: int | None = None) -> Fidelity:
    """Read two RGB images (PNG, JPEG or TIFF; 8- or 16-bit, scaled by their bit depth) and score `pred`."""
    x, y = read_rgb(pred), read_rgb(target)
    if x.shape != y.shape:
        raise UsageError(f"{pred} is {x.shape[0]}x{x.shape[1]} but {target} is {y.shape[0]}x{y.shape[1]}",
                         "compare images of the same size")
    return metrics(x, y, threads=threads)
