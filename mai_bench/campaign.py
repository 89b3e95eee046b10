"""What `mai-bench run` does with several models, delegates and devices: every (device, model, delegate) job in
turn, each result handed on the moment it exists; with baselines, the reference models interleaved with the
candidates round by round (A B A B ...), so drift and heat hit them alike."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from mai_bench.plan import RunPlan
from mai_bench.resources import reference_models_dir
from mai_bench.results.schema import Result

if TYPE_CHECKING:  # the statistics (numpy) load only for --with-baselines: a plain run does without them
    from mai_bench.stats.versus import Versus

REFERENCE_FILES = ("microisp_1_0.tflite", "microisp_0_5.tflite", "pynet_v2_mobile.tflite")


@dataclass(frozen=True)
class Job:
    model: Path
    plan: RunPlan
    target: object | None  # a DeviceInfo, or None for this machine
    baseline: bool = False
    round: int = 0


def reference_models() -> tuple[Path, ...]:
    return tuple(reference_models_dir() / name for name in REFERENCE_FILES)


def jobs(models: Sequence[Path], plans: Sequence[RunPlan], targets: Sequence[object | None],
         with_baselines: bool = False, rounds: int = 1) -> list[Job]:
    """Devices one after another; on each, per delegate, `rounds` interleaved rounds of the candidates (and the
    baselines): A B A B ..., so drift and heat hit every model alike."""
    refs = [m for m in reference_models() if m.resolve() not in {p.resolve() for p in models}] if with_baselines else []
    out = []
    for target in targets:
        for plan in plans:
            for n in range(rounds):
                out += [Job(m, plan, target, False, n) for m in models]
                out += [Job(m, plan, target, True, n) for m in refs]
    return out


def baseline_comparisons(results: Sequence[Result], done: Sequence[Job]) -> tuple[Versus, ...]:
    """Every candidate against every baseline measured with it (same device and delegate)."""
    from mai_bench.stats.versus import versus

    groups: dict[tuple, dict[str, list[Result]]] = {}
    for job, result in zip(done, results):
        key = (result.device.server, result.device.serial, job.plan.delegate)
        groups.setdefault(key, {}).setdefault(("B:" if job.baseline else "C:") + str(job.model), []).append(result)
    rows: list[Versus] = []
    for group in groups.values():
        baselines = {Path(k[2:]).stem: v for k, v in group.items() if k.startswith("B:")}
        if not baselines:
            continue
        for key, rounds in group.items():
            if key.startswith("C:"):
                rows.extend(versus(rounds, baselines))
    return tuple(rows)


def with_comparisons(result: Result, rows: Sequence[Versus]) -> Result:
    """The result with the comparisons of its model on its device and delegate in `extra["baselines"]`."""
    mine = [r.to_dict() for r in rows if r.candidate == result.model.name and r.device == result.device.serial
            and r.delegate == result.delegate]
    return replace(result, extra={**result.extra, "baselines": mine}) if mine else result


def run_jobs(job_list: Sequence[Job], measure: Callable[[Job], Result],
             on_result: Callable[[Job, Result], None]) -> list[Result]:
    results = []
    for job in job_list:
        result = measure(job)
        results.append(result)
        on_result(job, result)
    return results
