"""The challenge's RAW layout: Bayer packing order, folder discovery, pairing and the loader's errors."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest

from mai_bench.errors import UsageError
from mai_bench.fidelity.rawdata import RAW_WHITE_LEVEL, find_dataset, load_pair, pack_bayer


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        path.write_bytes(imagecodecs.jpeg8_encode(image, level=95))
    else:
        path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(image)))
    return path


def make_pair(root: Path, name: str, size=(8, 12), raw_dir="mediatek_raw", rgb_dir="fujifilm", rgb_suffix=".png",
              raw=None, rgb=None) -> None:
    rng = np.random.default_rng(len(name))
    raw = rng.integers(0, 1021, size, dtype=np.uint16) if raw is None else raw
    rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8) if rgb is None else rgb
    write(root / raw_dir / f"{name}.png", raw)
    write(root / rgb_dir / f"{name}{rgb_suffix}", rgb)


def test_pack_bayer_order_on_a_hand_made_mosaic():
    # RGGB: R(0,0) G(0,1) G(1,0) B(1,1); packed as [B, G(0,1), R, G(1,0)], the challenge loader's order.
    raw = np.array([[10, 20, 11, 21],
                    [30, 40, 31, 41],
                    [12, 22, 13, 23],
                    [32, 42, 33, 43]], np.uint16)
    packed = pack_bayer(raw) * RAW_WHITE_LEVEL
    assert packed.shape == (2, 2, 4)
    assert packed.dtype == np.float32
    np.testing.assert_allclose(packed[0, 0], [40, 20, 10, 30], rtol=1e-6)
    np.testing.assert_allclose(packed[0, 1], [41, 21, 11, 31], rtol=1e-6)
    np.testing.assert_allclose(packed[1, 0], [42, 22, 12, 32], rtol=1e-6)
    np.testing.assert_allclose(packed[1, 1], [43, 23, 13, 33], rtol=1e-6)


def test_pack_bayer_divides_by_1020():
    assert RAW_WHITE_LEVEL == 1020
    assert pack_bayer(np.full((2, 2), 1020, np.uint16)).tolist() == [[[1.0, 1.0, 1.0, 1.0]]]


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (4, 4, 1)])
def test_pack_bayer_rejects_odd_or_non_2d_input(shape):
    with pytest.raises(ValueError):
        pack_bayer(np.zeros(shape, np.uint16))


def test_load_pair_normalises_raw_and_target(tmp_path):
    raw = np.arange(8 * 12, dtype=np.uint16).reshape(8, 12) * 10
    rgb = np.arange(8 * 12 * 3, dtype=np.uint16).reshape(8, 12, 3).astype(np.uint8)
    make_pair(tmp_path, "0", raw=raw, rgb=rgb)
    pair = load_pair(find_dataset(tmp_path).pairs[0])
    np.testing.assert_array_equal(pair.raw, pack_bayer(raw))
    np.testing.assert_allclose(pair.target, rgb / 255.0, rtol=1e-6)
    assert pair.raw.shape == (4, 6, 4) and pair.target.shape == (8, 12, 3)


def test_find_dataset_pairs_in_natural_order(tmp_path):
    for name in ("10", "2", "1", "b", "a"):
        make_pair(tmp_path, name)
    data = find_dataset(tmp_path)
    assert [p.name for p in data.pairs] == ["1", "2", "10", "a", "b"]
    assert data.layout == "fujifilm-ultraisp"
    assert data.to_dict()["count"] == 5
    assert [p.name for p in data.limited(2).pairs] == ["1", "2"]


def test_zurich_layout_with_jpeg_targets(tmp_path):
    make_pair(tmp_path, "0", raw_dir="huawei_raw", rgb_dir="canon", rgb_suffix=".jpg")
    data = find_dataset(tmp_path)
    assert data.layout == "zurich-raw-to-rgb"
    assert data.pairs[0].rgb.name == "0.jpg"
    assert load_pair(data.pairs[0]).target.shape == (8, 12, 3)


def test_custom_folders(tmp_path):
    make_pair(tmp_path, "7", raw_dir="in", rgb_dir="out")
    data = find_dataset(tmp_path, raw_dir="in", rgb_dir="out")
    assert data.layout == "custom"
    assert data.pairs[0].raw == tmp_path / "in" / "7.png"


def test_points_at_the_split_below(tmp_path):
    make_pair(tmp_path / "test", "0")
    with pytest.raises(UsageError) as error:
        find_dataset(tmp_path)
    assert str(tmp_path / "test") in error.value.fix


@pytest.mark.parametrize("setup,words", [
    (lambda root: None, "holds no RAW/RGB folders"),
    (lambda root: make_pair(root, "0") or (root / "fujifilm" / "0.png").unlink(), "have no target"),
    (lambda root: make_pair(root, "0") or make_pair(root, "0", rgb_suffix=".jpg"), "two files named 0"),
])
def test_find_dataset_errors(tmp_path, setup, words):
    setup(tmp_path)
    with pytest.raises(UsageError) as error:
        find_dataset(tmp_path)
    assert words in error.value.message


def test_missing_folder_and_half_custom_layout(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        find_dataset(tmp_path / "nope")
    with pytest.raises(UsageError, match="go together"):
        find_dataset(tmp_path, raw_dir="in")


@pytest.mark.parametrize("raw,words", [
    (np.zeros((8, 12), np.uint8), "8-bit with 1 channel"),
    (np.zeros((8, 12, 3), np.uint16), "16-bit with 3 channel"),
    (np.zeros((7, 12), np.uint16), "even sides"),
])
def test_load_pair_rejects_a_raw_that_is_not_a_16_bit_mosaic(tmp_path, raw, words):
    make_pair(tmp_path, "0", size=raw.shape[:2], raw=raw)
    with pytest.raises(UsageError) as error:
        load_pair(find_dataset(tmp_path).pairs[0])
    assert words in error.value.message


def test_load_pair_rejects_mismatched_sizes(tmp_path):
    make_pair(tmp_path, "0", raw=np.zeros((8, 12), np.uint16), rgb=np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(UsageError) as error:
        load_pair(find_dataset(tmp_path).pairs[0])
    assert "RAW 0.png is 8x12 but target 0.png is 8x10" in error.value.message


def test_load_pair_rejects_a_grey_target(tmp_path):
    make_pair(tmp_path, "0", rgb=np.zeros((8, 12), np.uint8))
    with pytest.raises(UsageError, match="1 channel"):
        load_pair(find_dataset(tmp_path).pairs[0])
