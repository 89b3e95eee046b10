"""Memory lines: footprint deltas at init and overall, and the periodically sampled peak."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mai_bench.parse.lines import Line
from mai_bench.parse.numeric import NUMBER, to_float

_PAIR = r"\(MB\):\s*init=(" + NUMBER + r")\s+overall=(" + NUMBER + ")"
_FOOTPRINT = (
    re.compile(r"Memory footprint delta from the start of the tool " + _PAIR),
    re.compile(r"Peak memory footprint " + _PAIR),  # older wording, same two numbers
)
_PEAK = re.compile(r"peak memory footprint \(MB\) via periodic monitoring:\s*(" + NUMBER + ")")
# The LiteRT CompiledModel block: "Init footprint:       6391.74 MB", "Peak memory:          93.24 MB".
_LITERT = {
    "init": re.compile(r"Init footprint:\s*(" + NUMBER + r")\s*MB"),
    "overall": re.compile(r"Overall footprint:\s*(" + NUMBER + r")\s*MB"),
    "peak": re.compile(r"Peak memory:\s*(" + NUMBER + r")\s*MB"),
}


@dataclass(frozen=True)
class Memory:
    init_mb: float | None
    overall_mb: float | None
    peak_mb: float | None


def read_memory(lines: tuple[Line, ...]) -> Memory:
    """The last value of each memory figure the log prints, in MB."""
    values: dict[str, float | None] = {}
    for line in lines:
        for pattern in _FOOTPRINT:
            match = pattern.search(line.text)
            if match:
                values["init"] = to_float(match.group(1), signed=True)
                values["overall"] = to_float(match.group(2), signed=True)
        match = _PEAK.search(line.text)
        if match:
            values["peak"] = to_float(match.group(1))
        for name, pattern in _LITERT.items():
            match = pattern.match(line.text)
            if match:
                values[name] = to_float(match.group(1), signed=name != "peak")
    return Memory(init_mb=values.get("init"), overall_mb=values.get("overall"), peak_mb=values.get("peak"))
