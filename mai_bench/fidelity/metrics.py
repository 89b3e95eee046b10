"""PSNR and SSIM exactly as the challenge computed them (see docs/FIDELITY.md).

Both take a prediction and a target as float arrays [H, W, C] in [0, 1]; the prediction is clipped to [0, 1]
first, as a saved image would be. SSIM is the `tf.image.ssim(pred, target, max_val=1.0)` definition: 11x11
Gaussian window (sigma 1.5), K1 0.01, K2 0.03, VALID filtering, population covariance, mean over pixels and then
over channels, in float32.

SSIM runs the separable 11-tap filter in float32 over stripes of rows that stay in cache, spread over threads
(numpy releases the GIL inside each operation). It filters four maps per channel - x, y, x*y and x*x + y*y - as
TensorFlow does, and sums the SSIM map in float64.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from mai_bench.errors import UsageError

WINDOW = 11
SIGMA = 1.5
K1 = 0.01
K2 = 0.03
MAX_VAL = 1.0
PSNR_INF_NOTE = "the prediction equals the target: PSNR is infinite, shown as null"

_HALF = WINDOW // 2
_C1 = np.float32((K1 * MAX_VAL) ** 2)
_C2 = np.float32((K2 * MAX_VAL) ** 2)
# Output rows per stripe: 32 keeps a stripe's buffers (about 15 MB at Full HD) in the last-level cache and was the
# fastest of 4, 8, 16 and 32 rows on a 2-core x86 host.
_STRIPE_ROWS = 32
# Beyond a few threads numpy's per-call overhead and memory bandwidth dominate; each thread holds its own buffers.
_MAX_THREADS = 4


def _gaussian_taps() -> tuple[np.float32, ...]:
    offsets = np.arange(WINDOW, dtype=np.float64) - _HALF
    taps = np.exp(-(offsets**2) / (2 * SIGMA**2))
    return tuple(np.float32(t) for t in taps / taps.sum())


_TAPS = _gaussian_taps()


@dataclass(frozen=True)
class Fidelity:
    """PSNR (dB; math.inf when the prediction equals the target) and SSIM of one prediction."""

    psnr: float
    ssim: float

    def __post_init__(self) -> None:
        if math.isnan(self.psnr):
            raise ValueError("psnr must be a number or inf, got nan")
        if math.isnan(self.ssim) or not -1.0 <= self.ssim <= 1.0:
            raise ValueError(f"ssim must lie in [-1, 1], got {self.ssim!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form: an infinite PSNR is null with a note (JSON has no infinity)."""
        out: dict[str, Any] = {"psnr": json_psnr(self.psnr), "ssim": self.ssim}
        if math.isinf(self.psnr):
            out["psnr_note"] = PSNR_INF_NOTE
        return out


def json_psnr(value: float) -> float | None:
    """A PSNR as JSON shows it: infinite (identical images) becomes null."""
    return None if math.isinf(value) else value


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB with a peak of 1: 20*log10(1/sqrt(MSE)) over all pixels and channels; inf if equal."""
    x, y = _prepare(pred, target, min_side=1)
    return _psnr(x, y)


def ssim(pred: np.ndarray, target: np.ndarray, *, threads: int | None = None) -> float:
    """SSIM as `tf.image.ssim(pred, target, max_val=1.0)` computes it; images must be at least 11x11.

    `threads`: worker threads (default: the usable cores, at most 4).
    """
    x, y = _prepare(pred, target, min_side=WINDOW)
    return _ssim(x, y, threads)


def metrics(pred: np.ndarray, target: np.ndarray, *, threads: int | None = None) -> Fidelity:
    """PSNR and SSIM of one prediction against its target."""
    x, y = _prepare(pred, target, min_side=WINDOW)
    return Fidelity(psnr=_psnr(x, y), ssim=_ssim(x, y, threads))


def _prepare(pred: np.ndarray, target: np.ndarray, min_side: int) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim != 3 or target.ndim != 3:
        raise UsageError(f"images must be [H, W, C] arrays, got shapes {list(pred.shape)} and {list(target.shape)}",
                         "pass one image each (drop the batch dimension)")
    if pred.shape != target.shape:
        raise UsageError(f"prediction is {_size(pred)} but the target is {_size(target)}",
                         "compare images of the same size and channel count")
    if min(pred.shape[:2]) < min_side:
        raise UsageError(f"images are {_size(pred)}; SSIM needs at least {WINDOW}x{WINDOW} pixels",
                         f"use images of at least {WINDOW}x{WINDOW}")
    if not np.isfinite(pred).all():
        raise UsageError("the prediction holds NaN or infinite values", "check the model's output")
    x = np.ascontiguousarray(np.clip(pred, 0.0, 1.0, dtype=np.float32, casting="unsafe"))
    y = np.ascontiguousarray(target, dtype=np.float32)
    return x, y


def _size(image: np.ndarray) -> str:
    return f"{image.shape[0]}x{image.shape[1]}x{image.shape[2]}"


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    diff = np.subtract(x, y)
    np.square(diff, out=diff)
    mse = float(diff.sum(dtype=np.float64)) / diff.size
    return math.inf if mse == 0.0 else -10.0 * math.log10(mse)


def _ssim(x: np.ndarray, y: np.ndarray, threads: int | None) -> float:
    height, width, channels = x.shape
    out_h, out_w = height - 2 * _HALF, width - 2 * _HALF
    # Rows of interleaved channels: a shift of one pixel is a shift of `channels` elements.
    rows_x = x.reshape(height, width * channels)
    rows_y = y.reshape(height, width * channels)
    starts = list(range(0, out_h, _STRIPE_ROWS))
    workers = max(1, min(threads or _usable_cores(), _MAX_THREADS, len(starts)))
    if workers == 1:
        column_sums = _stripe_sums(rows_x, rows_y, starts, channels)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="ssim") as pool:
            parts = pool.map(lambda share: _stripe_sums(rows_x, rows_y, share, channels),
                             [starts[i::workers] for i in range(workers)])
            column_sums = np.sum(list(parts), axis=0)
    per_channel = column_sums.reshape(out_w, channels).sum(axis=0) / (out_h * out_w)
    return float(per_channel.mean())


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _stripe_sums(x: np.ndarray, y: np.ndarray, starts: list[int], channels: int) -> np.ndarray:
    """Column sums (float64) of the SSIM map over the stripes of output rows that begin at `starts`."""
    rows, width = x.shape
    out_width = width - 2 * _HALF * channels
    span = min(_STRIPE_ROWS, rows - 2 * _HALF)
    halo = span + 2 * _HALF
    maps = np.empty((halo, 4, width), np.float32)  # x, y, x*y, x*x + y*y
    square = np.empty((halo, width), np.float32)
    vertical = np.empty((span, 4, width), np.float32)
    vertical_tmp = np.empty_like(vertical)
    filtered = np.empty((span, 4, out_width), np.float32)
    filtered_tmp = np.empty_like(filtered)
    total = np.zeros(out_width, np.float64)
    for top in starts:
        n = min(span, rows - 2 * _HALF - top)
        src_x, src_y = x[top: top + n + 2 * _HALF], y[top: top + n + 2 * _HALF]
        m = maps[: n + 2 * _HALF]
        m[:, 0] = src_x
        m[:, 1] = src_y
        np.multiply(src_x, src_y, out=m[:, 2])
        np.square(src_x, out=m[:, 3])
        sq = square[: n + 2 * _HALF]
        np.square(src_y, out=sq)
        m[:, 3] += sq

        v = vertical[:n]
        _gaussian([m[i: i + n] for i in range(WINDOW)], v, vertical_tmp[:n])
        f = filtered[:n]
        _gaussian([v[..., i * channels: i * channels + out_width] for i in range(WINDOW)], f, filtered_tmp[:n])
        total += _ssim_map_rows(f, filtered_tmp[:n, 0])
    return total


def _gaussian(shifted: list[np.ndarray], out: np.ndarray, tmp: np.ndarray) -> None:
    """out = sum_i TAPS[i] * shifted[i] (the input under tap i), pairing the symmetric taps: 6 multiplies, not 11."""
    np.multiply(shifted[_HALF], _TAPS[_HALF], out=out)
    for i in range(_HALF):
        np.add(shifted[i], shifted[WINDOW - 1 - i], out=tmp)
        tmp *= _TAPS[i]
        out += tmp


def _ssim_map_rows(filtered: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Column sums of the SSIM map from the filtered maps; overwrites `filtered`.

    TensorFlow's form: luminance (2*mx*my + C1) / (mx^2 + my^2 + C1) times contrast-structure
    (2*E[xy] - 2*mx*my + C2) / (E[x^2 + y^2] - mx^2 - my^2 + C2).
    """
    mx, my, exy, esq = filtered[:, 0], filtered[:, 1], filtered[:, 2], filtered[:, 3]
    np.multiply(mx, my, out=scratch)  # mx*my
    np.square(mx, out=mx)
    np.square(my, out=my)
    mx += my  # mx^2 + my^2
    exy -= scratch
    exy *= 2
    exy += _C2
    esq -= mx
    esq += _C2
    scratch *= 2
    scratch += _C1
    mx += _C1
    scratch *= exy
    mx *= esq
    scratch /= mx
    return np.add.reduce(scratch, axis=0)
