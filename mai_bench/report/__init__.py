"""Report exporters behind one interface: each format is a module with `render(report) -> str`, imported only
when asked for (html pulls in matplotlib)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mai_bench.report.merge import Report

# format -> (module under mai_bench.report, file suffix)
FORMATS: dict[str, tuple[str, str]] = {
    "table": ("terminal", ".txt"),
    "md": ("markdown", ".md"),
    "html": ("html", ".html"),
    "csv": ("csv", ".csv"),
    "json": ("json", ".json"),
}


def render(report: "Report", fmt: str) -> str:
    """The report in format `fmt` (one of FORMATS) as text."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
    module = importlib.import_module(f"mai_bench.report.{FORMATS[fmt][0]}")
    return module.render(report)
