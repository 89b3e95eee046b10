"""`mai-bench eval MODEL --data DIR`: run the model with LiteRT on this machine over RAW/RGB pairs and score it."""

from __future__ import annotations

import math
from pathlib import Path

import click

from mai_bench.cli.console import console, err_console, print_json


@click.command("eval")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Folder with mediatek_raw/ + fujifilm/ (UltraISP) or huawei_raw/ + canon/ (Zurich).")
@click.option("--raw-dir", default=None, help="RAW folder (relative to --data) instead of a known layout.")
@click.option("--rgb-dir", default=None, help="Target folder (relative to --data); goes with --raw-dir.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N pairs.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write fidelity_<model>.json and fidelity_<model>.csv here.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="LiteRT CPU threads (and SSIM threads).")
@click.option("--delegate", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True,
              help="gpu: score LiteRT's GPU accelerator's outputs (this host's Vulkan device) and compare each with "
                   "the CPU's FP32 output.")
@click.option("--precision", type=click.Choice(["fp16", "fp32"]), default=None,
              help="With --delegate gpu: fp32 forces FP32 on the GPU (default: FP16 allowed, as benchmark_model).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def command(model: Path, data_dir: Path, raw_dir: str | None, rgb_dir: str | None, limit: int | None,
            out_dir: Path | None, threads: int, delegate: str, precision: str | None, as_json: bool) -> None:
    """Run MODEL over the RAW/RGB pairs in --data at their own resolution; print per-image and mean PSNR/SSIM."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mai_bench.fidelity.evaluate import evaluate, save_evaluation

    with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console(), transient=True) as bar:
        task = bar.add_task("scoring", total=None)
        evaluation = evaluate(model, data_dir, raw_dir=raw_dir, rgb_dir=rgb_dir, limit=limit, threads=threads,
                              progress=lambda done, total: bar.update(task, completed=done, total=total),
                              delegate=delegate, precision=precision)
    saved = save_evaluation(evaluation, out_dir) if out_dir is not None else None
    if as_json:
        doc = evaluation.to_dict()
        if saved is not None:
            doc["files"] = {"fidelity_json": str(saved.fidelity_json), "per_image_csv": str(saved.per_image_csv)}
        print_json(doc)
        return
    _render(evaluation, saved)


def _psnr(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3f}"


def _render_gpu(out, gpu: dict) -> None:
    from rich.markup import escape

    device = gpu.get("vulkan") or {}
    decision = gpu.get("accelerator") or {}
    kind = "software Vulkan" if device.get("software") else "Vulkan"
    out.print(escape(f"scored: LiteRT's GPU accelerator on {device.get('name', '?')} ({kind}), precision "
                     f"{gpu['precision']}; fully accelerated: {decision.get('fully_accelerated')}"))
    cpu = gpu.get("cpu_mean_psnr")
    out.print(escape(f"against {gpu['reference']}: max abs error {gpu['max_abs_error']:.3g}; CPU mean PSNR "
                     f"{'inf' if cpu is None else f'{cpu:.3f}'} dB, mean SSIM {gpu['cpu_mean_ssim']:.4f}"))


def _render(evaluation, saved) -> None:
    from rich.table import Table

    out = console()
    table = Table(title=f"{evaluation.model_name} on {evaluation.count} pair(s)", title_justify="left")
    for column, justify in (("pair", "left"), ("size", "right"), ("PSNR dB", "right"), ("SSIM", "right")):
        table.add_column(column, justify=justify)
    for score in evaluation.scores:
        table.add_row(score.name, f"{score.height}x{score.width}", _psnr(score.psnr), f"{score.ssim:.4f}")
    table.add_section()
    table.add_row("[bold]mean[/]", "", f"[bold]{_psnr(evaluation.mean_psnr)}[/]",
                  f"[bold]{evaluation.mean_ssim:.4f}[/]")
    out.print(table)
    out.print(f"model sha256 {evaluation.sha256}")
    if evaluation.gpu is not None:
        _render_gpu(out, evaluation.gpu)
    out.print(f"shape: {evaluation.shape.note}")
    if saved is not None:
        out.print(f"wrote {saved.fidelity_json} and {saved.per_image_csv}")
