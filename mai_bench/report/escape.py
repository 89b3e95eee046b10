"""Text from result files and devices (model names, serials, properties, logs) is data, never markup or control
codes. Each output format escapes it here, in one place."""

from __future__ import annotations

import html
import json
import unicodedata
from typing import Any

# Categories shown as escapes: control characters (ESC, BEL, CR, LF...), format characters (bidi overrides,
# zero-width joiners), separators that break lines, surrogates, private use and unassigned code points.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# Markdown punctuation that can start emphasis, code, links, images, strikethrough, math or a table cell
# anywhere in a line (report lines never start with outside text, so line-start syntax cannot trigger).
_MD_PUNCTUATION = set("\\`*_[]|~$")


def safe_text(value: Any, limit: int | None = None) -> str:
    """`value` as one line of visible text: hidden characters become `\\xNN` / `\\uNNNN` escapes; with `limit`,
    longer text is cut to that many characters ending in an ellipsis."""
    text = "".join(_visible(c) for c in str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "\u2026"
    return text


def _visible(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def html_text(value: Any, limit: int | None = None) -> str:
    """Text for HTML element content and quoted attribute values."""
    return html.escape(safe_text(value, limit), quote=True)


def md_text(value: Any, limit: int | None = None) -> str:
    """Text for GitHub-flavoured Markdown, table cells included: HTML's special characters as entities and the
    inline punctuation backslash-escaped, so nothing becomes a tag, link, emphasis, math or a cell border."""
    out = []
    for char in safe_text(value, limit):
        if char in "<>&":
            out.append(html.escape(char))
        elif char in _MD_PUNCTUATION:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def chart_text(value: Any, limit: int = 40) -> str:
    """Text for matplotlib labels: a `$` would start mathtext (and a lone one can fail the whole figure)."""
    return safe_text(value, limit).replace("$", r"\$")


def csv_text(value: str) -> str:
    """A CSV text cell: visible characters only, and a leading = + - @ neutralised with `'` so a spreadsheet
    opening the file never evaluates it as a formula (OWASP's CSV injection advice)."""
    text = safe_text(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def json_dumps(data: Any, indent: int | None = 2) -> str:
    """JSON whose strings carry no raw control characters (JSON escapes them) and no `<`, `>` or `&` (written
    as \\u003c, \\u003e, \\u0026: the same strings once decoded, inert if the text lands in an HTML page)."""
    text = json.dumps(data, indent=indent, ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
