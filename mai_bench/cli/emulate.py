"""`mai-bench emulate`: run loopback ADB devices until Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from mai_bench.cli.console import console, err_console


def _default_server() -> str:
    return f"127.0.0.1:{os.environ.get('ANDROID_ADB_SERVER_PORT', '5037')}"


@click.command()
@click.option("--profile", default="loopback-sm8450", show_default=True,
              help="Builtin loopback profile, or a profile YAML file (its `emulator:` section).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 64), help="Number of devices.")
@click.option("--adb-server", "adb_server", default=_default_server, show_default="127.0.0.1:$ANDROID_ADB_SERVER_PORT or 5037",
              help="HOST:PORT of the adb server to connect them to; one is started (bound to 127.0.0.1) if none answers.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the devices' file systems (default: a temporary folder, removed at exit).")
@click.option("--insecure", is_flag=True,
              help="Devices ask for no RSA key (ro.adb.secure=0). By default they authenticate hosts as a production "
                   "phone does and trust the adb server's key (its $HOME/.android/adbkey.pub).")
def command(profile: str, count: int, adb_server: str, root: Path | None, insecure: bool) -> None:
    """Start loopback devices that speak the ADB protocol (shell, push/pull) and run benchmark_model on the
    host CPU. Their results are marked emulated (getprop mai_bench.emulated=1)."""
    from mai_bench.emulate.adbd.spec import LENIENT_PROP
    from mai_bench.emulate.loopback import run_emulator

    workdir = root or Path(tempfile.mkdtemp(prefix="mai-bench-emulate-"))

    def ready(server, devices) -> None:
        out = console()
        started = " (started here)" if server.pid is not None else ""
        out.print(f"adb server {server.address}{started}", soft_wrap=True)
        for device in devices:
            out.print(f"{device.serial}  device  {device.spec.name}  pid={device.pid}  {device.root}", soft_wrap=True)
        lenient = devices[0].spec.props.get(LENIENT_PROP)
        if lenient:
            err_console().print(f"[bold red]warning: these devices are LENIENT, more forgiving than a phone: "
                                f"{lenient}. Commands that fail on a phone may work here; their results say "
                                "so.[/]")
        out.print(f"Use: adb -P {server.port} -s {devices[0].serial} shell getprop ro.soc.model. "
                  "Ctrl-C stops them.", soft_wrap=True)
        out.file.flush()

    try:
        run_emulator(profile, count, adb_server, workdir, ready, insecure=insecure)
        console().print("stopped")
    finally:
        if root is None:
            shutil.rmtree(workdir, ignore_errors=True)
