"""What a report reads: result documents (`mai-bench/result/2`, and `/1` upgraded) and fidelity documents
(`mai-bench/fidelity/1`, written by `mai-bench eval`), from files and folders, told apart by their "schema" key."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mai_bench.errors import UsageError
from mai_bench.results.schema import SCHEMA as RESULT_SCHEMA, SCHEMAS as RESULT_SCHEMAS
from mai_bench.results.schema import Result, ResultFormatError, result_from_dict
from mai_bench.results.store import read_documents

FIDELITY_SCHEMA = "mai-bench/fidelity/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FIX = "pass files written by `mai-bench run --out` or `mai-bench eval --out` (or folders of them)"


@dataclass(frozen=True)
class Fidelity:
    """A model's image quality on a data set: mean PSNR (dB) and SSIM over `count` pairs."""

    model_sha256: str
    model_name: str | None
    psnr: float | None
    ssim: float | None
    count: int | None
    created_at: str | None
    source: str

    def __post_init__(self) -> None:
        if not _SHA256.match(self.model_sha256):
            raise ResultFormatError(f"{self.source}: model.sha256 must be 64 lowercase hex digits", _FIX)
        for name in ("psnr", "ssim"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ResultFormatError(f"{self.source}: {name} must be a finite number or null, got {value!r}", _FIX)
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)
                                       or self.count < 0):
            raise ResultFormatError(f"{self.source}: count must be a non-negative integer, got {self.count!r}", _FIX)

    def to_dict(self) -> dict[str, Any]:
        return {"model_sha256": self.model_sha256, "model_name": self.model_name, "psnr": self.psnr,
                "ssim": self.ssim, "count": self.count, "created_at": self.created_at, "source": self.source}


def fidelity_from_dict(data: dict[str, Any], source: str) -> Fidelity:
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("sha256"), str):
        raise ResultFormatError(f"{source}: a fidelity document needs model.sha256", _FIX)
    name = model.get("name")
    created = data.get("created_at")
    return Fidelity(model_sha256=model["sha256"], model_name=name if isinstance(name, str) else None,
                    psnr=data.get("psnr"), ssim=data.get("ssim"), count=data.get("count"),
                    created_at=created if isinstance(created, str) else None, source=source)


@dataclass(frozen=True)
class Inputs:
    results: tuple[Result, ...]
    fidelity: tuple[Fidelity, ...]


def load_inputs(paths: Iterable[Path]) -> Inputs:
    """Every result and fidelity document in `paths` (a folder: its *.json and *.jsonl files, sorted)."""
    results: list[Result] = []
    fidelity: list[Fidelity] = []
    for path in map(Path, paths):
        files = _folder_files(path) if path.is_dir() else [path]
        for file in files:
            for item in read_documents(file):
                schema = item.get("schema") if isinstance(item, dict) else None
                if schema == FIDELITY_SCHEMA:
                    fidelity.append(fidelity_from_dict(item, str(file)))
                elif schema in RESULT_SCHEMAS:
                    try:
                        results.append(result_from_dict(item))
                    except ResultFormatError as error:
                        raise ResultFormatError(f"{file}: {error.message}", error.fix) from None
                else:
                    raise ResultFormatError(f"{file} holds a document with schema {schema!r}, neither "
                                            f"{RESULT_SCHEMA!r} nor {FIDELITY_SCHEMA!r}", _FIX)
    if not results and not fidelity:
        raise UsageError("no results to report", _FIX)
    return Inputs(results=tuple(results), fidelity=tuple(fidelity))


def _folder_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    if not files:
        raise UsageError(f"{path} holds no .json or .jsonl files", _FIX)
    return files


