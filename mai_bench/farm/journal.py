"""The farm's results journal: one Result per line (JSON lines), appended the moment a job finishes.

Each line goes out in a single write of the complete line and is fsynced before the next job's result is
accepted, so at most the line being written when the process was killed can be incomplete. Such a torn last
line (no newline at the end) is skipped by `read_journal` and cut off by `Journal.open` before it appends,
so a resumed farm never glues a new line onto half an old one. The journal is flock-ed while a farm writes
it: two farms writing one folder would interleave jobs.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from mai_bench.errors import UsageError
from mai_bench.results.schema import Result, ResultFormatError, result_from_dict

JOURNAL_NAME = "results.jsonl"


def read_journal(path: Path) -> list[Result]:
    """Every complete result in the journal, in the order written; a torn last line is skipped. A missing
    journal is empty. A damaged line anywhere else is an error naming the file and line."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error}", "check the path and its permissions") from None
    complete, _, _torn = data.rpartition(b"\n")
    results = []
    for number, line in enumerate(complete.split(b"\n") if complete else [], start=1):
        if not line.strip():
            continue
        try:
            results.append(result_from_dict(json.loads(line)))
        except (ValueError, RecursionError, ResultFormatError) as error:
            detail = error.message if isinstance(error, ResultFormatError) else str(error)
            raise ResultFormatError(f"{path} line {number} is not a mai-bench result: {detail}",
                                    "delete that line (or the file, to start the farm afresh)") from None
    return results


class Journal:
    """An open journal, held exclusively by this process until `close`."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Open (creating it and its folder) for appending, after cutting off a torn last line."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)  # less the umask, as any new file
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"{path} is being written by another mai-bench farm",
                             "wait for it to finish, or give this farm another --out folder") from None
        try:
            _cut_torn_tail(fd)
            _fsync_dir(path.parent)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def append(self, result: Result) -> None:
        """Write the result as one complete line and make it durable."""
        if self._fd < 0:
            raise ValueError(f"the journal {self.path} is closed")
        line = (json.dumps(result.to_dict(), separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # also releases the flock
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cut_torn_tail(fd: int) -> None:
    size = os.fstat(fd).st_size
    if size == 0:
        return
    keep = size
    chunk = 64 * 1024
    while keep > 0:
        start = max(0, keep - chunk)
        block = os.pread(fd, keep - start, start)
        if start + len(block) == size and block.endswith(b"\n"):
            return  # the file ends with a complete line
        newline = block.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        keep = start
    os.ftruncate(fd, keep)
    os.fsync(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
