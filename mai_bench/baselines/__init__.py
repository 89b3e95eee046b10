"""The Mobile AI 2022 Learned Smartphone ISP challenge's published results, shipped as package data.

Table 1 (all 15 ranked rows: PSNR, SSIM, CPU and GPU runtime, final score) joined with Table 2's Mean Opinion
Scores where the report gives one. The numbers hold for one platform only: a Snapdragon 8 Gen 1 (SM8450) phone
running the TFLite GPU delegate at Full HD, so `published_for` returns them for that profile and delegate alone.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROFILE = "sm8450"
DELEGATE = "gpu"
PLATFORM = "Qualcomm Snapdragon 8 Gen 1 (SM8450), Adreno 730 GPU, TFLite GPU delegate, Full HD output"
SOURCE = ("A. Ignatov, R. Timofte et al., \"Learned Smartphone ISP on Mobile GPUs with Deep Learning, Mobile AI & "
          "AIM 2022 Challenge: Report\", ECCV 2022 Workshops, doi:10.1007/978-3-031-25066-8_3, arXiv:2211.03885; "
          "Table 1 and Table 2 (MOS)")

_DATA = Path(__file__).resolve().parent
TABLE1_FILE = _DATA / "mai2022_table1.tsv"
TABLE2_FILE = _DATA / "mai2022_table2_mos.tsv"

# The runtime references shipped in mai_bench/reference_models (file stem -> Table 1 row): random weights, the
# published structure, so their latency is comparable with the row and their image quality is not.
REFERENCE_MODELS = {"microisp_1_0": "MicroISP 1.0", "microisp_0_5": "MicroISP 0.5",
                    "pynet_v2_mobile": "PyNET-V2 Mobile"}

# Footnote of Table 1, attached to the row it marks.
_NOTES = {"Multimedia": "the submitted file had corrupted weights (conversion via ONNX); fixed after the challenge"}


@dataclass(frozen=True)
class Entry:
    """One row of Table 1. `score` is the Final Score as printed, `score_decimals` its printed precision."""

    team: str
    author: str
    framework: str
    size_mb: float
    psnr: float
    ssim: float
    cpu_ms: float
    gpu_ms: float
    score: float
    score_decimals: int
    mos: float | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        for name in ("size_mb", "psnr", "ssim", "cpu_ms", "gpu_ms", "score"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Table 1 entry {self.team}: {name} must be positive")

    @property
    def baseline(self) -> bool:
        """The organisers' reference models (MicroISP 1.0 and 0.5, PyNET-V2 Mobile), not submissions."""
        return self.author == "Baseline"

    @property
    def label(self) -> str:
        """A unique name: teams with two submissions are told apart by model size."""
        return self.team if self.baseline else f"{self.team} ({self.size_mb:g} MB)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "baseline": self.baseline, "label": self.label}


def _rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def _mos_by_key() -> dict[tuple[str, float], float]:
    return {(row["team"], float(row["size_mb"])): float(row["mos"]) for row in _rows(TABLE2_FILE)}


@lru_cache(maxsize=1)
def table1() -> tuple[Entry, ...]:
    """All 15 rows of Table 1 in the report's order, with Table 2's MOS where given."""
    mos = _mos_by_key()
    entries = []
    for row in _rows(TABLE1_FILE):
        printed = row["score"]
        entries.append(Entry(
            team=row["team"], author=row["author"], framework=row["framework"], size_mb=float(row["size_mb"]),
            psnr=float(row["psnr"]), ssim=float(row["ssim"]), cpu_ms=float(row["cpu_ms"]),
            gpu_ms=float(row["gpu_ms"]), score=float(printed),
            score_decimals=len(printed.split(".")[1]) if "." in printed else 0,
            mos=mos.get((row["team"], float(row["size_mb"]))), note=_NOTES.get(row["team"])))
    return tuple(entries)


def baseline_models() -> tuple[Entry, ...]:
    """The reference models' rows: MicroISP 1.0, MicroISP 0.5 and PyNET-V2 Mobile."""
    return tuple(e for e in table1() if e.baseline)


def published_for(profile: str | None, delegate: str) -> tuple[Entry, ...]:
    """Table 1 when a result's platform is the one it was measured on (SM8450 GPU), else nothing."""
    return table1() if profile == PROFILE and delegate == DELEGATE else ()
