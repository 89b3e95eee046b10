"""Every listed command exists and explains itself; `mai-bench --help` stays lazy (no numpy, LiteRT, adb)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from mai_bench.cli.main import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_module_exposes_a_click_command(name: str) -> None:
    module = importlib.import_module(f"mai_bench.cli.{COMMANDS[name][0]}")
    assert isinstance(module.command, click.Command)
    result = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", name, "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_top_level_help_imports_nothing_heavy() -> None:
    probe = ("import sys\nfrom mai_bench.cli.main import cli\n"
             "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('numpy', 'ai_edge_litert', 'adbutils', 'pandas', 'matplotlib', 'yaml') "
             "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert "HEAVY []" in out, out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "benchmark"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
