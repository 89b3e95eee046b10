"""Numbers as benchmark_model prints them: integers, decimals and C++ stream scientific notation."""

from __future__ import annotations

import math
from decimal import Decimal

# Bounded digit runs: a damaged log can hold a million-digit "number", and int() refuses >4300 digits.
# ASCII digits only: \d would also take other scripts' digits out of binary garbage.
NUMBER = r"[-+]?(?:[0-9]{1,40}(?:\.[0-9]{0,40})?|\.[0-9]{1,40})(?:[eE][-+]?[0-9]{1,3})?(?![0-9.])"
INTEGER = r"[0-9]{1,18}(?![0-9])"


def to_float(text: str | None, *, signed: bool = False) -> float | None:
    """A finite float from a NUMBER match; None for nothing, inf/nan, or a negative value unless `signed`."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or (value < 0 and not signed):
        return None
    return value


def ms_to_us(text: str | None) -> float | None:
    """Milliseconds as printed ("7430.20") to microseconds, without binary rounding noise (7430200.0)."""
    if to_float(text) is None:
        return None
    value = float(Decimal(text).scaleb(3))
    return value if math.isfinite(value) else None


def to_int(text: str | None) -> int | None:
    """A non-negative int from an INTEGER match, else None."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def ulp(text: str | None) -> float | None:
    """The value of one unit in the last printed place of a NUMBER match ("4.478" -> 0.001), or None."""
    if to_float(text) is None:
        return None
    exponent = Decimal(text).as_tuple().exponent
    return float(Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else None
