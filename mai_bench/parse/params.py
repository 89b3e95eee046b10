"""What the tool says about its own command line: the flags it ignored, the parameters it echoes.

benchmark_model parses the flags it knows and, for the rest, prints `Unconsumed cmdline flags: ARGS` (ARGS being
the left-over argv joined by spaces) and carries on. It then echoes the parameters that differ from their
defaults: `Num threads: [4]`, `Use gpu: [1]` (older builds: `Use gpu : [1]`), `Use NNAPI: [1]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mai_bench.parse.lines import Line
from mai_bench.parse.numeric import to_int

_UNCONSUMED = re.compile(r"Unconsumed cmdline flags:\s*(.*)")
# An older message of the same kind, one flag per line (the "performance options" build prints both).
_UNRECOGNIZED = re.compile(r"unrecognized commandline flag:\s*(\S+)")
_NUM_THREADS = re.compile(r"^Num threads\s?: \[(-?[0-9]{1,9})\]$")
_USE = re.compile(r"^Use (gpu|nnapi|NNAPI|hexagon|Hexagon|xnnpack|XNNPACK)\s?: \[([01])\]$")
_DELEGATE_OF_ECHO = {"gpu": "gpu", "nnapi": "nnapi", "hexagon": "hexagon", "xnnpack": "xnnpack"}


@dataclass(frozen=True)
class Params:
    unconsumed: tuple[str, ...]  # each left-over argv item, as printed
    num_threads: int | None  # the echoed --num_threads; -1 is "the runtime decides"
    enabled: tuple[str, ...]  # delegates echoed as on ("gpu", "nnapi", "hexagon", "xnnpack"), in log order
    disabled: tuple[str, ...]  # delegates echoed as off


def flag_name(item: str) -> str:
    """`--use_gpu=true` -> `use_gpu`; `-use-gpu` -> `use-gpu`; a bare value -> itself."""
    return item.lstrip("-").split("=", 1)[0]


def read_params(lines: tuple[Line, ...]) -> Params:
    unconsumed: list[str] = []
    threads = None
    enabled: list[str] = []
    disabled: list[str] = []
    for line in lines:
        text = line.text
        match = _UNCONSUMED.search(text)
        if match:
            unconsumed.extend(match.group(1).split())
            continue
        match = _UNRECOGNIZED.search(text)
        if match:
            unconsumed.append(match.group(1))
            continue
        match = _NUM_THREADS.match(text)
        if match and threads is None:
            value = match.group(1)
            threads = -1 if value == "-1" else to_int(value)
            continue
        match = _USE.match(text)
        if match:
            name = _DELEGATE_OF_ECHO[match.group(1).lower()]
            target = enabled if match.group(2) == "1" else disabled
            if name not in target:
                target.append(name)
    return Params(unconsumed=tuple(dict.fromkeys(unconsumed)), num_threads=threads, enabled=tuple(enabled),
                  disabled=tuple(disabled))
