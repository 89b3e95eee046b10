"""Click options shared by every command that talks to devices."""

from __future__ import annotations

import click

from mai_bench.device.address import HOST_ENV, PORT_ENV, ServerAddress, default_server, parse_server


def _servers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[ServerAddress, ...]:
    if not values:
        return (default_server(),)
    return tuple(dict.fromkeys(parse_server(v) for v in values))


adb_server_option = click.option(
    "--adb-server",
    "servers",
    multiple=True,
    metavar="HOST:PORT",
    callback=_servers,
    help=f"adb server to ask (repeatable). Default: the one adb uses, from {HOST_ENV} and {PORT_ENV}, "
    "else 127.0.0.1:5037.",
)
