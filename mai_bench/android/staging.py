"""Stage files on a device under /data/local/tmp/mai-bench/, pushing only what the device does not already
hold: a file is sent when the sha256 of its device copy differs (one `sha256sum` round trip for all files)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from mai_bench.device.device import Device

REMOTE_ROOT = "/data/local/tmp/mai-bench"
HASH_TIMEOUT_S = 60.0
# Time allowed per byte pushed on top of a fixed allowance: 5 MB/s is far below any USB 2 link.
PUSH_TIMEOUT_BASE_S = 30.0
PUSH_MIN_RATE_BPS = 5_000_000

_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StagedFile:
    """One file to have on the device: where it is here, where it goes there, and its sha256."""

    role: str  # "binary", "model", "wrapper", ...
    local: Path
    remote: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Transfer:
    """What staging did for one file: pushed (how many bytes) or found cached on the device."""

    role: str
    remote: str
    sha256: str
    size_bytes: int
    cached: bool
    pushed_bytes: int

    def to_dict(self) -> dict:
        return {"role": self.role, "remote": self.remote, "sha256": self.sha256, "size_bytes": self.size_bytes,
                "cached": self.cached, "pushed_bytes": self.pushed_bytes}


def content_path(folder: str, sha256: str, name: str) -> str:
    """A device path that changes with the content: `REMOTE_ROOT/folder/<sha256[:16]>/name`."""
    return posixpath.join(REMOTE_ROOT, folder, sha256[:16], name)


def push_timeout(size_bytes: int) -> float:
    return PUSH_TIMEOUT_BASE_S + size_bytes / PUSH_MIN_RATE_BPS


# One line per argument, in order: the hash, or "-" when the file is missing or unreadable. The answer never
# repeats the paths, so it does not matter how the device spells them back.
_HASH_SCRIPT = 'for f in "$@"; do h=$(sha256sum "$f" 2>/dev/null) && echo "${h%% *}" || echo -; done'


def device_hashes(device: Device, remotes: Sequence[str]) -> dict[str, str]:
    """sha256 of each remote path that exists (missing files are simply absent from the answer)."""
    if not remotes:
        return {}
    result = device.shell(["sh", "-c", _HASH_SCRIPT, "sh", *remotes], HASH_TIMEOUT_S)
    answers = result.out.split()
    return {remote: answer for remote, answer in zip(remotes, answers) if _HASH.fullmatch(answer)}


def stage(device: Device, files: Sequence[StagedFile]) -> tuple[Transfer, ...]:
    """Make every file present on the device with its exact content; push only the ones that differ."""
    present = device_hashes(device, [f.remote for f in files])
    transfers = []
    for f in files:
        if present.get(f.remote) == f.sha256:
            transfers.append(Transfer(f.role, f.remote, f.sha256, f.size_bytes, cached=True, pushed_bytes=0))
            continue
        pushed = device.push(f.local, f.remote, push_timeout(f.size_bytes))
        transfers.append(Transfer(f.role, f.remote, f.sha256, f.size_bytes, cached=False, pushed_bytes=pushed))
    return tuple(transfers)
