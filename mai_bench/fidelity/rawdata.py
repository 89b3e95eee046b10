"""The challenge's RAW-to-RGB data: folders of RAW/RGB pairs, Bayer packing and normalisation.

A RAW is a single-channel 16-bit PNG straight from the sensor, Bayer RGGB: R at (0,0), greens at (0,1) and
(1,0), B at (1,1). The challenge's loader packs it to half resolution as 4 channels in the order
[(1,1), (0,1), (0,0), (1,0)] - B, G, R, G; its code names the (0,1) green "Gb" and the (1,0) green "Gr" - and
divides by 4 * 255 = 1020 (10-bit data). The target is an 8-bit RGB image at twice the packed resolution, / 255.

Folder layouts (pairs share a file stem, e.g. `mediatek_raw/17.png` and `fujifilm/17.png`):
- Fujifilm UltraISP (MAI 2021/2022 Learned ISP): `mediatek_raw/` + `fujifilm/`
- Zurich RAW-to-RGB (PyNET): `huawei_raw/` + `canon/` (targets are JPEG)
Both datasets keep `train/`, `val/` or `test/` folders above these: point at one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mai_bench.errors import UsageError
from mai_bench.fidelity.images import not_rgb, read_image, to_unit

RAW_WHITE_LEVEL = 4 * 255  # 1020: the challenge's loaders divide the 10-bit RAW by this
RAW_SUFFIXES = (".png",)
RGB_SUFFIXES = (".png", ".jpg", ".jpeg")
_LISTED = 3  # names quoted in an error before "..."


@dataclass(frozen=True)
class Layout:
    """A dataset's folder names for the RAW inputs and the RGB targets."""

    name: str
    raw_dir: str
    rgb_dir: str


LAYOUTS = (
    Layout("fujifilm-ultraisp", "mediatek_raw", "fujifilm"),
    Layout("zurich-raw-to-rgb", "huawei_raw", "canon"),
)
DEFAULT_LAYOUT = LAYOUTS[0]


@dataclass(frozen=True)
class PairFiles:
    """One RAW file and its RGB target."""

    name: str
    raw: Path
    rgb: Path


@dataclass(frozen=True)
class Dataset:
    """The pairs found in a data folder, in natural order of their names."""

    root: Path
    layout: str  # a Layout name, or "custom" for --raw-dir/--rgb-dir
    raw_dir: Path
    rgb_dir: Path
    pairs: tuple[PairFiles, ...]

    def __post_init__(self) -> None:
        if not self.pairs:
            raise ValueError("a dataset holds at least one pair")

    def limited(self, limit: int | None) -> Dataset:
        """The first `limit` pairs (all when None)."""
        if limit is None:
            return self
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        return Dataset(self.root, self.layout, self.raw_dir, self.rgb_dir, self.pairs[:limit])

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "layout": self.layout, "raw_dir": str(self.raw_dir),
                "rgb_dir": str(self.rgb_dir), "count": len(self.pairs)}


@dataclass(frozen=True)
class Pair:
    """A loaded pair: packed RAW float32 [H/2, W/2, 4] and target float32 [H, W, 3], both in the model's units."""

    name: str
    raw: np.ndarray
    target: np.ndarray

    def __post_init__(self) -> None:
        h, w, c = self.raw.shape
        if c != 4 or self.target.shape != (2 * h, 2 * w, 3):
            raise ValueError(f"packed RAW {self.raw.shape} and target {self.target.shape} do not pair up")


def pack_bayer(raw: np.ndarray) -> np.ndarray:
    """An RGGB mosaic [H, W] (uint16) -> float32 [H/2, W/2, 4] in the challenge's order, divided by 1020."""
    if raw.ndim != 2 or raw.shape[0] % 2 or raw.shape[1] % 2:
        raise ValueError(f"a Bayer mosaic is [H, W] with even H and W, got {list(raw.shape)}")
    packed = np.stack([raw[1::2, 1::2], raw[0::2, 1::2], raw[0::2, 0::2], raw[1::2, 0::2]], axis=-1)
    return packed.astype(np.float32) / np.float32(RAW_WHITE_LEVEL)


def find_dataset(root: str | Path, raw_dir: str | Path | None = None, rgb_dir: str | Path | None = None) -> Dataset:
    """The RAW/RGB pairs under `root`: in a known layout's folders, or in `raw_dir` and `rgb_dir` (relative to
    `root` unless absolute). Raises UsageError when the folders are missing, empty or do not pair up."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"data folder not found: {root}",
                         "pass a folder with mediatek_raw/ + fujifilm/ (or make one with `mai-bench data synth`)")
    if (raw_dir is None) != (rgb_dir is None):
        raise UsageError("--raw-dir and --rgb-dir go together", "pass both, or neither to use a known layout")
    if raw_dir is not None:
        layout, raws, rgbs = "custom", root / raw_dir, root / rgb_dir
        for folder in (raws, rgbs):
            if not folder.is_dir():
                raise UsageError(f"folder not found: {folder}", "check --raw-dir and --rgb-dir")
    else:
        found = _known_layout(root)
        layout, raws, rgbs = found.name, root / found.raw_dir, root / found.rgb_dir
    return Dataset(root, layout, raws, rgbs, _pair_files(raws, rgbs))


def _known_layout(root: Path) -> Layout:
    for layout in LAYOUTS:
        if (root / layout.raw_dir).is_dir() and (root / layout.rgb_dir).is_dir():
            return layout
    expected = " or ".join(f"{layout.raw_dir}/ + {layout.rgb_dir}/" for layout in LAYOUTS)
    below = sorted(str(sub) for sub in root.iterdir() if sub.is_dir() for layout in LAYOUTS
                   if (sub / layout.raw_dir).is_dir() and (sub / layout.rgb_dir).is_dir())
    if below:
        raise UsageError(f"{root} holds no RAW/RGB folders itself ({expected})",
                         f"point at a split below it: {', '.join(below)}")
    raise UsageError(f"{root} holds no RAW/RGB folders ({expected})",
                     "pass --raw-dir and --rgb-dir, or make a set with `mai-bench data synth DIR`")


def _pair_files(raw_dir: Path, rgb_dir: Path) -> tuple[PairFiles, ...]:
    raws = _by_stem(raw_dir, RAW_SUFFIXES)
    rgbs = _by_stem(rgb_dir, RGB_SUFFIXES)
    if not raws:
        raise UsageError(f"{raw_dir} holds no RAW .png files", "point at the folder with the 16-bit RAW PNGs")
    missing = [stem for stem in raws if stem not in rgbs]
    if missing:
        raise UsageError(f"{len(missing)} RAW file(s) in {raw_dir} have no target in {rgb_dir}: {_names(missing)}",
                         "add the targets (same name, .png or .jpg) or remove those RAW files")
    return tuple(PairFiles(stem, raws[stem], rgbs[stem]) for stem in sorted(raws, key=_natural))


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise UsageError(f"{folder} holds two files named {path.stem}: {files[path.stem].name} and {path.name}",
                                 "keep one file per name")
            files[path.stem] = path
    return files


def _natural(stem: str) -> tuple[int, int, str]:
    # Dataset files are numbered (0.png ... 1203.png): 10 sorts after 9.
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _names(stems: list[str]) -> str:
    shown = ", ".join(sorted(stems, key=_natural)[:_LISTED])
    return shown + (", ..." if len(stems) > _LISTED else "")


def load_pair(files: PairFiles) -> Pair:
    """Decode, check and normalise one pair the way the challenge's loader does."""
    raw = read_image(files.raw)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        channels = 1 if raw.ndim == 2 else raw.shape[2]
        raise UsageError(f"RAW {files.raw} is {raw.dtype.itemsize * 8}-bit with {channels} channel(s); a RAW is a "
                         "single-channel 16-bit PNG (Bayer RGGB)", "pass the sensor's RAW PNGs, not RGB images")
    if raw.shape[0] % 2 or raw.shape[1] % 2:
        raise UsageError(f"RAW {files.raw} is {raw.shape[0]}x{raw.shape[1]}; a Bayer mosaic has even sides",
                         "crop the RAW to even height and width")
    rgb = read_image(files.rgb)
    problem = not_rgb(files.rgb, rgb, "target")
    if problem is not None:
        raise UsageError(problem.message, "the targets folder holds the RGB images the model should produce, "
                                          "the RAW folder the sensor's RAW PNGs; save RGBA targets as RGB")
    if rgb.shape[:2] != raw.shape:
        raise UsageError(f"pair {files.name}: RAW {files.raw.name} is {raw.shape[0]}x{raw.shape[1]} but target "
                         f"{files.rgb.name} is {rgb.shape[0]}x{rgb.shape[1]}; they must be the same size",
                         "the target has the RAW's size (twice the packed RAW)")
    return Pair(files.name, pack_bayer(raw), to_unit(rgb))
