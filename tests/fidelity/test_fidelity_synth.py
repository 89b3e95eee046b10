"""Synthetic data: written in the layout the loader reads, deterministic, and physically consistent."""

from __future__ import annotations

import numpy as np
import pytest

from mai_bench.errors import UsageError
from mai_bench.fidelity.rawdata import find_dataset, load_pair
from mai_bench.fidelity.synth import SOURCES, WHITE_BALANCE, synth_dataset


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def test_synth_round_trips_through_the_loader(synth_set):
    data = find_dataset(synth_set)
    assert data.layout == "fujifilm-ultraisp"
    assert [p.name for p in data.pairs] == ["0", "1", "2", "3", "4"]
    for files in data.pairs:
        pair = load_pair(files)
        assert pair.raw.shape == (32, 48, 4) and pair.target.shape == (64, 96, 3)
        assert 0.0 <= pair.raw.min() and pair.raw.max() <= 1.0
        linear = srgb_to_linear(pair.target.astype(np.float64)) / np.asarray(WHITE_BALANCE)
        # Packed order [B(1,1), G(0,1), R(0,0), G(1,0)]: each channel is the linear colour at its Bayer site.
        sites = [(1, 1, 2), (0, 1, 1), (0, 0, 0), (1, 0, 1)]
        for channel, (row, col, colour) in enumerate(sites):
            expected = np.round(linear[row::2, col::2, colour] * 1020) / 1020
            np.testing.assert_allclose(pair.raw[..., channel], expected, atol=1e-6)


def test_synth_is_deterministic_and_distinct(tmp_path):
    first = synth_dataset(tmp_path / "a", count=len(SOURCES) + 2, size=(32, 48))
    synth_dataset(tmp_path / "b", count=len(SOURCES) + 2, size=(32, 48))
    assert first.count == len(SOURCES) + 2
    assert first.sources[len(SOURCES)] == SOURCES[0]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 2 * first.count
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    # The second crop of a photo is not the first one again.
    rgb = tmp_path / "a" / "fujifilm"
    assert (rgb / "0.png").read_bytes() != (rgb / f"{len(SOURCES)}.png").read_bytes()


def test_synth_refuses_to_mix_with_existing_files(synth_set):
    with pytest.raises(UsageError, match="already holds files"):
        synth_dataset(synth_set, count=1)


@pytest.mark.parametrize("count,size", [(0, (32, 32)), (1, (31, 32)), (1, (32, 14))])
def test_synth_rejects_bad_arguments(tmp_path, count, size):
    with pytest.raises(UsageError):
        synth_dataset(tmp_path, count=count, size=size)
    assert not any(tmp_path.iterdir())
