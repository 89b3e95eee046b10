"""The stat line benchmark_model prints after the warm-up and after the timed runs.

Three shapes (tsl StatsCalculator): `count=0`; `count=N curr=T` (one run) or `count=N curr=T(all same)`;
`count=N first=.. curr=.. min=.. max=.. avg=.. std=..`, newer builds adding `p5=.. median=.. p95=..`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mai_bench.parse.numeric import INTEGER, NUMBER, to_float, to_int

_COUNT = re.compile(r"(?<![\w.=])count=(" + INTEGER + ")")
_PAIR = re.compile(r"([a-z0-9]{1,10})=(" + NUMBER + ")")
# The op profiler's own stat lines: never the run's.
_NOT_A_RUN = re.compile(r"Timings|Memory \(bytes\)")


@dataclass(frozen=True)
class StatLine:
    count: int
    first: float | None
    curr: float | None
    min: float | None
    max: float | None
    avg: float | None
    std: float | None
    p5: float | None
    median: float | None
    p95: float | None


def parse_stat_line(text: str) -> StatLine | None:
    """The stat line in `text` (a message), or None when there is none or it holds no run."""
    match = _COUNT.search(text)
    if not match or _NOT_A_RUN.search(text, 0, match.start()):
        return None
    count = to_int(match.group(1))
    if not count:
        return None
    rest = text[match.end():]
    values = {key: to_float(value) for key, value in _PAIR.findall(rest)}
    curr = values.get("curr")
    if curr is not None and (count == 1 or "(all same)" in rest) and values.get("avg") is None:
        # Every sample equals `curr`, so first/min/max/avg/percentiles are `curr` exactly; the spread
        # is zero for several equal samples and does not exist for a single one.
        same = {key: curr for key in ("first", "min", "max", "avg", "p5", "median", "p95")}
        same.update({key: value for key, value in values.items() if value is not None})
        values = same
        values.setdefault("std", 0.0 if count > 1 else None)
    return StatLine(count=count, **{key: values.get(key) for key in
                                    ("first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")})
