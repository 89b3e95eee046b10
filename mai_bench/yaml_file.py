"""Read a YAML file as data: the safe loader only (a `!!python/...` tag is refused, never run), and every way
the file can be unreadable turned into one clear UsageError naming the file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


def read_yaml(path: Path, what: str, fix: str = "check the path and its permissions") -> Any:
    """The parsed content of `path`, described as `what` ("device profile", "farm plan") in errors."""
    import yaml

    from mai_bench.errors import UsageError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist", fix) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(f"cannot read {what} {path}: {reason}", fix) from None
    # The C build of the same safe loader when PyYAML has it (several times faster), else the Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # Given as a stream named after the file, so that an error's `in "...", line 3, column 7` points into the real
    # file (text given as a string is named "<unicode string>").
    stream = io.StringIO(text)
    stream.name = str(path)
    try:
        return yaml.load(stream, Loader=loader)  # noqa: S506 - a safe loader, chosen above
    except yaml.YAMLError as error:
        # safe_load lands here for `!!python/...` tags too: these files are data, never code.
        raise UsageError(f"{what} {path} is not valid YAML: {error}", "fix the YAML syntax") from None
    except RecursionError:  # the Python loader recurses once per nesting level
        raise UsageError(f"{what} {path} nests too deeply to be a {what}", "fix the YAML") from None

