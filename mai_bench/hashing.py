"""sha256 of files: the identity every result records for models, binaries and what is staged on a device."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_files(named: Iterable[tuple[str, Path]]) -> tuple[str, dict[str, str]]:
    """One digest over (name, file) pairs, sorted by name, so that a renamed, changed, added or removed file
    changes it; and each file's own sha256 by name (hashed once, for callers that need both)."""
    each = {name: sha256_file(path) for name, path in sorted(named)}
    digest = hashlib.sha256()
    for name, sha in each.items():
        digest.update(name.encode() + b"\0" + sha.encode())
    return digest.hexdigest(), each
