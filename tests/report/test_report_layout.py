"""Tables fitted to the terminal (mai_bench.report.layout): the table as built when it fits, borderless when that
is enough, else stacked `header: value` rows; never a value folded over lines, never a line wider than the
terminal. The CLI's own layouts at 80 and 120 columns are tested in a pseudo-terminal (tests/cli)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from mai_bench.console import make_console
from mai_bench.report.layout import fit, natural_width

ROWS = [("tiny_isp", "xnnpack", "ok", "0.871 (0.864–0.878)", "bootstrap-rounds", "-"),
        ("candidate_isp_with_a_long_name", "gpu", "delegate-failed", "-", "none", "-")]


def table() -> Table:
    t = Table(title="Summary (ms; 95% confidence interval)", title_justify="left")
    for column in ("model", "delegate", "status", "median (95% CI)", "interval", "PSNR"):
        t.add_column(column, overflow="fold")
    for row in ROWS:
        t.add_row(*row[:2], Text(row[2], style="red"), *row[3:])
    return t


def shown(width: int) -> tuple[object, str]:
    screen = io.StringIO()
    console = Console(file=screen, width=width, force_terminal=True, color_system=None)
    layout = fit(console, table(), key_columns=3)
    console.print(layout)
    return layout, screen.getvalue()


def test_a_table_that_fits_is_shown_as_built() -> None:
    wide = natural_width(Console(width=300), table())
    layout, text = shown(wide)
    assert isinstance(layout, Table) and layout.box is not None
    assert sum("tiny_isp" in line and "bootstrap-rounds" in line for line in text.splitlines()) == 1


def test_a_table_slightly_too_wide_loses_its_borders_first() -> None:
    wide = natural_width(Console(width=300), table())
    layout, text = shown(wide - 5)
    assert isinstance(layout, Table) and layout.box is None
    assert "│" not in text and max(map(len, text.splitlines())) <= wide - 5
    assert any("candidate_isp_with_a_long_name" in line and "delegate-failed" in line for line in text.splitlines())


@pytest.mark.parametrize("width", [40, 60, 80])
def test_a_narrow_terminal_gets_stacked_rows(width: int) -> None:
    layout, text = shown(width)
    assert isinstance(layout, Group)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width, text
    assert lines[0] == "Summary (ms; 95% confidence interval)"
    assert lines[1] == "tiny_isp · xnnpack · ok"
    assert "median (95% CI): 0.871 (0.864–0.878)" in text and "interval: bootstrap-rounds" in text
    # A heading longer than the terminal wraps between its keys, never inside one.
    start = next(i for i, line in enumerate(lines) if line.startswith("candidate_isp"))
    heading = [line.strip() for line in lines[start:] if not line.startswith("  ")][:2]
    assert " ".join(heading).startswith("candidate_isp_with_a_long_name · gpu · delegate-failed")
    assert "PSNR" not in text, "empty cells are left out"
    assert all(line.startswith("  ") for line in lines[1:] if ": " in line), "items are indented under their row"


def test_a_console_that_is_not_a_terminal_always_gets_the_table() -> None:
    screen = io.StringIO()
    console = make_console(file=screen)
    layout = fit(console, table(), key_columns=3)
    console.print(layout)
    assert layout.__class__ is Table and layout.box is not None
    assert any("tiny_isp" in line and "bootstrap-rounds" in line for line in screen.getvalue().splitlines())
