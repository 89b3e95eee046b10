"""Download one benchmark_model build into the cache: stream to a temp file beside the cache, check the size
(Content-Length) and the sha256 (the manifest's pin, else the hash recorded at the first download), then move it
into place atomically. Any failure removes the temp file: the cache holds whole, checked files or nothing.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mai_bench import __version__
from mai_bench.binaries.cache import FORCE_FETCH, BinaryCache, CacheRecord
from mai_bench.binaries.manifest import BASE_URL_ENV, CUSTOM_FLAG, BinaryEntry
from mai_bench.clock import utc_now
from mai_bench.errors import InfraError

# Seconds one socket operation (connect, or one read) may take; a stalled server fails, a slow one does not.
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 16
# Errors of the cache's disk, not of the network: they need a different fix.
_LOCAL_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES}

# (bytes received so far, total bytes or None when the server does not say)
Progress = Callable[[int, "int | None"], None]
# A server's header value is kept as text for the record: printable, and short enough for any report.
HEADER_MAX_CHARS = 200
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class _Download:
    sha256: str
    size: int
    last_modified: str | None
    etag: str | None


def _header(headers, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    value = _UNPRINTABLE.sub(" ", str(value)).strip()[:HEADER_MAX_CHARS]
    return value or None


@dataclass(frozen=True)
class FetchOutcome:
    """`status`: "downloaded" (first time), "unchanged" (same sha256 as recorded), "replaced" (a different
    build accepted by a pin or --force)."""

    record: CacheRecord
    path: Path
    status: str


def _offline_fix(entry: BinaryEntry) -> str:
    return f"check the network and run again, or pass {CUSTOM_FLAG} with a benchmark_model for {entry.abi}"


def _download(entry: BinaryEntry, temp: Path, timeout: float, progress: Progress | None) -> _Download:
    """Stream `entry.url` into `temp`; returns its sha256, size and the server's Last-Modified and ETag. Raises
    InfraError on any failure."""
    request = urllib.request.Request(entry.url, headers={"User-Agent": f"mai-bench/{__version__}"})
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(temp, "wb") as out:
            last_modified, etag = _header(response.headers, "Last-Modified"), _header(response.headers, "ETag")
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            if progress is not None:
                progress(0, total)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(size, total)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise InfraError(f"{entry.url} was not found (HTTP 404): the server has no {entry.name} build for "
                             f"{entry.abi}",
                             f"check the URL (the manifest's base_url, or ${BASE_URL_ENV}), or pass {CUSTOM_FLAG} "
                             f"with a benchmark_model for {entry.abi}") from None
        raise InfraError(f"downloading {entry.url} failed: HTTP {error.code} {error.reason}",
                         _offline_fix(entry)) from None
    except urllib.error.URLError as error:
        raise InfraError(f"cannot reach {entry.url}: {error.reason}", _offline_fix(entry)) from None
    except OSError as error:
        if error.errno in _LOCAL_WRITE_ERRORS:
            raise InfraError(f"cannot write the download of {entry.url} into {temp.parent}: {error.strerror}",
                             "free space there, or point XDG_CACHE_HOME at another folder") from None
        raise InfraError(f"downloading {entry.url} broke off after {size:,} bytes: {error or type(error).__name__}",
                         _offline_fix(entry)) from None
    except http.client.HTTPException as error:
        raise InfraError(f"downloading {entry.url} broke off after {size:,} bytes: {error or type(error).__name__}",
                         _offline_fix(entry)) from None
    if total is not None and size != total:
        raise InfraError(f"downloading {entry.url} broke off: got {size:,} of {total:,} bytes",
                         "run the command again; the cache was left as it was")
    return _Download(digest.hexdigest(), size, last_modified, etag)


def _check(entry: BinaryEntry, sha256: str, previous: CacheRecord | None, force: bool) -> None:
    if entry.sha256 is not None:
        if sha256 != entry.sha256:
            raise InfraError(f"{entry.url} has sha256 {sha256}, but the manifest pins {entry.sha256}: refused, "
                             f"nothing was cached",
                             f"the server's file changed; pass {CUSTOM_FLAG}, or update the pin after checking it")
        return
    if previous is not None and previous.sha256 != sha256 and not force:
        raise InfraError(f"{entry.url} now has sha256 {sha256}, but {previous.sha256} is recorded for "
                         f"{entry.name} {entry.abi} (fetched {previous.fetched_at}): refused, the cached build was kept",
                         f"to take the new build on purpose, run `{FORCE_FETCH} --abi {entry.abi} --name {entry.name}`")


def fetch_binary(entry: BinaryEntry, cache: BinaryCache, *, force: bool = False, progress: Progress | None = None,
                 timeout: float = DOWNLOAD_TIMEOUT_S) -> FetchOutcome:
    """Download `entry` into `cache`. A pin must match; without one, a sha256 different from the one recorded at
    an earlier fetch is refused unless `force` (which also replaces a damaged record). The cache is changed only
    by a download that passed every check."""
    try:
        previous = cache.read_record(entry)
    except InfraError:
        if not force:
            raise
        previous = None
    try:
        cache.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{entry.key}.", suffix=".part", dir=cache.root)
    except OSError as error:
        raise InfraError(f"cannot write into the binaries cache {cache.root}: {error.strerror}",
                         "fix its permissions, or point XDG_CACHE_HOME at a folder you can write") from None
    os.close(fd)
    temp = Path(name)
    try:
        got = _download(entry, temp, timeout, progress)
        sha256 = got.sha256
        _check(entry, sha256, previous, force)
        record = CacheRecord(name=entry.name, abi=entry.abi, url=entry.url, sha256=sha256, size=got.size,
                             fetched_at=utc_now(), last_modified=got.last_modified, etag=got.etag)
        try:
            path = cache.store(temp, record)
        except OSError as error:
            raise InfraError(f"cannot store {entry.url} in the binaries cache {cache.root}: {error.strerror}",
                             "free space there, or point XDG_CACHE_HOME at another folder") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if previous is None:
        status = "downloaded"
    else:
        status = "unchanged" if previous.sha256 == sha256 else "replaced"
    return FetchOutcome(record=record, path=path, status=status)
