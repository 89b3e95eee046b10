"""A small synthetic RAW/RGB set in the challenge's layout, made from photos bundled with scikit-image.

Each target is a crop of a bundled photo resized to the requested size and saved as 8-bit RGB. Its RAW runs a
camera pipeline backwards from those 8-bit values: undo the sRGB gamma, undo a white balance, sample an RGGB
mosaic and scale to the loader's 10-bit white level (1020). Deterministic: the same arguments give the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mai_bench.errors import UsageError
from mai_bench.fidelity.images import write_png
from mai_bench.fidelity.rawdata import DEFAULT_LAYOUT, RAW_WHITE_LEVEL, Layout

DEFAULT_SIZE = (256, 384)  # target height, width: the packed RAW is 128x192
DEFAULT_COUNT = 8
MIN_SIDE = 16
# Photos stored inside the scikit-image wheel (no download): name -> loader in skimage.data.
SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
# Camera white-balance gains (R, G, B) that the RAW is divided by: raw red and blue are weaker than green.
WHITE_BALANCE = (1.9, 1.0, 1.5)


@dataclass(frozen=True)
class SynthSet:
    """What `synth_dataset` wrote."""

    root: Path
    layout: Layout
    size: tuple[int, int]
    sources: tuple[str, ...]  # the photo behind each pair, in file order 0..count-1

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("a synthetic set holds at least one pair")

    @property
    def count(self) -> int:
        return len(self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "layout": self.layout.name, "raw_dir": str(self.root / self.layout.raw_dir),
                "rgb_dir": str(self.root / self.layout.rgb_dir), "count": self.count, "size": list(self.size),
                "sources": list(self.sources)}


def synth_dataset(root: str | Path, count: int = DEFAULT_COUNT, size: tuple[int, int] = DEFAULT_SIZE) -> SynthSet:
    """Write `count` pairs of `size` (target height, width; even) into `root` in the default layout."""
    root = Path(root)
    height, width = size
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}", "pass --count 1 or more")
    if height % 2 or width % 2 or min(height, width) < MIN_SIDE:
        raise UsageError(f"size {height}x{width} must have even sides of at least {MIN_SIDE}",
                         "pass --size HxW with even numbers, e.g. 256x384")
    raw_dir, rgb_dir = root / DEFAULT_LAYOUT.raw_dir, root / DEFAULT_LAYOUT.rgb_dir
    for folder in (raw_dir, rgb_dir):
        if folder.is_dir() and any(folder.iterdir()):
            raise UsageError(f"{folder} already holds files; a new set would mix with them",
                             "pass an empty or new folder")
    raw_dir.mkdir(parents=True, exist_ok=True)
    rgb_dir.mkdir(parents=True, exist_ok=True)
    loaders, photos = _photo_loaders(), {}
    names = []
    for index in range(count):
        name = SOURCES[index % len(SOURCES)]
        if name not in photos:
            photos[name] = loaders[name]()
        target = _target(photos[name], index // len(SOURCES), size)
        write_png(rgb_dir / f"{index}.png", target)
        write_png(raw_dir / f"{index}.png", raw_from_rgb(target))
        names.append(name)
    return SynthSet(root, DEFAULT_LAYOUT, (height, width), tuple(names))


def _photo_loaders() -> dict[str, Callable[[], np.ndarray]]:
    from skimage import data

    return {"astronaut": data.astronaut, "chelsea": data.chelsea, "coffee": data.coffee, "rocket": data.rocket,
            "motorcycle": lambda: data.stereo_motorcycle()[0]}


def _target(photo: np.ndarray, variant: int, size: tuple[int, int]) -> np.ndarray:
    """Variant 0 is the largest centred crop of the target's aspect ratio; later variants zoom in, move the crop
    and mirror every other one, so a set larger than the photo list still holds distinct pairs."""
    from skimage.transform import resize

    height, width = size
    rows, cols = photo.shape[:2]
    scale = max(0.5, 1.0 - 0.15 * variant)
    crop_h = min(rows, round(cols * height / width)) * scale
    crop_w = crop_h * width / height
    # Golden-ratio steps spread the crop positions of successive variants over the photo.
    fy, fx = (0.5, 0.5) if variant == 0 else ((variant * 0.618) % 1.0, (variant * 0.382) % 1.0)
    top, left = round((rows - crop_h) * fy), round((cols - crop_w) * fx)
    crop = photo[top: top + round(crop_h), left: left + round(crop_w), :3]
    if variant % 2:
        crop = crop[:, ::-1]
    resized = resize(crop, (height, width), order=1, anti_aliasing=True)  # float64 in [0, 1]
    return np.round(resized * 255.0).astype(np.uint8)


def raw_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """An 8-bit sRGB image [H, W, 3] (even H, W) -> the 10-bit RGGB mosaic [H, W] (uint16) a camera would give."""
    srgb = rgb.astype(np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    linear /= np.asarray(WHITE_BALANCE)
    mosaic = np.empty(rgb.shape[:2], np.float64)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]  # G
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]  # G
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]  # B
    return np.round(mosaic * RAW_WHITE_LEVEL).astype(np.uint16)
