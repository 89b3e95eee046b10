"""The tool's two ways to fail: an error that ends the benchmark, and a FATAL check that aborts."""

from __future__ import annotations


class Failure(Exception):
    """The tool's error path: these ERROR lines, then "Benchmarking failed." and exit status 1."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = lines


class Fatal(Exception):
    """A failed TFLITE_TOOLS_CHECK or FATAL log: one FATAL line, then abort()."""
