"""How every rich console of mai-bench is made (the CLI's in `mai_bench.cli.console`, the plain-text report's in
`mai_bench.report.terminal`).

On a terminal: rich's own layout, at the terminal's width (COLUMNS when it is set), prose wrapped at words and
tables fitted to the width. Anywhere else (a pipe, a file, a CI log) nothing is ever wrapped, whatever COLUMNS
says: a text line is written whole (no line break inserted, nothing cropped) and a table gets all the width it
measures, so an error message keeps its file path in one piece and a table row stays one line."""

from __future__ import annotations

import sys
from typing import IO, Any

from rich.console import Console

# "Unlimited" for a stream that is not a terminal. A table takes only the width it measures, never this much,
# and nothing mai-bench prints fills the width (no rules, no panels, no expanding tables).
UNWRAPPED_WIDTH = 100_000


def is_tty(stream: IO[str] | None) -> bool:
    """Whether `stream` is a terminal (a pipe, a file, a closed stream or None is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def make_console(file: IO[str] | None = None, *, stderr: bool = False, **options: Any) -> Console:
    """A console on `file` (default stdout, or stderr): wrapped to the terminal on a terminal, never wrapped
    elsewhere. `options` go to rich's Console (color_system=None, record=True, ...); no highlighting unless
    asked for."""
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    options.setdefault("highlight", False)
    if not is_tty(stream):
        options.setdefault("width", UNWRAPPED_WIDTH)
        options.setdefault("soft_wrap", True)
    return Console(file=file, stderr=stderr, **options)
