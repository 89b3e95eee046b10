"""Timings: the phase headers, the stat lines, and the summary in its classic and LiteRT forms."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mai_bench.parse.lines import Line
from mai_bench.parse.numeric import INTEGER, NUMBER, ms_to_us, to_float, to_int, ulp
from mai_bench.parse.stat_line import StatLine, parse_stat_line

_HEADER = re.compile(r"Running benchmark for at least " + INTEGER + " iterations")
_PROFILE = re.compile(r"Profiling Info for")
_SESSION = re.compile(r"Initialized session in (" + NUMBER + r")\s*ms")

# "Inference timings in us: Init: 5579, First inference: 1357602, Warmup (avg): 1.3576e+06, Inference (avg): ..."
# "Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9"   ("no stats: " in older)
_CLASSIC = re.compile(r"[Ii]nference timings in us:(.*)")
_CLASSIC_PAIR = re.compile(r"([A-Za-z][A-Za-z ()]{0,30}?)\s*:\s*(" + NUMBER + ")")
_CLASSIC_KEYS = {"init": "init", "first inference": "first", "warmup (avg)": "warmup", "warmup": "warmup",
                 "inference (avg)": "inference", "inference": "inference", "no stats": "inference"}
# The tool prints this note and then, always, the memory line: a log that stops at the note was cut.
_NOTE = re.compile(r"the following is only APPROXIMATE")
_MEMORY_AFTER_NOTE = re.compile(r"[Mm]emory footprint")

# LiteRT CompiledModel tool (benchmark_litert_model): a block in milliseconds, closed by a "=====" rule.
_LITERT_OPEN = re.compile(r"=+ *BENCHMARK RESULTS *=+")
_LITERT_CLOSE = re.compile(r"={10,}")
_RUNS = r"(?:\s*\((" + INTEGER + r") runs?\))?"
_LITERT = {
    "init": re.compile(r"Model initialization:\s*(" + NUMBER + r")\s*ms"),
    "first": re.compile(r"Warmup \(first\):\s*(" + NUMBER + r")\s*ms"),
    "warmup": re.compile(r"Warmup \(avg\):\s*(" + NUMBER + r")\s*ms" + _RUNS),
    "inference": re.compile(r"Inference \(avg\):\s*(" + NUMBER + r")\s*ms" + _RUNS),
    "min": re.compile(r"Inference \(min\):\s*(" + NUMBER + r")\s*ms"),
    "max": re.compile(r"Inference \(max\):\s*(" + NUMBER + r")\s*ms"),
    "std": re.compile(r"Inference \(std\):\s*(" + NUMBER + r")"),
}
LITERT_STEP_US = 10.0  # the block prints milliseconds with 2 decimals
LITERT_EXACT_NOTE = ("LiteRT results block printed milliseconds rounded to 0.01; the timings are the exact microsecond "
                     "stat lines' (init the session line's where it is finer), memory the block's")
LITERT_UNITS_NOTE = ("LiteRT CompiledModel results block printed milliseconds (std without a unit, taken as ms); "
                     "converted to microseconds")


@dataclass(frozen=True)
class Summary:
    """The run's summary as printed; `complete` is False when the log stops inside it."""

    init: float | None
    first: float | None
    warmup: float | None
    inference: float
    warmup_count: int | None
    count: int | None
    min: float | None
    max: float | None
    std: float | None
    complete: bool
    in_ms: bool  # the LiteRT block: values were milliseconds, rounded to 10 us


@dataclass(frozen=True)
class Timings:
    started: bool  # a phase header, a stat line or a session init was seen
    summary: Summary | None
    timed: StatLine | None
    warmup: StatLine | None
    session_init_us: float | None
    session_init_step_us: float | None = None  # the last printed digit of "Initialized session in X ms", in us

    def init_us(self) -> float | None:
        """Init time: the summary's, except where the LiteRT block rounds it (to 10 us) more coarsely than the
        session line prints it (6 significant digits: 1 us below one second)."""
        summary = self.summary
        if summary is None or summary.init is None:
            return self.session_init_us
        if summary.in_ms and self.session_init_us is not None and self.session_init_step_us is not None \
                and self.session_init_step_us <= LITERT_STEP_US \
                and abs(self.session_init_us - summary.init) <= LITERT_STEP_US / 2 + self.session_init_step_us:
            return self.session_init_us
        return summary.init

    def first_us(self) -> float | None:
        if self.summary is not None and not self.summary.in_ms and self.summary.first is not None:
            return self.summary.first
        return _first_known(self.warmup and self.warmup.first, self.summary and self.summary.first)

    def warmup_avg_us(self) -> float | None:
        if self.summary is not None and not self.summary.in_ms and self.summary.warmup is not None:
            return self.summary.warmup
        return _first_known(self.warmup and self.warmup.avg, self.summary and self.summary.warmup)

    def inference_avg_us(self) -> float | None:
        """The timed runs' average: the classic summary's, or, under a LiteRT block (0.01 ms), the stat line's."""
        if self.summary is not None and not self.summary.in_ms:
            return self.summary.inference
        return _first_known(self.timed and self.timed.avg, self.summary and self.summary.inference)


def _first_known(*values):
    return next((value for value in values if value is not None), None)


def _classic_summary(lines: tuple[Line, ...]) -> Summary | None:
    for position in range(len(lines) - 1, -1, -1):
        match = _CLASSIC.search(lines[position].text)
        if not match:
            continue
        values: dict[str, float | None] = {}
        for key, number in _CLASSIC_PAIR.findall(match.group(1)):
            name = _CLASSIC_KEYS.get(key.strip().lower())
            if name:
                values[name] = to_float(number)
        if values.get("inference") is None:
            return None
        rest = lines[position + 1:]
        note = next((i for i, line in enumerate(rest) if _NOTE.search(line.text)), None)
        complete = note is None or any(_MEMORY_AFTER_NOTE.search(line.text) for line in rest[note + 1:])
        return Summary(init=values.get("init"), first=values.get("first"), warmup=values.get("warmup"),
                       inference=values["inference"], warmup_count=None, count=None, min=None, max=None,
                       std=None, complete=complete, in_ms=False)
    return None


def _litert_summary(lines: tuple[Line, ...]) -> Summary | None:
    values: dict[str, float | None] = {}
    counts: dict[str, int | None] = {}
    inference_at = None
    for line in lines:
        if _LITERT_OPEN.fullmatch(line.text):
            values, counts, inference_at = {}, {}, None  # a later block replaces an earlier one
            continue
        for name, pattern in _LITERT.items():
            match = pattern.match(line.text)
            if match:
                values[name] = ms_to_us(match.group(1))
                if name in ("warmup", "inference"):
                    counts[name] = to_int(match.group(2))
                if name == "inference":
                    inference_at = line.index
                break
    if inference_at is None or values.get("inference") is None or counts.get("inference") == 0:
        return None  # "Inference (avg): 0.00 ms (0 runs)" is no average
    if counts.get("warmup") == 0:
        values["warmup"] = values["first"] = None
    complete = any(line.index > inference_at and _LITERT_CLOSE.fullmatch(line.text) for line in lines)
    return Summary(init=values.get("init"), first=values.get("first"), warmup=values.get("warmup"),
                   inference=values["inference"], warmup_count=counts.get("warmup"),
                   count=counts.get("inference"), min=values.get("min"), max=values.get("max"),
                   std=values.get("std"), complete=complete, in_ms=True)


def _matches(stat: StatLine, summary: Summary) -> bool:
    if stat.avg is None:
        return False
    # Both print 6 significant digits; the LiteRT block prints 2 decimals of a millisecond.
    return math.isclose(stat.avg, summary.inference, rel_tol=2e-5, abs_tol=5.0 if summary.in_ms else 0.0)


def read_timings(lines: tuple[Line, ...]) -> Timings:
    """Pick the timed-run and warm-up stat lines and the summary out of one run's lines."""
    headers = 0
    in_profile = False
    stats: list[tuple[int, StatLine]] = []  # (phase: headers seen before it, capped at 2; stat line)
    session_init = None
    session_step = None
    for line in lines:
        if _HEADER.search(line.text):
            headers += 1
            in_profile = False
            continue
        if _PROFILE.search(line.text):
            in_profile = True
            continue
        match = _SESSION.search(line.text)
        if match:
            session_init = ms_to_us(match.group(1))
            step = ulp(match.group(1))
            session_step = None if step is None else step * 1000.0
            continue
        if not in_profile:
            stat = parse_stat_line(line.text)
            if stat is not None:
                stats.append((min(headers, 2), stat))

    summary = _classic_summary(lines) or _litert_summary(lines)
    timed_at = None
    if summary is not None:
        # Tail-only logs lack the headers; the summary's average names the timed stat line.
        timed_at = next((i for i in range(len(stats) - 1, -1, -1) if _matches(stats[i][1], summary)), None)
    if timed_at is None:
        timed_at = next((i for i, (phase, _) in enumerate(stats) if phase == 2), None)
    if timed_at is None:
        warmup = next((stat for phase, stat in stats if phase == 1), None)
    elif timed_at > 0 and stats[timed_at - 1][0] in (0, stats[timed_at][0] - 1):
        # The warm-up stat line comes right before the timed one, with or without the headers.
        warmup = stats[timed_at - 1][1]
    else:
        warmup = None
    return Timings(started=bool(headers or stats or session_init is not None), summary=summary,
                   timed=stats[timed_at][1] if timed_at is not None else None, warmup=warmup,
                   session_init_us=session_init, session_init_step_us=session_step)
