"""Which benchmark_model to push to a device: a custom build given with --benchmark-binary, else the manifest's
build for the device's ABI, from the cache (re-hashed on every use) or downloaded on first use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mai_bench.binaries.cache import FORCE_FETCH, BinaryCache, CacheRecord, cache_dir, verify_binary
from mai_bench.binaries.manifest import CUSTOM_FLAG, BinaryEntry, Manifest, load_manifest
from mai_bench.errors import InfraError, UsageError
from mai_bench.hashing import sha256_file

if TYPE_CHECKING:
    from mai_bench.binaries.fetch import Progress

SOURCES = ("cache", "download", "custom")
CUSTOM_NAME = "custom"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BinaryFile:
    """A host file ready to push: its sha256 (checked just now), build name, ABI (None for a custom build of
    unknown ABI), `source`: "cache", "download" (fetched for this use) or "custom" (--benchmark-binary), and for a
    downloaded build its cache record (URL, download time, size, Last-Modified, ETag)."""

    path: Path
    sha256: str
    name: str
    abi: str | None
    source: str
    record: CacheRecord | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 {self.sha256!r} is not 64 lowercase hex digits")

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "name": self.name, "abi": self.abi,
                "source": self.source, "origin": self.record.origin() if self.record is not None else None}


def custom_binary(path: Path, abi: str | None = None) -> BinaryFile:
    """A benchmark_model the user built: used as is, never cached, identified by its sha256."""
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"--benchmark-binary {path} {what}",
                         "pass the path of a benchmark_model file built for the device's ABI")
    try:
        sha256 = sha256_file(path)
    except OSError as error:
        raise UsageError(f"cannot read --benchmark-binary {path}: {error.strerror}",
                         "check the file's permissions") from None
    return BinaryFile(path=path.resolve(), sha256=sha256, name=CUSTOM_NAME, abi=abi, source="custom")


def resolve_binary(abi: str, name: str | None = None, custom_path: Path | None = None, *,
                   manifest: Manifest | None = None, cache: BinaryCache | None = None,
                   progress: Progress | None = None, timeout: float | None = None) -> BinaryFile:
    """The benchmark_model for a device reporting `abi`: `custom_path` if given; else build `name` (default the
    manifest's default) from the cache, refused if its bytes no longer match the recorded sha256; else
    downloaded now (`progress` gets bytes so far and the total)."""
    if custom_path is not None:
        return custom_binary(custom_path, abi)
    manifest = manifest or load_manifest()
    cache = cache or BinaryCache(cache_dir())
    entry = manifest.entry_for(abi, name)
    record = cache.read_record(entry)
    if record is not None and cache.binary_path(entry.key).is_file():
        cached = _checked(cache, entry, record)
        if cached is not None:
            return cached
    # Only a download needs the HTTP client (http.client, urllib: tens of ms of every run's start otherwise).
    from mai_bench.binaries.fetch import DOWNLOAD_TIMEOUT_S, fetch_binary

    outcome = fetch_binary(entry, cache, progress=progress, timeout=DOWNLOAD_TIMEOUT_S if timeout is None else timeout)
    return BinaryFile(path=outcome.path, sha256=outcome.record.sha256, name=entry.name, abi=entry.abi,
                      source="download", record=outcome.record)


def _checked(cache: BinaryCache, entry: BinaryEntry, record: CacheRecord) -> BinaryFile | None:
    """The cached build if its bytes still match its record; None when a newer manifest pin wants another."""
    check = verify_binary(cache, record)
    if check.status != "ok":
        raise InfraError(f"cached benchmark_model {check.path} has sha256 {check.sha256}, but {record.sha256} was "
                         f"recorded when it was downloaded from {record.url}: the file changed on disk, refused",
                         f"`{FORCE_FETCH} --abi {entry.abi} --name {entry.name}` downloads it again, "
                         f"or pass {CUSTOM_FLAG}")
    if entry.sha256 is not None and entry.sha256 != record.sha256:
        return None
    return BinaryFile(path=check.path, sha256=record.sha256, name=entry.name, abi=entry.abi, source="cache",
                      record=record)


@dataclass(frozen=True)
class EntryState:
    """A manifest entry and what the cache holds for it. `state`: "cached", "not cached", "file missing" (a
    record without its binary) or "damaged record". `trust`: "pinned" (the manifest's sha256), "recorded"
    (the sha256 of the first download) or None (nothing to check against yet)."""

    entry: BinaryEntry
    state: str
    record: CacheRecord | None
    path: Path | None

    @property
    def trust(self) -> str | None:
        if self.entry.sha256 is not None:
            return "pinned"
        return "recorded" if self.record is not None else None

    @property
    def sha256(self) -> str | None:
        return self.entry.sha256 or (self.record.sha256 if self.record else None)

    def to_dict(self) -> dict:
        record = self.record
        return {"name": self.entry.name, "abi": self.entry.abi, "url": self.entry.url, "note": self.entry.note,
                "state": self.state, "cached": self.state == "cached", "trust": self.trust, "sha256": self.sha256,
                "size": record.size if record else None, "fetched_at": record.fetched_at if record else None,
                "last_modified": record.last_modified if record else None, "etag": record.etag if record else None,
                "path": str(self.path) if self.path else None}


def entry_states(manifest: Manifest, cache: BinaryCache) -> list[EntryState]:
    """Every manifest entry with its cache state (records are read, binaries not re-hashed: see verify_cache)."""
    states = []
    for entry in manifest.entries:
        try:
            record = cache.read_record(entry)
        except InfraError:
            states.append(EntryState(entry, "damaged record", None, None))
            continue
        path = cache.binary_path(entry.key)
        if record is None:
            states.append(EntryState(entry, "not cached", None, None))
        elif path.is_file():
            states.append(EntryState(entry, "cached", record, path))
        else:
            states.append(EntryState(entry, "file missing", record, None))
    return states
