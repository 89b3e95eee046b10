"""Statistics, as tsl::Stat / tsl::StatWithPercentiles print them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def cpp_g(value: float) -> str:
    """A double as a C++ ostream prints it by default (six significant digits, %g)."""
    return f"{value:g}"


def stat_avg(samples: Sequence[int]) -> float:
    """Stat::avg(); an empty stat's avg is int64's quiet_NaN(), which is 0."""
    return sum(samples) / len(samples) if samples else 0.0


def stat_std(samples: Sequence[int]) -> int:
    """Stat::std_deviation(): population variance truncated to int64, then its square root truncated."""
    if not samples or min(samples) == max(samples):
        return 0
    squared_sum = 0.0
    for value in samples:
        squared_sum += float(value) * value
    avg = stat_avg(samples)
    variance = int(squared_sum / len(samples) - avg * avg)
    return int(math.sqrt(variance)) if variance > 0 else 0


def stat_percentile(samples: Sequence[int], percent: int) -> int:
    """StatWithPercentiles::percentile(): the nth_element at size*p/100; p=100 takes the last sample as stored."""
    if not samples or not 0 <= percent <= 100:
        return 0
    if percent == 100:
        return samples[-1]
    return sorted(samples)[len(samples) * percent // 100]


def stat_line(samples: Sequence[int], percentiles: bool = True) -> str:
    """The `count=... first=... curr=...` line for `samples` (microseconds, in run order)."""
    if not samples:
        text = "count=0"
    elif min(samples) == max(samples):
        text = f"count={len(samples)} curr={samples[-1]}" + ("(all same)" if len(samples) > 1 else "")
    else:
        text = (f"count={len(samples)} first={samples[0]} curr={samples[-1]} min={min(samples)} "
                f"max={max(samples)} avg={cpp_g(stat_avg(samples))} std={stat_std(samples)}")
    if percentiles:
        text += (f" p5={stat_percentile(samples, 5)} median={stat_percentile(samples, 50)}"
                 f" p95={stat_percentile(samples, 95)}")
    return text


def node_type_summary(plan_types: Sequence[str], samples: Sequence[int]) -> str:
    """The op profiler's "Summary by node type" report for the execution plan, without per-node times.

    Counts and times-called are real; the time columns print nan because nothing measured them, and rows
    come in the profiler's order for equal times (node type, descending). "Timings" holds the per-invoke times.
    """
    def field(text: str, width: int) -> str:
        return "\t" + text.rjust(width)

    counts = Counter(plan_types)
    header = "".join(field(text, width) for text, width in (
        ("[Node type]", 24), ("[count]", 9), ("[avg ms]", 10), ("[avg %]", 11), ("[cdf %]", 11), ("[mem KB]", 10),
        ("[times called]", 10)))
    rows = [field(kind, 24) + field(str(count), 9) + field("nan", 10) + field("nan", 10) + "%" + field("nan", 10)
            + "%" + field("0.000", 10) + field(str(count), 9)
            for kind, count in sorted(counts.items(), reverse=True)]
    nodes = len(plan_types)
    return (f"Number of nodes executed: {nodes}\n"
            "============================== Summary by node type ==============================\n"
            + header + "\n" + "".join(row + "\n" for row in rows) + "\n"
            + f"Timings (microseconds): {stat_line(samples, percentiles=False)}\n"
            + "Memory (bytes): count=0\n"
            + f"{nodes} nodes observed\n\n")
