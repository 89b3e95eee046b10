"""Memory, as the tool measures it."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path


def max_rss_kb() -> int:
    """The peak resident set size so far (KB): what the tool's GetMemoryUsage() reads."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakMemoryMonitor:
    """The --report_peak_memory_footprint thread: samples the footprint every interval until stopped."""

    def __init__(self, interval_ms: int):
        self._interval_s = interval_ms / 1000.0
        self._stop = threading.Event()
        self._peak_kb = 0
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            self._peak_kb = max(self._peak_kb, max_rss_kb())
            if self._stop.is_set():
                return
            self._stop.wait(self._interval_s)

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self._peak_kb / 1024.0


def statm_mb() -> tuple[int, int, int] | None:
    """(rss, anonymous, file+shmem) in whole MB from /proc/self/statm, as the tool's end-of-run status."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    rss, shared = (int(fields[1]) * page) >> 20, (int(fields[2]) * page) >> 20
    return rss, rss - shared, shared
