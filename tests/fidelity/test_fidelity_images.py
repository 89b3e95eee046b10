"""Image files: 8- and 16-bit PNG, JPEG, scaling by bit depth, and clear errors."""

from __future__ import annotations

import imagecodecs
import numpy as np
import pytest

from mai_bench.errors import UsageError
from mai_bench.fidelity.images import read_image, read_rgb, write_png


def test_16_bit_rgb_png_keeps_all_bits(tmp_path):
    image = (np.arange(6 * 5 * 3).reshape(6, 5, 3) * 700 + 3).astype(np.uint16)
    write_png(tmp_path / "a.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), image)
    np.testing.assert_allclose(read_rgb(tmp_path / "a.png"), image / 65535.0, rtol=1e-6)


def test_8_bit_png_and_jpeg_scale_by_255(tmp_path):
    image = np.full((16, 16, 3), 51, np.uint8)
    write_png(tmp_path / "a.png", image)
    (tmp_path / "a.jpg").write_bytes(imagecodecs.jpeg8_encode(image, level=95))
    assert np.allclose(read_rgb(tmp_path / "a.png"), 0.2)
    assert np.allclose(read_rgb(tmp_path / "a.jpg"), 0.2, atol=2 / 255)


def test_16_bit_grey_png(tmp_path):
    raw = np.array([[0, 1020], [65535, 7]], np.uint16)
    write_png(tmp_path / "raw.png", raw)
    out = read_image(tmp_path / "raw.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, raw)


def test_errors(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    write_png(tmp_path / "good.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "cut.png").write_bytes((tmp_path / "good.png").read_bytes()[:40])
    write_png(tmp_path / "rgba.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(UsageError, match="not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(UsageError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(UsageError, match="not a PNG, JPEG or TIFF"):
        read_image(tmp_path / "text.png")
    with pytest.raises(UsageError, match="cannot decode"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(UsageError, match="4 channel"):
        read_rgb(tmp_path / "rgba.png")
