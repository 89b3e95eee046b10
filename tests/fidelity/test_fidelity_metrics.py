"""PSNR and SSIM against independent float64 references (numpy PSNR, skimage's Gaussian SSIM)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from mai_bench.errors import UsageError
from mai_bench.fidelity.metrics import PSNR_INF_NOTE, Fidelity, metrics, psnr, ssim

SSIM_TOLERANCE = 1e-5
PSNR_TOLERANCE_DB = 1e-4


def reference_ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """tf.image.ssim's definition in float64, as skimage computes it with these options."""
    return structural_similarity(np.clip(pred, 0, 1).astype(np.float64), target.astype(np.float64),
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
                                 channel_axis=-1)


def reference_psnr(pred: np.ndarray, target: np.ndarray) -> float:
    mse = np.mean((np.clip(pred.astype(np.float64), 0, 1) - target.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 20 * math.log10(1.0 / math.sqrt(mse))


def smooth_pair(rng: np.random.Generator, height: int, width: int, channels: int = 3, noise: float = 0.05):
    """A target with structure at several scales and a noisy, slightly out-of-range prediction."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = [0.5 + 0.4 * np.sin(7 * xx * (c + 1) + 5 * yy) * np.cos(3 * yy - c) for c in range(channels)]
    target = np.clip(np.stack(base, -1) + rng.normal(0, 0.02, (height, width, channels)), 0, 1).astype(np.float32)
    pred = (target + rng.normal(0, noise, target.shape)).astype(np.float32)
    return pred, target


@pytest.mark.parametrize("height,width", [(1088, 1920), (101, 157), (11, 11), (12, 40), (64, 96), (70, 33)])
def test_ssim_matches_float64_reference(height, width):
    pred, target = smooth_pair(np.random.default_rng(height * width), height, width)
    assert abs(ssim(pred, target) - reference_ssim(pred, target)) < SSIM_TOLERANCE


@pytest.mark.parametrize("height,width", [(1088, 1920), (101, 157), (1, 1), (3, 5)])
def test_psnr_matches_float64_reference(height, width):
    pred, target = smooth_pair(np.random.default_rng(height + width), height, width)
    assert abs(psnr(pred, target) - reference_psnr(pred, target)) < PSNR_TOLERANCE_DB


@settings(max_examples=25, deadline=None)
@given(height=st.integers(11, 60), width=st.integers(11, 60), channels=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1), noise=st.floats(0.0, 0.5))
def test_ssim_and_psnr_match_references_on_random_shapes(height, width, channels, seed, noise):
    rng = np.random.default_rng(seed)
    target = rng.random((height, width, channels), dtype=np.float32)
    pred = (target + rng.normal(0, noise, target.shape)).astype(np.float32)
    assert abs(ssim(pred, target, threads=1) - reference_ssim(pred, target)) < SSIM_TOLERANCE
    expected, value = reference_psnr(pred, target), psnr(pred, target)
    assert value == expected if math.isinf(expected) else abs(value - expected) < PSNR_TOLERANCE_DB


def test_ssim_is_the_same_with_any_thread_count():
    pred, target = smooth_pair(np.random.default_rng(7), 300, 200)
    one = ssim(pred, target, threads=1)
    assert ssim(pred, target, threads=2) == one
    assert ssim(pred, target, threads=3) == one


def test_skimage_default_ssim_is_a_different_number():
    # The documented trap: skimage's default window (7x7 uniform, sample covariance) is not the challenge's SSIM.
    pred, target = smooth_pair(np.random.default_rng(3), 200, 300, noise=0.1)
    default = structural_similarity(pred.astype(np.float64), target.astype(np.float64), data_range=1.0,
                                    channel_axis=-1)
    assert abs(default - ssim(pred, target)) > 1e-3


def test_psnr_clips_the_prediction_to_unit_range():
    target = np.full((4, 4, 3), 1.0, np.float32)
    target[0] = 0.0
    pred = target.copy()
    pred[1:] = 5.0  # clipped to 1.0: equal to the target there
    pred[0] = -3.0  # clipped to 0.0
    assert psnr(pred, target) == math.inf
    pred[2, 2, 0] = 0.5  # one value off by 0.5 over 48 values: MSE 0.25/48
    assert psnr(pred, target) == pytest.approx(10 * math.log10(48 / 0.25), abs=1e-9)


def test_ssim_clips_the_prediction_too():
    pred, target = smooth_pair(np.random.default_rng(11), 40, 50, noise=0.3)
    assert pred.max() > 1 and pred.min() < 0
    assert ssim(pred, target) == ssim(np.clip(pred, 0, 1), target)


def test_identical_images():
    _, target = smooth_pair(np.random.default_rng(5), 32, 48)
    fidelity = metrics(target, target)
    assert fidelity.psnr == math.inf
    assert fidelity.ssim == pytest.approx(1.0, abs=1e-6)
    assert fidelity.to_dict() == {"psnr": None, "ssim": fidelity.ssim, "psnr_note": PSNR_INF_NOTE}


def test_fidelity_to_dict_keeps_finite_values():
    assert Fidelity(23.5, 0.85).to_dict() == {"psnr": 23.5, "ssim": 0.85}


@pytest.mark.parametrize("psnr_value,ssim_value", [(math.nan, 0.5), (20.0, math.nan), (20.0, 1.5)])
def test_fidelity_rejects_impossible_values(psnr_value, ssim_value):
    with pytest.raises(ValueError):
        Fidelity(psnr_value, ssim_value)


def test_metrics_match_the_separate_functions():
    pred, target = smooth_pair(np.random.default_rng(9), 50, 60)
    assert metrics(pred, target) == Fidelity(psnr(pred, target), ssim(pred, target))


@pytest.mark.parametrize("pred_shape,target_shape,words", [
    ((20, 20, 3), (20, 21, 3), "20x20x3 but the target is 20x21x3"),
    ((20, 20), (20, 20), "[H, W, C]"),
    ((10, 30, 3), (10, 30, 3), "at least 11x11"),
])
def test_bad_shapes_are_usage_errors(pred_shape, target_shape, words):
    with pytest.raises(UsageError) as error:
        ssim(np.zeros(pred_shape, np.float32), np.zeros(target_shape, np.float32))
    assert words in error.value.message


def test_nan_prediction_is_a_usage_error():
    pred = np.zeros((12, 12, 3), np.float32)
    pred[3, 3, 1] = np.nan
    with pytest.raises(UsageError, match="NaN"):
        psnr(pred, np.zeros_like(pred))
