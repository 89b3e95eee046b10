"""Small helpers shared by test modules (on sys.path through pytest's `pythonpath` setting)."""

from __future__ import annotations

import time
from pathlib import Path


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll `condition()` until it returns something truthy (and return that); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def cmdline(pid: int) -> str:
    """A process's command line, '' once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
