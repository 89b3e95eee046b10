"""`mai-bench farm PLAN.yaml [--resume] [--junit FILE] [--out DIR] [--adb-server HOST:PORT ...]`: run a device
farm's plan; exit 0 when every job passed, 1 when a check or threshold failed, 3 on any infrastructure error."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.console import console, err_console, print_json


def _servers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    from mai_bench.device.address import parse_server

    return tuple(dict.fromkeys(parse_server(v) for v in values))


@click.command("farm")
@click.argument("plan_file", metavar="PLAN.yaml", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--resume", is_flag=True,
              help="Continue the farm in --out: skip jobs that already have a result (infrastructure errors rerun).")
@click.option("--junit", "junit", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write JUnit XML here: one test case per job.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for results.jsonl and summary.md (default: farm-results/<plan name>).")
@click.option("--adb-server", "servers", multiple=True, metavar="HOST:PORT", callback=_servers,
              help="adb server to use instead of the plan's `servers` (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON on stdout instead of a table.")
def command(plan_file: Path, resume: bool, junit: Path | None, out_dir: Path | None, servers, as_json: bool) -> int:
    """Run PLAN.yaml: models x devices x delegates, one worker per device, results appended as they finish."""
    from mai_bench.farm.progress import progress_for
    from mai_bench.farm.runner import FarmInterrupted
    from mai_bench.farm.session import run_plan_file
    from mai_bench.farm.summary import not_checked, table

    status = err_console()
    try:
        outcome = run_plan_file(plan_file, out_dir=out_dir, resume=resume, junit=junit, servers=servers,
                                observer=progress_for(status))
    except FarmInterrupted as stopped:
        if stopped.unstopped:
            status.print(f"could not stop the benchmarks on {', '.join(stopped.unstopped)} in time: they end at "
                         "their time limit and their locks expire by themselves", markup=False, soft_wrap=True)
        else:
            status.print("stopped: no benchmark left running on the devices, their locks released",
                         markup=False, soft_wrap=True)
        status.print(f"{stopped.finished} job(s) recorded in {stopped.journal}; run the same command with --resume "
                     "to run the rest", markup=False, soft_wrap=True)
        raise
    if as_json:
        print_json(outcome.to_dict())
    else:
        out = console()
        out.print(table(outcome.verdicts, outcome.plan.thresholds, name=outcome.plan.name))
        for verdict in outcome.verdicts:
            for reason in verdict.reasons:
                r = verdict.result
                out.print(f"{r.model.name}/{r.delegate} on {r.device.serial}: {reason.splitlines()[0]}",
                          markup=False)
        for item in not_checked(outcome.verdicts):
            out.print(item, style="yellow", markup=False)
    paths = [f"results {outcome.run.journal}", f"summary {outcome.summary_path}"]
    if outcome.junit_path:
        paths.append(f"JUnit {outcome.junit_path}")
    status.print("wrote " + ", ".join(paths), markup=False, soft_wrap=True)  # paths: whole, to copy
    return outcome.exit_code
