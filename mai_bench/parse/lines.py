"""Split a log into messages: drop what terminals, logcat, glog and the logging macros put in front."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEVELS = {"INFO": "INFO", "WARNING": "WARNING", "WARN": "WARNING", "ERROR": "ERROR", "VERBOSE": "VERBOSE",
           "DEBUG": "DEBUG", "FATAL": "FATAL"}
# A damaged capture can lose the start of a line ("FO: " for "INFO: "): accept any tail of two or more
# letters of a level word. No op name in the GPU delegate's unsupported-op list equals such a tail.
_LEVEL_OF_TAG = {word[i:]: level for word, level in _LEVELS.items() for i in range(len(word) - 1)}
_LEVEL_PREFIX = re.compile(r"([A-Z]{2,7}):(?:\s+|$)")
_SOURCE_TAG = re.compile(r"\[[^\]\s]{1,200}:[0-9]{1,9}\]\s?")  # LiteRT: "INFO: [benchmark_litert_model.h:92] "
_LETTER_LEVEL = {"V": "VERBOSE", "D": "DEBUG", "I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL", "A": "FATAL"}
_HEADERS = (
    # logcat threadtime: "05-30 15:16:44.857  3380  3380 I tflite  : "
    re.compile(r"[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+\s+[0-9]+\s+[0-9]+\s+"
               r"([VDIWEFA])\s+[^:]{0,80}?\s*:\s?"),
    # logcat brief: "I/tflite( 1234): " or "I/tflite: "
    re.compile(r"([VDIWEFA])/[^:(\s]{1,80}\s*(?:\(\s*[0-9]+\))?:\s?"),
    # logcat tag only: "E tflite : "
    re.compile(r"([VDIWEFA])\s+[A-Za-z][\w.-]{0,80}\s*:\s"),
    # glog: "I0530 15:16:44.857000  3380 benchmark_model.cc:123] "
    re.compile(r"([IWEF])[0-9]{4}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+\s+[0-9]+\s+[^\]\s]{1,200}:[0-9]+\]\s?"),
)


@dataclass(frozen=True)
class Line:
    """One message of the log: `text` without prefixes or surrounding blanks; `level` when one was printed."""

    index: int
    text: str
    level: str | None


def message(raw: str) -> tuple[str, str | None]:
    """Strip indentation, a logcat or glog header and level/source tags; return (text, level)."""
    text = raw.strip()
    level = None
    for header in _HEADERS:
        match = header.match(text)
        if match:
            level = _LETTER_LEVEL[match.group(1)]
            text = text[match.end():].lstrip()
            break
    # "INFO: [file.h:92] " stacks a level and a source tag; three rounds cover every real combination.
    for _ in range(3):
        match = _LEVEL_PREFIX.match(text)
        if match and match.group(1) in _LEVEL_OF_TAG:
            level = _LEVEL_OF_TAG[match.group(1)]
            text = text[match.end():]
            continue
        match = _SOURCE_TAG.match(text)
        if match:
            text = text[match.end():]
            continue
        break
    return text.strip(), level


def split_lines(log: str) -> tuple[Line, ...]:
    """Every line of `log` as a Line, blank ones included so that positions stay comparable."""
    return tuple(Line(index, *message(raw)) for index, raw in enumerate(log.splitlines()))
