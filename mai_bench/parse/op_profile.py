"""The op profiler's "Summary by node type" table for the timed runs (`--enable_op_profiling`)."""

from __future__ import annotations

import re

from mai_bench.parse.lines import Line
from mai_bench.parse.numeric import INTEGER, NUMBER, to_float, to_int
from mai_bench.parse.run import OpProfileRow

_REGULAR = re.compile(r"Profiling Info for Regular Benchmark Runs")
_ANY_PROFILE = re.compile(r"Profiling Info for")
_TABLE = re.compile(r"=+ *Summary by node type *=+")
_COLUMN_NAMES = re.compile(r"\[node type\]", re.IGNORECASE)
_INT = re.compile(INTEGER)
_REAL = re.compile(NUMBER)
_PERCENT = re.compile("(" + NUMBER + ")%")


def _row(text: str) -> OpProfileRow | None:
    """`node type, count, avg ms, avg %, cdf %[, mem KB, times called]`, tab- or space-separated."""
    tokens = [t.strip() for t in text.split("\t") if t.strip()] if "\t" in text else text.split()
    # The node type is whatever precedes the 4 to 6 numeric columns (tabs lost in a paste split it).
    for start in range(1, len(tokens)):
        numbers = tokens[start:]
        if not 4 <= len(numbers) <= 6:
            continue
        count = to_int(numbers[0]) if _INT.fullmatch(numbers[0]) else None
        avg = to_float(numbers[1]) if _REAL.fullmatch(numbers[1]) else None
        pct = [_PERCENT.fullmatch(n) for n in numbers[2:4]]
        mem = to_float(numbers[4]) if len(numbers) > 4 and _REAL.fullmatch(numbers[4]) else None
        called = to_int(numbers[5]) if len(numbers) > 5 and _INT.fullmatch(numbers[5]) else None
        if count is None or avg is None or not all(pct) or (len(numbers) > 4 and mem is None) \
                or (len(numbers) > 5 and called is None):
            continue
        percent, cdf = (to_float(m.group(1)) for m in pct)
        if percent is None or cdf is None:
            continue
        return OpProfileRow(node_type=" ".join(tokens[:start]), count=count, avg_ms=avg, percent=percent,
                            cdf_percent=cdf, mem_kb=mem, times_called=called)
    return None


def read_op_profile(lines: tuple[Line, ...]) -> tuple[OpProfileRow, ...]:
    """Rows of the last timed-run summary table; empty when the log has none."""
    rows: tuple[OpProfileRow, ...] = ()
    regular = in_table = False
    current: list[OpProfileRow] = []
    for line in lines:
        text = line.text
        if _ANY_PROFILE.search(text):
            regular, in_table = bool(_REGULAR.search(text)), False
            continue
        if not regular:
            continue
        if _TABLE.search(text):
            in_table, current = True, []
            continue
        if not in_table or _COLUMN_NAMES.search(text):
            continue
        row = _row(text)
        if row is None:
            in_table = False  # a blank line or "Timings (microseconds): ..." closes the table
            rows = tuple(current) or rows
        else:
            current.append(row)
    if in_table and current:
        rows = tuple(current)
    return rows
