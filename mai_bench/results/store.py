"""Save and load result documents. Writes are atomic (temp file + rename): a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from mai_bench.errors import UsageError
from mai_bench.results.schema import Result, ResultFormatError, result_from_dict


_umask_guard = threading.Lock()


def current_umask() -> int:
    """This process's umask, read without changing it where Linux shows it (/proc/self/status, since 4.7), else
    by setting and restoring it under a lock."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_guard:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename. A new file gets the mode any new file gets
    here (0666 less the umask), not mkstemp's private 0600: results and reports are meant to be shared; a file
    replaced keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def result_filename(result: Result) -> str:
    stamp = result.created_at.replace(":", "").replace("-", "").split(".")[0]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in result.model.name)[:60]
    serial = "".join(c if c.isalnum() or c in "._-" else "_" for c in result.device.serial)[:40]
    return f"{stamp}_{name}_{serial}_{result.delegate}.json"


def save_result(result: Result, out_dir: Path) -> Path:
    """Write `result` into `out_dir` under a name of its own: a second result of the same second, model, device
    and delegate gets a numbered name instead of replacing the first."""
    out_dir = Path(out_dir)
    base = result_filename(result)
    path, n = out_dir / base, 1
    while path.exists():
        n += 1
        path = out_dir / f"{base[:-5]}_{n}.json"
    write_result(result, path)
    return path


def write_result(result: Result, path: Path) -> None:
    """Write (or replace) one result file, atomically."""
    write_atomic(Path(path), json.dumps(result.to_dict(), indent=2) + "\n")


_FIX = "pass a file written by `mai-bench run --out` or `mai-bench farm`"


def read_documents(path: Path) -> list:
    """The JSON documents of a file: one object, a list of them, or JSON lines (a last line torn by a crash
    mid-write is left out). Anything else is a clear error naming the file, never a parser's exception."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"result file {path} does not exist", _FIX) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read result file {path}: {error}", "check the path and its permissions") from None
    try:
        try:
            data = json.loads(text)
            return data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            return _json_lines(path, text)
    except RecursionError:  # the JSON decoder recurses once per nesting level
        raise ResultFormatError(f"{path} nests JSON too deeply to be a mai-bench document", _FIX) from None


def load_results(path: Path) -> list[Result]:
    """Load a result file: one JSON object, a JSON list of them, or JSON lines."""
    results = []
    for item in read_documents(path):
        try:
            results.append(result_from_dict(item))
        except ResultFormatError as error:
            raise ResultFormatError(f"{path}: {error.message}", error.fix) from None
    return results


def _json_lines(path: Path, text: str) -> list:
    """JSON lines; a last line cut short by a crash mid-write (no newline after it) is left out, not an error."""
    lines = [line for line in text.splitlines() if line.strip()]
    items = []
    for n, line in enumerate(lines):
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as error:
            if n == len(lines) - 1 and not text.endswith("\n") and n > 0:
                break
            raise ResultFormatError(f"{path} is not JSON or JSON lines (line {n + 1}: {error})", _FIX) from None
    return items


def collect_results(paths) -> list[Result]:
    """Load every result from files and folders (a folder: its *.json and *.jsonl files, sorted)."""
    results: list[Result] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
            if not files:
                raise UsageError(f"{path} holds no result files", "pass the folder given to `mai-bench run --out`")
            for file in files:
                results.extend(load_results(file))
        else:
            results.extend(load_results(path))
    return results
