"""The user cache of downloaded benchmark_model builds: `$XDG_CACHE_HOME/mai-bench/binaries/` (else
`~/.cache/mai-bench/binaries/`), one flat folder holding `<name>_<abi>` (the binary) and `<name>_<abi>.json`
(its record: where it came from, when, its size, the sha256 seen at the first download, and the server's
Last-Modified and ETag; records written before those two were kept load without them).

The recorded sha256 is trusted on first use and checked on every use: a cached file whose bytes changed is
refused, never pushed to a device.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from mai_bench.binaries.manifest import ANDROID_ABIS, BinaryEntry
from mai_bench.errors import InfraError
from mai_bench.hashing import sha256_file
from mai_bench.results.store import write_atomic

RECORD_SCHEMA = "mai-bench/binary-record/1"
FORCE_FETCH = "mai-bench binaries fetch --force"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def cache_dir() -> Path:
    """The XDG rule: $XDG_CACHE_HOME if set to an absolute path (relative ones are to be ignored), else ~/.cache."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "mai-bench" / "binaries"


@dataclass(frozen=True)
class CacheRecord:
    """What was downloaded: build `name` for `abi` from `url`, `size` bytes with `sha256`, at `fetched_at` (UTC);
    the server's `Last-Modified` and `ETag` headers, None when it sent none (or the record predates them)."""

    name: str
    abi: str
    url: str
    sha256: str
    size: int
    fetched_at: str
    last_modified: str | None = None
    etag: str | None = None

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 {self.sha256!r} is not 64 lowercase hex digits")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size {self.size!r} is not a byte count")
        if self.abi not in ANDROID_ABIS:
            raise ValueError(f"abi {self.abi!r} is not an Android ABI")
        for name in ("name", "url", "fetched_at"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        for name in ("last_modified", "etag"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string or null")

    @property
    def key(self) -> str:
        return f"{self.name}_{self.abi}"

    def to_dict(self) -> dict:
        return {"schema": RECORD_SCHEMA, **asdict(self)}

    def origin(self) -> dict:
        """Where the build came from, as a result records it (`binary.origin`)."""
        return {"url": self.url, "fetched_at": self.fetched_at, "size": self.size,
                "last_modified": self.last_modified, "etag": self.etag}


@dataclass(frozen=True)
class BinaryCache:
    root: Path

    def binary_path(self, key: str) -> Path:
        return self.root / key

    def record_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def read_record(self, entry: BinaryEntry) -> CacheRecord | None:
        """The entry's record, or None when it was never fetched."""
        path = self.record_path(entry.key)
        if not path.exists():
            return None
        return load_record(path)

    def records(self) -> list[tuple[Path, CacheRecord]]:
        """Every record in the cache (also of builds no longer in the manifest), sorted by file name."""
        if not self.root.is_dir():
            return []
        return [(path, load_record(path)) for path in sorted(self.root.glob("*.json"))]

    def store(self, downloaded: Path, record: CacheRecord) -> Path:
        """Move a verified download into place (atomic rename) and write its record; returns the binary's path."""
        target = self.binary_path(record.key)
        downloaded.chmod(0o755)  # adb push keeps the mode: the device must be able to run it
        os.replace(downloaded, target)
        write_atomic(self.record_path(record.key), json.dumps(record.to_dict(), indent=2) + "\n")
        return target


def load_record(path: Path) -> CacheRecord:
    """Read one record; a damaged one is an error that says how to replace it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
            raise ValueError(f"not a {RECORD_SCHEMA} record")
        fields = {k: v for k, v in data.items() if k != "schema"}
        return CacheRecord(**fields)
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InfraError(f"cache record {path} is damaged: {error}",
                         f"delete it, or replace it with `{FORCE_FETCH}`") from None


@dataclass(frozen=True)
class Verification:
    """A cached binary re-hashed against its record: status "ok", "changed" or "missing"."""

    record: CacheRecord
    path: Path
    status: str
    sha256: str | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return {"name": self.record.name, "abi": self.record.abi, "path": str(self.path), "status": self.status,
                "recorded_sha256": self.record.sha256, "sha256": self.sha256, "size": self.record.size,
                "url": self.record.url, "fetched_at": self.record.fetched_at,
                "last_modified": self.record.last_modified, "etag": self.record.etag}


def verify_binary(cache: BinaryCache, record: CacheRecord) -> Verification:
    path = cache.binary_path(record.key)
    if not path.is_file():
        return Verification(record, path, "missing", None)
    actual = sha256_file(path)
    return Verification(record, path, "ok" if actual == record.sha256 else "changed", actual)


def verify_cache(cache: BinaryCache) -> list[Verification]:
    """Re-hash every cached binary against its record."""
    return [verify_binary(cache, record) for _, record in cache.records()]
