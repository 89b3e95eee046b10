"""Tables that fit the terminal. A table is shown as built when its rows fit the console's width on one line
each; else without its borders when that is enough; else as stacked rows: one heading line per row (its key
columns) and its other cells as `header: value` items packed into the width, never split inside a short value
(empty cells, "-", left out). A console that is not a terminal is "unlimited" (mai_bench.console), so logs and
files always get the table."""

from __future__ import annotations

import copy

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from mai_bench.console import UNWRAPPED_WIDTH

INDENT = "  "
ITEM_GAP = "   "
KEY_SEPARATOR = " · "
EMPTY = ("", "-", "–")  # cells that say "nothing here": left out of a stacked row


def natural_width(console: Console, table: Table) -> int:
    """The width the table takes when nothing in it has to wrap."""
    return Measurement.get(console, console.options.update_width(UNWRAPPED_WIDTH), table).maximum


def fit(console: Console, table: Table, key_columns: int = 1) -> RenderableType:
    """`table` laid out for `console`'s width; `key_columns` leading columns name a row in the stacked layout."""
    width = console.options.max_width
    if natural_width(console, table) <= width:
        return table
    bare = borderless(table)
    if natural_width(console, bare) <= width:
        return bare
    return stacked(console, table, key_columns, width)


def borderless(table: Table) -> Table:
    """The same columns and rows without box lines (two spaces between columns, bold headers)."""
    bare = copy.copy(table)
    bare.box = None
    bare.pad_edge = False
    bare.show_edge = False
    return bare


def _text(console: Console, cell: object) -> Text:
    if isinstance(cell, Text):
        return cell.copy()
    if isinstance(cell, str):
        return console.render_str(cell)
    return Text(str(cell))


def stacked(console: Console, table: Table, key_columns: int, width: int) -> Group:
    """Each row as a heading (its first `key_columns` cells) and `header: value` lines packed to `width`."""
    columns = table.columns
    headers = [_text(console, c.header).plain.replace("\n", " ") for c in columns]
    cells = [list(c.cells) for c in columns]
    lines: list[Text] = []
    if table.title:
        lines.append(_text(console, table.title))
        lines[-1].stylize("table.title")
    for row in range(table.row_count):
        values = [_text(console, cells[j][row]) for j in range(len(columns))]
        heading = Text(KEY_SEPARATOR, style="dim").join(v for v in values[:key_columns] if v.plain)
        heading.stylize("bold")
        lines.append(heading)
        items = [Text.assemble((f"{headers[j]}: ", "dim"), values[j])
                 for j in range(key_columns, len(columns)) if values[j].plain.strip() not in EMPTY]
        lines.extend(_pack(items, width))
    return Group(*lines)


def _pack(items: list[Text], width: int) -> list[Text]:
    """Items on indented lines of at most `width` cells, split only between items (a longer item wraps alone)."""
    lines: list[Text] = []
    line: Text | None = None
    for item in items:
        if line is not None and line.cell_len + len(ITEM_GAP) + item.cell_len <= width:
            line.append(ITEM_GAP)
            line.append_text(item)
            continue
        if line is not None:
            lines.append(line)
        line = Text(INDENT)
        line.append_text(item)
    if line is not None:
        lines.append(line)
    return lines
