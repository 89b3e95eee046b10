"""`mai-bench data synth DIR`: a small synthetic RAW/RGB set in the challenge's folder layout."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.console import console, print_json


def _size(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 256x384 (height x width)") from None
    return height, width


@click.group("data")
def command() -> None:
    """Make RAW/RGB data sets in the challenge's layout."""


@command.command("synth")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--count", type=click.IntRange(min=1), default=8, show_default=True, help="Pairs to write.")
@click.option("--size", callback=_size, default="256x384", show_default=True,
              help="Target size HxW (even); the packed RAW is half of it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def synth(directory: Path, count: int, size: tuple[int, int], as_json: bool) -> None:
    """Write COUNT RAW/RGB pairs into DIRECTORY (mediatek_raw/N.png + fujifilm/N.png) from photos bundled with
    scikit-image: 10-bit RGGB RAW as 16-bit PNG, 8-bit RGB target. Deterministic."""
    from mai_bench.fidelity.synth import synth_dataset

    made = synth_dataset(directory, count=count, size=size)
    if as_json:
        print_json(made.to_dict())
        return
    info = made.to_dict()
    console().print(f"wrote {made.count} pairs of {size[0]}x{size[1]} into {made.root}\n"
                    f"  RAW: {info['raw_dir']}\n  RGB: {info['rgb_dir']}")
