"""`mai-bench binaries list|fetch|verify`: the benchmark_model builds in the manifest and in the user cache."""

from __future__ import annotations

from contextlib import contextmanager

import click

from mai_bench.cli.console import console, err_console, print_json

DEFAULT_ABI = "arm64-v8a"
_SHA_PREFIX = 10


@click.group("binaries")
def command() -> None:
    """List, fetch and verify the benchmark_model builds pushed to Android devices."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
def list_binaries(as_json: bool) -> None:
    """Show every build in the manifest and whether it is cached, with its sha256 and size."""
    from mai_bench.binaries.cache import BinaryCache, cache_dir
    from mai_bench.binaries.manifest import load_manifest
    from mai_bench.binaries.resolve import entry_states

    manifest = load_manifest()
    cache = BinaryCache(cache_dir())
    states = entry_states(manifest, cache)
    if as_json:
        print_json({"manifest": str(manifest.source), "base_url": manifest.base_url, "cache_dir": str(cache.root),
                    "default": manifest.default_name, "binaries": [s.to_dict() for s in states]})
        return
    _render_list(manifest, cache, states)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _render_list(manifest, cache, states) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"benchmark_model builds (default: {escape(manifest.default_name)})", title_justify="left",
                  box=None, pad_edge=False)
    for column in ("name", "abi", "state", "sha256", "size", "trust"):
        table.add_column(column, no_wrap=True, justify="right" if column == "size" else "left")
    for s in states:
        # A prefix tells builds apart in a table; --json has the full hash, the size in bytes and the dates.
        sha = f"{s.sha256[:_SHA_PREFIX]}…" if s.sha256 else "-"
        size = _mib(s.record.size) if s.record else "-"
        table.add_row(escape(s.entry.name), s.entry.abi, s.state, sha, size, s.trust or "-")
    console().print(table)
    console().print(f"cache: {escape(str(cache.root))}", soft_wrap=True)


@command.command("fetch")
@click.option("--abi", "abis", multiple=True, metavar="ABI",
              help=f"Device ABI (ro.product.cpu.abi) to fetch for; repeat for several. Default: {DEFAULT_ABI}.")
@click.option("--all", "all_abis", is_flag=True, help="Fetch the build for every ABI the manifest lists.")
@click.option("--name", default=None, metavar="NAME", help="Build to fetch (default: the manifest's default, tflite-nightly).")
@click.option("--force", is_flag=True,
              help="Accept a download whose sha256 differs from the one recorded before (a new nightly build).")
def fetch(abis: tuple[str, ...], all_abis: bool, name: str | None, force: bool) -> None:
    """Download builds into the cache, checking size and sha256; a changed build needs --force."""
    from mai_bench.binaries.cache import BinaryCache, cache_dir
    from mai_bench.binaries.fetch import fetch_binary
    from mai_bench.binaries.manifest import load_manifest
    from mai_bench.errors import UsageError

    if abis and all_abis:
        raise UsageError("--abi and --all exclude each other", "pass --abi ABI (repeatable) or --all, not both")
    manifest = load_manifest()
    selected = manifest.abis(name) if all_abis else (abis or (DEFAULT_ABI,))
    entries = [manifest.entry_for(abi, name) for abi in dict.fromkeys(selected)]
    cache = BinaryCache(cache_dir())
    out = console()
    for entry in entries:
        with _download_bar(f"{entry.name} {entry.abi}") as progress:
            outcome = fetch_binary(entry, cache, force=force, progress=progress)
        record = outcome.record
        out.print(f"{record.name} {record.abi}: {outcome.status}, {record.size:,} bytes, sha256 {record.sha256}",
                  markup=False, soft_wrap=True)
        out.print(f"  {outcome.path}", markup=False, soft_wrap=True)


@contextmanager
def _download_bar(label: str):
    """A rich progress bar in bytes on stderr, shown once bytes flow; yields the download's progress callback."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=err_console())
    tasks = []

    def update(done: int, total: int | None) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task(label, total=total))
        bar.update(tasks[0], completed=done, total=total)

    try:
        yield update
    finally:
        bar.stop()


@command.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
def verify(as_json: bool) -> None:
    """Re-hash every cached build against its record; exit 1 if any changed or is missing."""
    from mai_bench.binaries.cache import FORCE_FETCH, BinaryCache, cache_dir, verify_cache
    from mai_bench.errors import CheckFailed

    cache = BinaryCache(cache_dir())
    checks = verify_cache(cache)
    bad = [c for c in checks if not c.ok]
    if as_json:
        print_json({"cache_dir": str(cache.root), "ok": not bad, "binaries": [c.to_dict() for c in checks]})
    else:
        _render_verify(cache, checks)
    if bad:
        first = bad[0].record
        raise CheckFailed(f"{len(bad)} of {len(checks)} cached benchmark_model builds no longer match their "
                          f"record: {', '.join(f'{c.record.name} {c.record.abi} ({c.status})' for c in bad)}",
                          f"`{FORCE_FETCH} --abi {first.abi} --name {first.name}` downloads one again")


def _render_verify(cache, checks) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not checks:
        out.print(f"Nothing cached in {escape(str(cache.root))}.")
        return
    table = Table(title=f"Cached builds in {escape(str(cache.root))}", title_justify="left", box=None, pad_edge=False)
    for column in ("name", "abi", "status", "recorded sha256", "sha256 now"):
        table.add_column(column, no_wrap=True)
    colour = {"ok": "green", "changed": "red", "missing": "red"}
    for c in checks:
        now = "-" if c.sha256 is None else ("same" if c.ok else f"{c.sha256[:_SHA_PREFIX]}…")
        table.add_row(escape(c.record.name), c.record.abi, f"[{colour[c.status]}]{c.status}[/]",
                      f"{c.record.sha256[:_SHA_PREFIX]}…", now)
    out.print(table)
