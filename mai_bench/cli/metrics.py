"""`mai-bench metrics PRED TARGET`: PSNR and SSIM of one image against its target, as the challenge scored them."""

from __future__ import annotations

import math
from pathlib import Path

import click

from mai_bench.cli.console import console, print_json


@click.command("metrics")
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--threads", type=click.IntRange(min=1), default=None, help="SSIM threads (default: the usable cores).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def command(pred: Path, target: Path, threads: int | None, as_json: bool) -> None:
    """PSNR (dB) and SSIM of PRED against TARGET: RGB PNG, JPEG or TIFF, 8- or 16-bit.

    PSNR clips PRED to [0, 1] and uses a peak of 1; SSIM is tf.image.ssim's (11x11 Gaussian, sigma 1.5).
    """
    from mai_bench.fidelity.compare import compare_files

    fidelity = compare_files(pred, target, threads=threads)
    if as_json:
        print_json(fidelity.to_dict())
        return
    psnr = "inf (the images are identical)" if math.isinf(fidelity.psnr) else f"{fidelity.psnr:.4f} dB"
    console().print(f"[bold]PSNR[/] {psnr}\n[bold]SSIM[/] {fidelity.ssim:.6f}")
