"""SSIM on one Full-HD pair (1088x1920x3): mai-bench's against skimage's Gaussian SSIM, the same definition
(goal: at least 3.5x faster than skimage in float64), and a plain scipy float32 version.

All variants run in the same process, interleaved round by round, so the noise of a shared machine hits each
alike; the table shows medians and each variant's distance from the float64 reference value.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.metrics import structural_similarity
from skimage.transform import resize

from mai_bench.fidelity.metrics import ssim

ROUNDS = 7
SIZE = (1088, 1920)
GOAL = 3.5


def full_hd_pair() -> tuple[np.ndarray, np.ndarray]:
    target = resize(data.astronaut()[56:456], SIZE, order=1).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.05, target.shape).astype(np.float32)
    return np.clip(target + noise, 0, 1), target


def scipy_float32_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook way: five Gaussian-filtered maps per image with scipy.ndimage, float32, cropped to VALID."""
    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, 1.5, truncate=3.5, axes=(0, 1))[5:-5, 5:-5]

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    smap = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(smap.mean(axis=(0, 1)).mean())


def main() -> None:
    x, y = full_hd_pair()
    x64, y64 = x.astype(np.float64), y.astype(np.float64)

    def skimage_ssim(a, b):
        return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=1.0, channel_axis=-1)

    variants = {
        "mai-bench `ssim`, 2 threads": lambda: ssim(x, y, threads=2),
        "mai-bench `ssim`, 1 thread": lambda: ssim(x, y, threads=1),
        "skimage Gaussian SSIM, float64 (reference)": lambda: skimage_ssim(x64, y64),
        "skimage Gaussian SSIM, float32 input": lambda: skimage_ssim(x, y),
        "plain scipy.ndimage float32": lambda: scipy_float32_ssim(x, y),
    }
    values = {name: run() for name, run in variants.items()}  # also the warm-up round
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    reference = "skimage Gaussian SSIM, float64 (reference)"
    print(f"| SSIM of one 1088x1920x3 pair | median of {ROUNDS} | vs skimage float64 | |value - reference| |")
    print("|---|---|---|---|")
    for name in variants:
        print(f"| {name} | {medians[name] * 1000:.0f} ms | {medians[reference] / medians[name]:.2f}x | "
              f"{abs(values[name] - values[reference]):.1e} |")
    best = min(medians["mai-bench `ssim`, 2 threads"], medians["mai-bench `ssim`, 1 thread"])
    ratio = medians[reference] / best
    print(f"\ngoal: at least {GOAL}x faster than skimage's Gaussian SSIM -> {ratio:.1f}x, "
          f"{'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
