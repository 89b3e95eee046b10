"""`mai-bench run MODEL... --device local --delegate xnnpack`: benchmark and print or save the results."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK


def _shape(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        dims = tuple(int(d) for d in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a shape like 1,544,960,4") from None
    if len(dims) != 4 or any(d < 1 for d in dims):
        raise click.BadParameter(f"{value!r} must be four positive dims like 1,544,960,4")
    return dims


@click.command("run")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--device", "device", default="local", show_default=True,
              help="'local' for this machine's CPU.")
@click.option("--delegate", type=click.Choice(["gpu", "nnapi", "hexagon", "xnnpack", "cpu"]), default="xnnpack",
              show_default=True, help="TFLite delegate to benchmark with.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: the runtime's).")
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Timed runs (at least).")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True, help="Warm-up runs.")
@click.option("--min-secs", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Keep running until at least this many seconds of timed runs.")
@click.option("--max-secs", type=click.FloatRange(min=0.001), default=150.0, show_default=True,
              help="Stop each phase after this many seconds.")
@click.option("--input-shape", callback=_shape, default=None,
              help="Input shape to run at (default the challenge's 1,544,960,4).")
@click.option("--allow-fallback", is_flag=True, help="Do not fail (exit 1) when a delegate fell back to the CPU.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write each result as JSON into this folder (atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print the result JSON (a list for several) on stdout.")
def command(models: tuple[Path, ...], device: str, delegate: str, threads: int | None, runs: int, warmup: int,
            min_secs: float, max_secs: float, input_shape: tuple[int, ...] | None, allow_fallback: bool,
            out_dir: Path | None, as_json: bool) -> int:
    """Benchmark MODELS (.tflite files) the way the challenge did, at input 1,544,960,4 by default."""
    from mai_bench.cli.console import console, err_console, print_json
    from mai_bench.errors import UsageError
    from mai_bench.measure import measure_on_host
    from mai_bench.plan import RunPlan
    from mai_bench.report.terminal import print_results
    from mai_bench.results.store import save_result

    if device != "local":
        raise UsageError(f"device {device!r} is not available in this build", "use --device local")
    settings = dict(delegate=delegate, threads=threads, runs=runs, warmup=warmup, min_secs=min_secs,
                    max_secs=max_secs, allow_fallback=allow_fallback)
    if input_shape is not None:
        settings["input_shape"] = input_shape
    plan = RunPlan(**settings)
    results = []
    status_console = err_console()
    for model in models:
        with status_console.status(f"benchmarking {model.name} on {device} ({delegate})"):
            result = measure_on_host(model, plan)
        results.append(result)
        if out_dir is not None:
            path = save_result(result, out_dir)
            status_console.print(f"saved {path}", markup=False, highlight=False)
    if as_json:
        print_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        print_results(console(), results)
    return exit_code(results, allow_fallback)


def exit_code(results, allow_fallback: bool) -> int:
    """0 all measured; 1 a run failed or a delegate fell back; 3 the infrastructure let us down."""
    statuses = {r.status for r in results}
    if statuses & {"timeout", "infra-error"}:
        return EXIT_INFRA
    tolerated = {"ok", "delegate-fallback"} if allow_fallback else {"ok"}
    return EXIT_OK if statuses <= tolerated else EXIT_CHECK_FAILED
