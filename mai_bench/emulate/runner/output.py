"""Output: the tool's log lines (each flushed at once) and its microsecond clock."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from mai_bench.emulate.runner.flags import _f32


def _emit(stream: Any, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def info(text: str) -> None:
    _emit(sys.stdout, "INFO: " + text)


def warn(text: str) -> None:
    _emit(sys.stdout, "WARN: " + text)


def error(text: str) -> None:
    _emit(sys.stderr, "ERROR: " + text)


def runtime_log(severity: str, text: str) -> None:
    """A line the LiteRT runtime itself logs (TFLITE_LOG_PROD): always stderr."""
    _emit(sys.stderr, f"{severity}: {text}")


def _now_us() -> int:
    return time.perf_counter_ns() // 1000


def _secs_to_us(secs: float) -> int:
    """static_cast<int64_t>(secs * 1e6f), saturating where C++ leaves an infinite product undefined."""
    product = _f32(secs * 1e6)
    return int(product) if math.isfinite(product) else int(math.copysign(2**62, product))
