"""`mai-bench run MODEL... --device sm8450 --delegate gpu`: benchmark on a device or the host, print or save."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.options import adb_server_option
from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK

DELEGATE_CHOICES = ("gpu", "nnapi", "hexagon", "xnnpack", "cpu")


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


def _delegates(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [n for n in names if n not in DELEGATE_CHOICES]
    if bad or not names:
        raise click.BadParameter(f"{', '.join(bad) or value!r}: use one or more of {', '.join(DELEGATE_CHOICES)}, "
                                 "comma-separated")
    return names


@click.command("run")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--device", "device", default="local", show_default=True,
              help="'local' (this machine's CPU), a SoC profile (sm8450, ...), a serial, HOST:PORT/SERIAL, or all.")
@adb_server_option
@click.option("--delegate", "delegates", callback=_delegates, default=None,
              help="gpu, nnapi, hexagon, xnnpack or cpu; several comma-separated run in turn "
                   "(default: gpu on a device, xnnpack on the host).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: the runtime's).")
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Timed runs (at least).")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True, help="Warm-up runs.")
@click.option("--min-secs", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Keep running until at least this many seconds of timed runs.")
@click.option("--max-secs", type=click.FloatRange(min=0.001), default=150.0, show_default=True,
              help="Stop each phase after this many seconds.")
@click.option("--run-timeout", type=click.FloatRange(min=0.001), default=None,
              help="Kill a run (on the device) after this many seconds. Default: 2 x --max-secs + 120.")
@click.option("--input-shape", callback=_shape, default=None,
              help="Input shape to run at (default the challenge's 1,544,960,4).")
@click.option("--gpu-backend", type=click.Choice(["cl", "gl"]), default=None, help="GPU delegate backend.")
@click.option("--precision", type=click.Choice(["fp16", "fp32"]), default=None,
              help="GPU/NNAPI precision (GPU default: fp16, as benchmark_model).")
@click.option("--nnapi-accelerator", default=None, help="NNAPI accelerator name (e.g. qti-gpu, qti-dsp).")
@click.option("--hexagon-libs", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Folder with the Hexagon delegate libraries to push (libhexagon_interface.so, skels).")
@click.option("--benchmark-binary", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A custom benchmark_model build to push (e.g. with Flex ops).")
@click.option("--op-profiling", is_flag=True, help="Add benchmark_model's op profile to the result.")
@click.option("--max-temp-c", type=float, default=45.0, show_default=True,
              help="Wait before each run until the hottest CPU/GPU zone is below this.")
@click.option("--max-battery-c", type=float, default=40.0, show_default=True,
              help="Wait before each run until the battery is below this.")
@click.option("--cooldown-timeout", type=click.FloatRange(min=0), default=180.0, show_default=True,
              help="Wait at most this many seconds for the device to cool down.")
@click.option("--allow-fallback", is_flag=True, help="Do not fail (exit 1) when a delegate fell back to the CPU.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write each result as JSON into this folder (atomically, as soon as it is measured).")
@click.option("--json", "as_json", is_flag=True, help="Print the result JSON (a list for several) on stdout.")
def command(models: tuple[Path, ...], device: str, servers, delegates: tuple[str, ...] | None,
            threads: int | None, runs: int, warmup: int, min_secs: float, max_secs: float, run_timeout: float | None,
            input_shape: tuple[int, ...] | None, gpu_backend: str | None, precision: str | None,
            nnapi_accelerator: str | None, hexagon_libs: Path | None, benchmark_binary: Path | None,
            op_profiling: bool, max_temp_c: float, max_battery_c: float, cooldown_timeout: float,
            allow_fallback: bool, out_dir: Path | None, as_json: bool) -> int:
    """Benchmark MODELS (.tflite files) the way the challenge did, at input 1,544,960,4 by default."""
    from mai_bench.cli.console import console, err_console, print_json
    from mai_bench.plan import RunPlan
    from mai_bench.report.terminal import print_results
    from mai_bench.results.store import save_result

    local = device.strip().lower() == "local"
    delegates = delegates or (("xnnpack",) if local else ("gpu",))
    settings = dict(threads=threads, runs=runs, warmup=warmup, min_secs=min_secs, max_secs=max_secs,
                    time_limit_s=run_timeout,
                    gpu_backend=gpu_backend, precision=precision, nnapi_accelerator=nnapi_accelerator,
                    op_profiling=op_profiling, allow_fallback=allow_fallback)
    if input_shape is not None:
        settings["input_shape"] = input_shape
    plans = [RunPlan(delegate=d, **settings) for d in delegates]
    status_console = err_console()
    results = []

    def record(result) -> None:
        results.append(result)
        if out_dir is not None:  # saved the moment it exists: a later failure loses nothing
            status_console.print(f"saved {save_result(result, out_dir)}", markup=False, highlight=False)

    with status_console.status("starting") as spinner:
        if local:
            from mai_bench.measure import measure_on_host

            for model in models:
                for plan in plans:
                    spinner.update(f"benchmarking {model.name} on this machine ({plan.delegate})")
                    record(measure_on_host(model, plan))
        else:
            from mai_bench.android.measure import DeviceRunOptions, measure_on_device
            from mai_bench.android.thermal import ThermalLimits
            from mai_bench.device.discovery import resolve_devices

            options = DeviceRunOptions(benchmark_binary=benchmark_binary, hexagon_libs=hexagon_libs,
                                       thermal=ThermalLimits(max_temp_c, max_battery_c, cooldown_timeout))
            spinner.update(f"finding --device {device}")
            targets = resolve_devices(device, servers)
            for target in targets:
                for model in models:
                    for plan in plans:
                        record(measure_on_device(model, plan, target, options, status=spinner.update))
    if as_json:
        print_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        print_results(console(), results)
    return exit_code(results, allow_fallback)


def exit_code(results, allow_fallback: bool) -> int:
    """0 all measured; 1 a run failed or a delegate fell back; 3 the device or infrastructure let us down."""
    statuses = {r.status for r in results}
    if statuses & {"timeout", "infra-error"}:
        return EXIT_INFRA
    tolerated = {"ok", "delegate-fallback"} if allow_fallback else {"ok"}
    return EXIT_OK if statuses <= tolerated else EXIT_CHECK_FAILED
