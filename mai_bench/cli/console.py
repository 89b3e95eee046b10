"""One console for the whole CLI: human output on stderr-safe rich console, machine output on stdout,
project errors as one red line plus an exit code (a bug stays a traceback)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mai_bench.errors import EXIT_USAGE, MaiBenchError

_console = None
_console_stream = None


def console():
    """The rich console for human-readable output (stdout): fitted to the terminal on a terminal, never wrapped
    in a pipe, file or log (see mai_bench.console)."""
    global _console, _console_stream
    if _console is None or _console_stream is not sys.stdout:  # a new stdout (tests capture it) is judged anew
        from mai_bench.console import make_console

        _console, _console_stream = make_console(), sys.stdout
    return _console


def err_console():
    """A console on stderr (progress, status, errors), made like console()."""
    from mai_bench.console import make_console

    return make_console(stderr=True)


def print_json(data: Any) -> None:
    """Machine output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def fail(error: MaiBenchError) -> None:
    from rich.markup import escape

    msg = f"[bold red]error:[/] {escape(error.message)}"
    if error.fix:
        msg += f"\n  [yellow]fix:[/] {escape(error.fix)}"
    err_console().print(msg)


def run_cli(group: click.Group) -> None:
    try:
        rc = group.main(standalone_mode=False)
    except MaiBenchError as error:
        fail(error)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        err_console().print("[red]aborted[/]")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_USAGE if error.exit_code == 2 else error.exit_code)
    sys.exit(rc if isinstance(rc, int) else 0)
