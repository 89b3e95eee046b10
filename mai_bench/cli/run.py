"""`mai-bench run MODEL... --device sm8450 --delegate gpu`: benchmark on a device or the host, print or save."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.options import adb_server_option
from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK

LOG_TAIL_STATUSES = ("crashed", "failed", "truncated", "unparsed", "timeout")
LOG_TAIL_LINES = 10
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
@click.option("--reconnect-grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="How long a device may stay unreachable or unresponsive during a run (a dropped cable, a "
                   "restarted adb server) before the run is given up; the benchmark goes on on the device.")
@click.option("--lock-wait", type=click.FloatRange(min=0), default=600.0, show_default=True,
              help="How long to wait for a device another mai-bench is using.")
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
@click.option("--value-files-escape", type=click.Choice(["::", "\\:"]), default=None,
              help="How your --benchmark-binary escapes ':' in an input name given to --input_layer_value_files "
                   "(current sources: '::', the 2022 sources: '\\:'); needed with --fidelity-input only when the "
                   "model's input name has a ':'.")
@click.option("--op-profiling", is_flag=True, help="Add benchmark_model's op profile to the result.")
@click.option("--peak-memory", is_flag=True,
              help="Also report the peak memory footprint (benchmark_model's --report_peak_memory_footprint: a "
                   "thread samples it during the timed runs, which can affect the timings).")
@click.option("--max-temp-c", type=float, default=45.0, show_default=True,
              help="Wait before each run until the hottest CPU/GPU zone is below this.")
@click.option("--max-battery-c", type=float, default=40.0, show_default=True,
              help="Wait before each run until the battery is below this.")
@click.option("--cooldown-timeout", type=click.FloatRange(min=0), default=180.0, show_default=True,
              help="Wait at most this many seconds for the device to cool down.")
@click.option("--with-baselines", is_flag=True,
              help="Also run MicroISP 1.0, 0.5 and PyNET-V2 Mobile on the same device and delegate, interleaved, "
                   "and report runtime ratios (and, off the SM8450 GPU, the projected SM8450 GPU runtime).")
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run every model this many times, interleaved (A B A B ...): medians get bootstrap intervals "
                   "over rounds (3 or more recommended with --with-baselines and for `compare`).")
@click.option("--fidelity-input", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="A RAW PNG (16-bit RGGB) fed to the model; the output is scored (PSNR/SSIM) against the host's "
                   "FP32 output of the same input.")
@click.option("--allow-fallback", is_flag=True,
              help="Time a GPU, NNAPI or Hexagon run whose delegate fell back to the CPU (reported as CPU fallback) "
                   "instead of stopping it before its timed runs; a partial fallback then does not fail (exit 1).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write each result as JSON into this folder (atomically, as soon as it is measured).")
@click.option("--json", "as_json", is_flag=True, help="Print the result JSON (a list for several) on stdout.")
def command(models: tuple[Path, ...], device: str, servers, delegates: tuple[str, ...] | None,
            threads: int | None, runs: int, warmup: int, min_secs: float, max_secs: float, run_timeout: float | None,
            input_shape: tuple[int, ...] | None, gpu_backend: str | None, precision: str | None,
            nnapi_accelerator: str | None, hexagon_libs: Path | None, benchmark_binary: Path | None,
            value_files_escape: str | None, op_profiling: bool, peak_memory: bool, max_temp_c: float,
            max_battery_c: float, cooldown_timeout: float,
            with_baselines: bool, rounds: int, fidelity_input: Path | None, allow_fallback: bool,
            out_dir: Path | None, as_json: bool, reconnect_grace: float, lock_wait: float) -> int:
    """Benchmark MODELS (.tflite files) the way the challenge did, at input 1,544,960,4 by default."""
    from mai_bench.campaign import baseline_comparisons, jobs, run_jobs, with_comparisons
    from mai_bench.cli.console import console, err_console, print_json
    from mai_bench.plan import RunPlan
    from mai_bench.results.store import save_result, write_result

    local = device.strip().lower() == "local"
    delegates = delegates or (("xnnpack",) if local else ("gpu",))
    settings = dict(threads=threads, runs=runs, warmup=warmup, min_secs=min_secs, max_secs=max_secs,
                    time_limit_s=run_timeout, gpu_backend=gpu_backend, precision=precision,
                    nnapi_accelerator=nnapi_accelerator, op_profiling=op_profiling, peak_memory=peak_memory,
                    allow_fallback=allow_fallback)
    if input_shape is not None:
        settings["input_shape"] = input_shape
    plans = [RunPlan(delegate=d, **settings) for d in delegates]
    status_console = err_console()
    saved: dict[int, object] = {}

    with status_console.status("starting") as spinner:
        if local:
            from mai_bench.measure import measure_on_host

            targets = [None]

            def measure(job):
                spinner.update(f"benchmarking {job.model.name} on this machine ({job.plan.delegate})")
                return measure_on_host(job.model, job.plan, fidelity_input=fidelity_input)
        else:
            from mai_bench.android.measure import DeviceRunOptions, measure_on_device
            from mai_bench.android.thermal import ThermalLimits
            from mai_bench.device.discovery import resolve_devices

            options = DeviceRunOptions(benchmark_binary=benchmark_binary, hexagon_libs=hexagon_libs,
                                       thermal=ThermalLimits(max_temp_c, max_battery_c, cooldown_timeout),
                                       fidelity_input=fidelity_input, lock_wait_s=lock_wait,
                                       reconnect_grace_s=reconnect_grace, value_files_escape=value_files_escape)
            spinner.update(f"finding --device {device}")
            targets = list(resolve_devices(device, servers))

            def measure(job):
                return measure_on_device(job.model, job.plan, job.target, options, status=spinner.update)

        def on_result(job, result) -> None:
            if out_dir is not None:  # saved the moment it exists: a later failure loses nothing
                path = save_result(result, out_dir)
                saved[id(result)] = path
                status_console.print(f"saved {path}", markup=False, highlight=False)

        job_list = jobs(models, plans, targets, with_baselines, rounds)
        results = run_jobs(job_list, measure, on_result)
    rows = baseline_comparisons(results, job_list) if with_baselines else ()
    if rows:
        for i, (job, result) in enumerate(zip(job_list, results)):
            if not job.baseline:
                updated = with_comparisons(result, rows)
                if id(result) in saved:
                    write_result(updated, saved[id(result)])
                results[i] = updated
    if as_json:
        print_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        from mai_bench.report.terminal import print_results, print_versus

        print_results(console(), results)
        _print_log_tails(console(), results)
        if rows:
            print_versus(console(), rows)
    return exit_code([r for job, r in zip(job_list, results) if not job.baseline] or results, allow_fallback)


def _print_log_tails(out, results) -> None:
    """What a benchmark that crashed, failed or ran out of time printed last, as plain text."""
    from mai_bench.report.escape import safe_text

    for r in results:
        lines = r.raw_log.strip().splitlines()[-LOG_TAIL_LINES:]
        if r.status in LOG_TAIL_STATUSES and lines:
            out.print(f"{safe_text(r.model.name)} ({r.delegate}) on {safe_text(r.device.serial)}, "
                      "the benchmark's last lines:", markup=False)
            for line in lines:
                out.print("  " + safe_text(line), markup=False)


def exit_code(results, allow_fallback: bool) -> int:
    """0 all measured; 1 a run failed or a delegate fell back; 3 the device or infrastructure let us down."""
    statuses = {r.status for r in results}
    if statuses & {"timeout", "infra-error"}:
        return EXIT_INFRA
    tolerated = {"ok", "delegate-fallback"} if allow_fallback else {"ok"}
    return EXIT_OK if statuses <= tolerated else EXIT_CHECK_FAILED
