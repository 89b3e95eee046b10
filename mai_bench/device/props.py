"""`getprop` listings: `[key]: [value]` lines, a value occasionally running over several lines."""

from __future__ import annotations

import re

_PROP = re.compile(r"^\[([^\]]+)\]: \[(.*)$")


def parse_getprop(text: str) -> dict[str, str]:
    """Map each property of a `getprop` listing to its value; lines that are not properties are ignored."""
    props: dict[str, str] = {}
    key: str | None = None
    parts: list[str] = []
    for line in text.splitlines():
        if key is None:
            match = _PROP.match(line)
            if not match:
                continue
            key, rest = match.groups()
            parts = [rest]
        else:
            parts.append(line)
        if parts[-1].endswith("]"):
            parts[-1] = parts[-1][:-1]
            props[key] = "\n".join(parts)
            key = None
    return props
