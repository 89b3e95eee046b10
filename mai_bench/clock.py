"""The one timestamp format of every document mai-bench writes: UTC, ISO 8601, whole seconds."""

from __future__ import annotations

import datetime as _dt


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
