"""One farm from plan file to verdict: load and validate the plan, find the devices, expand the jobs, run them
(or resume), judge the results by the thresholds, and write the reports (summary.md, JUnit XML, the GitHub
step summary)."""

from __future__ import annotations

import datetime as _dt
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mai_bench.device.address import ServerAddress
from mai_bench.errors import UsageError
from mai_bench.farm.journal import JOURNAL_NAME, read_journal
from mai_bench.farm.junit import junit_xml
from mai_bench.farm.plan import FarmPlan, Job, Resolver, expand, load_plan
from mai_bench.farm.runner import FarmRun, JobFunction, Observer, Status, run_farm
from mai_bench.farm.summary import append_step_summary, markdown
from mai_bench.farm.thresholds import Verdict, evaluate, exit_code, load_fidelity
from mai_bench.results.schema import Result
from mai_bench.results.store import write_atomic

SUMMARY_NAME = "summary.md"
DEFAULT_OUT_ROOT = Path("farm-results")


@dataclass(frozen=True)
class FarmOutcome:
    plan: FarmPlan
    run: FarmRun
    verdicts: tuple[Verdict, ...]
    exit_code: int
    out_dir: Path
    summary_path: Path
    junit_path: Path | None = None
    step_summary: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"plan": str(self.plan.source), "name": self.plan.name, "exit_code": self.exit_code,
                "journal": str(self.run.journal), "summary": str(self.summary_path),
                "junit": str(self.junit_path) if self.junit_path else None, "ran": self.run.ran,
                "skipped": self.run.skipped, "wall_s": round(self.run.wall_s, 3),
                "thresholds": self.plan.thresholds.to_dict(), "jobs": [v.to_dict() for v in self.verdicts]}


def device_job_function(plan: FarmPlan) -> JobFunction:
    """Jobs measured on their Android device (measure_on_device, which holds the device's lock)."""
    from mai_bench.android.measure import DeviceRunOptions, measure_on_device

    options = DeviceRunOptions(benchmark_binary=plan.benchmark_binary, thermal=plan.thermal,
                               lock_wait_s=plan.lock_wait_s, lock_owner=f"mai-bench farm {plan.name}",
                               reconnect_grace_s=plan.reconnect_grace_s)

    def run(job: Job, status: Status) -> Result:
        return measure_on_device(job.model.path, job.plan, job.target, options, status)

    return run


def unreachable_servers(plan: FarmPlan) -> dict[str, Exception]:
    """The plan's adb servers that do not answer, with why: their phones' jobs are infrastructure errors."""
    from mai_bench.device.discovery import list_serials
    from mai_bench.device.errors import AdbServerUnreachable

    down: dict[str, Exception] = {}
    for server in plan.servers:
        try:
            list_serials(server)
        except AdbServerUnreachable as error:
            down[str(server)] = error
    return down


def device_resolver(plan: FarmPlan) -> Resolver:
    from mai_bench.device.discovery import resolve_devices

    return lambda spec: resolve_devices(spec, plan.servers)


def default_out_dir(plan: FarmPlan) -> Path:
    """farm-results/<plan name>, the name made safe as one folder name."""
    return DEFAULT_OUT_ROOT / (re.sub(r"[^A-Za-z0-9._-]+", "_", plan.name).strip("._") or "farm")


def run_plan_file(plan_file: Path, *, out_dir: Path | None = None, resume: bool = False, junit: Path | None = None,
                  servers: Sequence[ServerAddress] = (), observer: Observer | None = None) -> FarmOutcome:
    """Run the farm a plan file describes; results go to OUT_DIR/results.jsonl (default
    farm-results/<plan name>/), the Markdown summary to OUT_DIR/summary.md, JUnit XML to `junit` if given."""
    plan = load_plan(plan_file, servers)
    out = Path(out_dir) if out_dir is not None else default_out_dir(plan)
    journal = out / JOURNAL_NAME
    if not resume and read_journal(journal):
        raise UsageError(f"{journal} already holds results of an earlier farm",
                         "pass --resume to continue it, or give another --out folder")
    fidelity = load_fidelity(plan.fidelity) if plan.fidelity else None
    down = unreachable_servers(plan)
    # With no server answering, the servers' own jobs say why; the device entries would repeat it.
    resolver = device_resolver(plan) if len(down) < len(plan.servers) else (lambda spec: ())
    jobs = expand(plan, resolver, unreachable=down)
    run = run_farm(jobs, journal, device_job_function(plan), resume=resume, observer=observer)
    verdicts = evaluate(run.results, plan.thresholds, allow_fallback=plan.allow_fallback, fidelity=fidelity,
                        fidelity_source=str(plan.fidelity) if plan.fidelity else None)
    code = exit_code(verdicts)
    text = markdown(verdicts, plan.thresholds, name=plan.name, code=code, wall_s=run.wall_s, skipped=run.skipped)
    summary_path = out / SUMMARY_NAME
    write_atomic(summary_path, text)
    if junit is not None:
        stamp = _dt.datetime.now().replace(microsecond=0).isoformat()
        write_atomic(Path(junit), junit_xml(verdicts, name=plan.name, timestamp=stamp, hostname=socket.gethostname()))
    return FarmOutcome(plan, run, verdicts, code, out, summary_path, Path(junit) if junit else None,
                       append_step_summary(text))
