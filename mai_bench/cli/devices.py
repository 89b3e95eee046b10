"""`mai-bench devices [--adb-server HOST:PORT ...] [--json]`: every device on every adb server."""

from __future__ import annotations

import click

from mai_bench.cli.console import console, print_json
from mai_bench.cli.options import adb_server_option
from mai_bench.report.escape import safe_text


@click.command("devices")
@adb_server_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
def command(servers, as_json: bool) -> None:
    """List every device on every adb server with its state, profile, SoC, OS and temperatures, and the GPU path
    of this host (the Vulkan device LiteRT's GPU accelerator uses for --device local and loopback devices)."""
    from concurrent.futures import ThreadPoolExecutor

    from mai_bench.device.discovery import list_devices
    from mai_bench.gpu.vulkan import host_gpu

    with ThreadPoolExecutor(max_workers=1) as pool:  # the Vulkan search runs while the servers answer
        gpu = pool.submit(host_gpu)
        listing = list_devices(servers)
        locks = _locks(listing)
        host = gpu.result()
    if as_json:
        data = listing.to_dict()
        for entry in data["devices"]:
            entry["lock"] = locks.get((entry["server"], entry["serial"]))
        data["host_gpu"] = host.to_dict()
        print_json(data)
        return
    _render(listing)
    out = console()
    _print_host_gpu(out, host)
    for (server, serial), holder in locks.items():
        if holder and holder.startswith(UNUSABLE):
            out.print(safe_text(f"{serial} on {server}: {holder}"), markup=False, highlight=False, style="red")
        elif holder:
            out.print(safe_text(f"{serial} on {server} is in use by {holder}"), markup=False, highlight=False)


def _print_host_gpu(out, host) -> None:
    what = "host GPU (LiteRT's GPU accelerator for --device local and loopback devices): "
    if host.device is not None:
        kind = "software: timings are labelled software GPU" if host.device.software else "hardware"
        out.print(safe_text(f"{what}{host.device.describe()} [{kind}]"), markup=False, highlight=False)
    else:
        out.print(safe_text(f"{what}none ({host.describe()})"), markup=False, highlight=False, style="yellow")
        out.print(safe_text(f"  fix: {host.fix}"), markup=False, highlight=False, style="yellow")


UNUSABLE = "lock unusable: "  # a lock folder the device cannot write: no run can start there until it is fixed


def _locks(listing) -> dict[tuple[str, str], str | None]:
    """Who holds each ready device's mai-bench lock (one round trip per device), as a sentence or None; a lock
    folder the device cannot write is "lock unusable: <the device's error> (fix: ...)"."""
    from mai_bench.device.errors import DeviceError
    from mai_bench.device.lock import LockUnusable, read_lock

    locks: dict[tuple[str, str], str | None] = {}
    for d in listing.devices:
        if d.ready:
            try:
                holder = read_lock(d.device())
            except LockUnusable as error:
                locks[(d.server, d.serial)] = f"{UNUSABLE}{error.reason} (fix: {error.fix})"
                continue
            except DeviceError as error:
                locks[(d.server, d.serial)] = f"unknown ({error.reason})"
                continue
            locks[(d.server, d.serial)] = holder.describe() if holder else None
    return locks


def _temps(t) -> str:
    """"BIG 41.2 / 30.5": the hottest CPU/GPU sensor, named, and the battery, in °C; "?" for one unread."""
    if t is None:
        return "-"
    hottest = t.hottest
    soc = f"{hottest.name} {hottest.celsius:.1f}" if hottest is not None else "?"
    return f"{soc} / {'?' if t.battery_c is None else f'{t.battery_c:.1f}'}"


def _render(listing) -> None:
    from rich.markup import escape as escape_markup
    from rich.table import Table

    from mai_bench.report.layout import fit

    def escape(value: str) -> str:  # device text is data: no markup, no terminal control characters
        return escape_markup(safe_text(value))

    out = console()
    if not listing.devices:
        out.print(f"No devices on {', '.join(listing.servers)}.")
    else:
        # One server is named in the title; with several, each row names its own.
        several = len({d.server for d in listing.devices}) > 1
        keys = ("server", "serial") if several else ("serial",)
        table = Table(title=f"Devices on {', '.join(listing.servers)}", title_justify="left")
        # Servers and serials are typed back into --device: never wrapped or cut; the rest folds if it must.
        for column in keys:
            table.add_column(column, no_wrap=True, min_width=max(len(getattr(d, column)) for d in listing.devices))
        for column in ("state", "profile", "model", "SoC", "ABI", "Android", "hottest/batt °C", "emulated"):
            table.add_column(column, overflow="fold")
        for d in listing.devices:
            p = d.props
            soc = " ".join(v for v in (p.get("ro.soc.manufacturer"), d.soc) if v) or "-"
            android = f"{p['ro.build.version.release']} (SDK {d.sdk})" if "ro.build.version.release" in p else "-"
            table.add_row(
                *(escape(getattr(d, key)) for key in keys),
                escape(d.state) if d.ready else f"[red]{escape(d.state)}[/]",
                escape(d.profile or "-"), escape(d.model or "-"), escape(soc), escape(p.get("ro.product.cpu.abi", "-")),
                escape(android), escape(_temps(d.telemetry)), _emulated(d) if d.props else "-",
            )
        out.print(fit(out, table, key_columns=len(keys) + 1))  # the keys and the state name a stacked row
    for d in listing.devices:
        if d.matched_by:
            out.print(f"[yellow]{escape(d.serial)} got profile {escape(d.profile or '-')} by "
                      f"{escape(d.matched_by)}[/]")
        if d.ready and d.telemetry is not None and d.telemetry.problem:
            out.print(f"[yellow]{escape(d.serial)}: {escape(d.telemetry.problem)}; the thermal gate cannot check "
                      "its CPU/GPU temperature[/]")
        if d.lenient:
            out.print(f"[yellow]{escape(d.serial)} is a LENIENT loopback device, more forgiving than a phone: "
                      f"{escape(d.lenient)}[/]")
        if d.probe_error or d.fix:
            what = f"could not be read: {d.probe_error}" if d.probe_error else f"is {d.state}"
            out.print(f"[red]{escape(d.serial)} on {escape(d.server)} {escape(what)}[/]")
            if d.fix:
                out.print(f"  [yellow]fix:[/] {escape(d.fix)}")
    for problem in listing.problems:
        out.print(f"[red]adb server {escape(problem.server)} {escape(problem.message)}[/]")
        if problem.fix:
            out.print(f"  [yellow]fix:[/] {escape(problem.fix)}")


def _emulated(device) -> str:
    if not device.emulated:
        return "no"
    return "yes, LENIENT" if device.lenient else "yes"
