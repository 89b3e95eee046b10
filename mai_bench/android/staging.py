"""Stage files on a device under /data/local/tmp/mai-bench/, pushing only what the device does not already
hold: a file is sent when the hash of its device copy differs (one shell round trip for all files).

The device hashes with `sha256sum` where it has one: toybox has it since 0.7.2, i.e. about Android 8.0. Older
toybox (Android 6 and 7) has only `md5sum`, Android 5's toolbox only `md5`: there the copies are compared by
MD5, which only decides whether to push (every result still records the host file's sha256). A device with none
of them gets every file pushed again, and the run says so (`comparison_note`).

Executables (the benchmark binary) are made executable on the device whatever their local mode: pushed with
mode 0755, and a cached copy that lost its x bit is chmod'ed.
"""

from __future__ import annotations

import hashlib
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

_HASH = {"sha256": re.compile(r"[0-9a-f]{64}"), "md5": re.compile(r"[0-9a-f]{32}")}
EXECUTABLE_MODE = 0o755
CHMOD_TIMEOUT_S = 30.0
# The device's hashing commands, best first, and the digest each prints.
HASH_COMMANDS = (("sha256sum", "sha256"), ("md5sum", "md5"), ("md5", "md5"))


@dataclass(frozen=True)
class StagedFile:
    """One file to have on the device: where it is here, where it goes there, and its sha256."""

    role: str  # "binary", "model", "wrapper", ...
    local: Path
    remote: str
    sha256: str
    size_bytes: int
    executable: bool = False  # made executable on the device whatever its local mode


@dataclass(frozen=True)
class Transfer:
    """What staging did for one file: pushed (how many bytes) or found cached on the device."""

    role: str
    remote: str
    sha256: str
    size_bytes: int
    cached: bool
    pushed_bytes: int
    compared_by: str | None = "sha256"  # how the device copy was compared: "sha256", "md5", None (not at all)

    def to_dict(self) -> dict:
        return {"role": self.role, "remote": self.remote, "sha256": self.sha256, "size_bytes": self.size_bytes,
                "cached": self.cached, "pushed_bytes": self.pushed_bytes, "compared_by": self.compared_by}


def content_path(folder: str, sha256: str, name: str) -> str:
    """A device path that changes with the content: `REMOTE_ROOT/folder/<sha256[:16]>/name`."""
    return posixpath.join(REMOTE_ROOT, folder, sha256[:16], name)


def push_timeout(size_bytes: int) -> float:
    return PUSH_TIMEOUT_BASE_S + size_bytes / PUSH_MIN_RATE_BPS


# The first line names the hashing command found ("by=" when there is none); then one line per argument, in
# order: the hash, or "-" when the file is missing or unreadable, and "x" when it is executable, else "-". The
# answer never repeats the paths, so it does not matter how the device spells them back.
_HASH_SCRIPT = r"""h=
for t in """ + " ".join(command for command, _ in HASH_COMMANDS) + r"""; do
  if command -v "$t" >/dev/null 2>&1; then h=$t; break; fi
done
echo "by=$h"
for f in "$@"; do
  x=-; [ -x "$f" ] && x=x
  if [ -n "$h" ] && s=$("$h" "$f" 2>/dev/null); then echo "${s%% *} $x"; else echo "- $x"; fi
done
"""


@dataclass(frozen=True)
class DeviceCopies:
    """What the device holds at the staged paths: each existing file's hash by `algorithm` ("sha256", "md5",
    or None when the device has no hashing command), and which are executable."""

    algorithm: str | None
    hashes: dict[str, str]
    executable: frozenset[str]


def device_copies(device: Device, remotes: Sequence[str]) -> DeviceCopies:
    """Hash every remote path on the device in one round trip (missing files are absent from `hashes`)."""
    if not remotes:
        return DeviceCopies("sha256", {}, frozenset())
    result = device.shell(["sh", "-c", _HASH_SCRIPT, "sh", *remotes], HASH_TIMEOUT_S, check=True)
    lines = result.out.splitlines()
    command = lines[0].partition("by=")[2].strip() if lines and lines[0].startswith("by=") else ""
    algorithm = dict(HASH_COMMANDS).get(command)
    hashes: dict[str, str] = {}
    executable = set()
    for remote, line in zip(remotes, lines[1:]):
        digest, _, flag = line.strip().partition(" ")
        if algorithm is not None and _HASH[algorithm].fullmatch(digest):
            hashes[remote] = digest
        if flag.strip() == "x":
            executable.add(remote)
    return DeviceCopies(algorithm, hashes, frozenset(executable))


def device_hashes(device: Device, remotes: Sequence[str]) -> dict[str, str]:
    """sha256 of each remote path that exists; empty where the device cannot compute sha256."""
    copies = device_copies(device, remotes)
    return copies.hashes if copies.algorithm == "sha256" else {}


def _local_digest(f: StagedFile, algorithm: str) -> str:
    if algorithm == "sha256":
        return f.sha256
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(f.local, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage(device: Device, files: Sequence[StagedFile]) -> tuple[Transfer, ...]:
    """Make every file present on the device with its exact content; push only the ones that differ. Executables
    end up executable: pushed with mode 0755, a cached copy without its x bit chmod'ed."""
    copies = device_copies(device, [f.remote for f in files])
    transfers = []
    to_chmod = []
    for f in files:
        by = copies.algorithm
        if by is not None and copies.hashes.get(f.remote) == _local_digest(f, by):
            if f.executable and f.remote not in copies.executable:
                to_chmod.append(f.remote)
            transfers.append(Transfer(f.role, f.remote, f.sha256, f.size_bytes, cached=True, pushed_bytes=0,
                                      compared_by=by))
            continue
        pushed = device.push(f.local, f.remote, push_timeout(f.size_bytes),
                             mode=EXECUTABLE_MODE if f.executable else None)
        transfers.append(Transfer(f.role, f.remote, f.sha256, f.size_bytes, cached=False, pushed_bytes=pushed,
                                  compared_by=by))
    if to_chmod:
        device.shell(["chmod", f"{EXECUTABLE_MODE:o}", *to_chmod], CHMOD_TIMEOUT_S, check=True)
    return tuple(transfers)


def comparison_note(transfers: Sequence[Transfer]) -> str | None:
    """A warning for a run whose files could not be compared with the device's copies (pushed again each time)."""
    if not any(t.compared_by is None for t in transfers):
        return None
    return ("the device has no sha256sum, md5sum or md5 command (sha256sum needs toybox 0.7.2, about Android 8.0): "
            "its copies could not be compared, so every file was pushed again")
