"""Thresholds a farm's results must meet, and the verdict on each job.

Every job gets one outcome: `passed`, `failed` (a check or threshold failed: exit 1) or `error` (the device or
the infrastructure let us down: exit 3, so CI can retry infrastructure without retrying regressions). Each
threshold is one Check whose outcome says `pass`, `fail`, `error`, `not-checked` (with the reason it could
not be) or `n/a`. Latency thresholds compare one statistic (median by default) of the timed runs.

- max_latency_ms: the statistic must not exceed this.
- max_ratio_vs: {reference: ratio}: the candidate's statistic over the reference model's, measured on the same
  device with the same delegate in the same farm, must not exceed the ratio.
- require_full_delegation: a requested accelerator (JUDGED_DELEGATES: GPU, NNAPI, Hexagon) must take the whole
  graph: a node it left to the CPU is a fallback. n/a for XNNPACK, itself a CPU delegate that takes the ops it
  has kernels for and leaves the rest to the built-in CPU kernels by design (179 of 209 nodes is a normal
  XNNPACK run, not a fallback), and for plain CPU kernels, which delegate nothing.
- min_psnr: the model's PSNR from the fidelity document must reach this; without one it is "not checked".

A job that never ran (an infrastructure error: the device, adb or the farm let it down) is judged by nothing but
its status: every threshold says "not checked" for it, so the summary never reports a model failing a limit it
was never measured against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK, UsageError
from mai_bench.results.schema import Result
from mai_bench.yaml_file import read_yaml

STATISTICS = ("median", "avg", "p95", "min", "max", "p5")
THRESHOLD_KEYS = ("max_latency_ms", "statistic", "max_ratio_vs", "require_full_delegation", "min_psnr")

PASSED, FAILED, ERROR = "passed", "failed", "error"
# Statuses that mean the device or adb failed, not the model (run.py's exit code draws the same line).
INFRA_STATUSES = ("infra-error", "timeout")
# The delegates require_full_delegation judges: accelerators, where a node left out runs on the CPU instead.
JUDGED_DELEGATES = ("gpu", "nnapi", "hexagon")


@dataclass(frozen=True)
class RatioLimit:
    """The candidate may be at most `max_ratio` times as slow as `reference` (as the plan names it, e.g.
    `microisp-1.0`), identified in results by the reference model's sha256."""

    reference: str
    max_ratio: float
    sha256: str | None = None

    def __post_init__(self) -> None:
        if not self.max_ratio > 0:
            raise UsageError(f"max_ratio_vs {self.reference}: the ratio must be above 0, got {self.max_ratio}")


@dataclass(frozen=True)
class Thresholds:
    max_latency_ms: float | None = None
    statistic: str = "median"
    max_ratio_vs: tuple[RatioLimit, ...] = ()
    require_full_delegation: bool = False
    min_psnr: float | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise UsageError(f"thresholds.statistic {self.statistic!r} is not one of {', '.join(STATISTICS)}")
        if self.max_latency_ms is not None and not self.max_latency_ms > 0:
            raise UsageError(f"thresholds.max_latency_ms must be above 0, got {self.max_latency_ms}")

    def to_dict(self) -> dict[str, Any]:
        return {"max_latency_ms": self.max_latency_ms, "statistic": self.statistic,
                "max_ratio_vs": {r.reference: r.max_ratio for r in self.max_ratio_vs},
                "require_full_delegation": self.require_full_delegation, "min_psnr": self.min_psnr}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where} must be a number, got {value!r}")
    return float(value)


def section(data: Any, name: str, keys: Sequence[str], where: str) -> Mapping:
    """A plan's nested mapping `name`, checked: a mapping, with no key outside `keys`."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: `{name}` must be a mapping", f"use keys: {', '.join(keys)}")
    unknown = [str(k) for k in data if k not in keys]
    if unknown:
        raise UsageError(f"{where}: unknown key(s) under {name}: {', '.join(unknown)}", f"use only: {', '.join(keys)}")
    return data


def thresholds_from_mapping(data: Any, where: str) -> Thresholds:
    """Thresholds from the plan's `thresholds:` mapping; `where` names the file for error messages."""
    if data is None:
        return Thresholds()
    section(data, "thresholds", THRESHOLD_KEYS, where)
    ratios = data.get("max_ratio_vs") or {}
    if not isinstance(ratios, Mapping):
        raise UsageError(f"{where}: thresholds.max_ratio_vs must map a reference to a ratio",
                         "e.g. max_ratio_vs: {microisp-1.0: 1.5}")
    full = data.get("require_full_delegation", False)
    if not isinstance(full, bool):
        raise UsageError(f"{where}: thresholds.require_full_delegation must be true or false, got {full!r}")
    latency, psnr = data.get("max_latency_ms"), data.get("min_psnr")
    try:
        return Thresholds(
            max_latency_ms=None if latency is None else _number(latency, "thresholds.max_latency_ms"),
            statistic=str(data.get("statistic", "median")),
            max_ratio_vs=tuple(RatioLimit(str(name), _number(ratio, f"thresholds.max_ratio_vs.{name}"))
                               for name, ratio in ratios.items()),
            require_full_delegation=full,
            min_psnr=None if psnr is None else _number(psnr, "thresholds.min_psnr"))
    except UsageError as error:
        raise UsageError(f"{where}: {error.message}", error.fix) from None


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # pass, fail, error, not-checked, n/a
    detail: str


@dataclass(frozen=True)
class Verdict:
    """One job's result and what the thresholds made of it."""

    result: Result
    outcome: str
    checks: tuple[Check, ...]

    @property
    def job_id(self) -> str:
        return str(self.result.extra.get("job_id", ""))

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the job failed or errored, one line per failed check."""
        return tuple(f"{c.name}: {c.detail}" for c in self.checks if c.outcome in ("fail", "error"))

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"job_id": self.job_id, "outcome": self.outcome, "model": r.model.name, "delegate": r.delegate,
                "device": device_key(r), "status": r.status,
                "checks": [{"name": c.name, "outcome": c.outcome, "detail": c.detail} for c in self.checks]}


def device_key(result: Result) -> str:
    """`SERVER/SERIAL`, the `--device` value that selects exactly this device (the serial alone off-server)."""
    d = result.device
    return f"{d.server}/{d.serial}" if d.server else d.serial


def latency_of(result: Result, statistic: str) -> tuple[float | None, str]:
    """The statistic from the result, and the name of the one used: benchmark_model builds that print no
    median give the average instead (said so in the name)."""
    value = getattr(result.latency_ms, statistic)
    if value is None and statistic == "median" and result.latency_ms.avg is not None:
        return result.latency_ms.avg, "avg (the log has no median)"
    return value, statistic


def load_fidelity(path: Path) -> dict[str, float]:
    """PSNR per model from a fidelity document, or from every *.json/*.yaml document in a folder (as
    `mai-bench eval --out DIR` writes them). A document is a mapping of model name, path or sha256 to PSNR, or
    one or a list of objects with `psnr` and `model` (a name, or an object with sha256/name/path); a `psnr` of
    null means the outputs equalled their targets (infinite PSNR). Where several documents give one model a
    PSNR, the latest by `created_at` counts."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".yaml", ".yml")) if path.is_dir() else [path]
    dated: dict[str, tuple[str, float]] = {}
    for file in files:
        for key, (created, value) in _fidelity_file(file).items():
            if key not in dated or created >= dated[key][0]:
                dated[key] = (created, value)
    if not dated:
        raise UsageError(f"fidelity document {path} holds no PSNR values",
                         "give {model-name: psnr}, objects with `model` and `psnr`, or `mai-bench eval --out` files")
    return {key: value for key, (_, value) in dated.items()}


def _fidelity_file(path: Path) -> dict[str, tuple[str, float]]:
    data = read_yaml(path, "fidelity document", "pass a JSON or YAML file")
    table: dict[str, tuple[str, float]] = {}
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, Mapping) and "psnr" in item and "model" in item:
            model, psnr = item["model"], item["psnr"]
            value = math.inf if psnr is None else _number(psnr, f"fidelity document {path}: psnr")
            keys = [model.get(k) for k in ("sha256", "name", "path")] if isinstance(model, Mapping) else [model]
            table.update({str(key): (str(item.get("created_at", "")), value) for key in keys if key})
        elif isinstance(item, Mapping) and item and all(isinstance(v, (int, float)) for v in item.values()):
            table.update({str(k): ("", _number(v, f"fidelity document {path}: {k}")) for k, v in item.items()})
        else:
            raise UsageError(f"fidelity document {path} holds no PSNR values I can read",
                             "give {model-name: psnr}, or objects with `model` and `psnr`")
    return table


def psnr_for(result: Result, fidelity: Mapping[str, float]) -> float | None:
    model = result.model
    for key in (model.sha256, model.name, model.path, Path(model.path).name):
        if key in fidelity:
            return fidelity[key]
    return None


def _status_check(result: Result, allow_fallback: bool) -> Check:
    status = result.status
    if status == "ok":
        return Check("status", "pass", "ok")
    first = (result.delegation.reasons or result.warnings or (status,))[0]
    if status in INFRA_STATUSES:
        return Check("status", "error", f"{status}: {first}")
    if status == "delegate-fallback" and allow_fallback:
        return Check("status", "pass", f"delegate-fallback allowed by the plan: {first}")
    return Check("status", "fail", f"{status}: {first}")


def _latency_check(result: Result, thresholds: Thresholds, measured: bool) -> Check:
    limit = thresholds.max_latency_ms
    if limit is None:
        return Check("max_latency_ms", "n/a", "no limit set")
    if not measured:
        return Check("max_latency_ms", "not-checked", f"nothing measured ({result.status})")
    value, used = latency_of(result, thresholds.statistic)
    if value is None:
        return Check("max_latency_ms", "fail", f"the log reports no {thresholds.statistic} latency")
    verdict = "pass" if value <= limit else "fail"
    return Check("max_latency_ms", verdict, f"{used} {value:.3f} ms {'<=' if verdict == 'pass' else '>'} {limit:g} ms")


def _ratio_check(result: Result, limit: RatioLimit, thresholds: Thresholds, measured: bool,
                 by_place: Mapping[tuple[str, str, str], Result]) -> Check:
    name = f"max_ratio_vs {limit.reference}"
    if not measured:
        return Check(name, "not-checked", f"nothing measured ({result.status})")
    reference = by_place.get((limit.sha256 or "", device_key(result), result.delegate))
    if reference is None:
        return Check(name, "fail", f"{limit.reference} has no result on this device with {result.delegate}")
    if reference.status in INFRA_STATUSES:
        return Check(name, "error", f"{limit.reference} could not be measured here ({reference.status})")
    if reference.status != "ok":
        return Check(name, "fail", f"{limit.reference} did not measure here ({reference.status}): nothing to "
                                   "compare with")
    mine, used = latency_of(result, thresholds.statistic)
    theirs, _ = latency_of(reference, thresholds.statistic)
    if mine is None or not theirs:
        return Check(name, "fail", f"no {thresholds.statistic} latency to compare")
    ratio = mine / theirs
    verdict = "pass" if ratio <= limit.max_ratio else "fail"
    return Check(name, verdict, f"{ratio:.3f}x ({used} {mine:.3f} ms vs {theirs:.3f} ms) "
                                f"{'<=' if verdict == 'pass' else '>'} {limit.max_ratio:g}x")


def _delegation_check(result: Result, thresholds: Thresholds, measured: bool) -> Check:
    if not thresholds.require_full_delegation:
        return Check("require_full_delegation", "n/a", "not required")
    if result.delegate == "cpu":
        return Check("require_full_delegation", "n/a", "plain CPU kernels delegate nothing")
    if result.delegate not in JUDGED_DELEGATES:
        return Check("require_full_delegation", "n/a",
                     f"{result.delegate} is a CPU delegate: the ops it has no kernel for run on the built-in CPU "
                     f"kernels by design, not as a fallback (judged: {', '.join(JUDGED_DELEGATES)})")
    if not measured:
        return Check("require_full_delegation", "not-checked", f"nothing measured ({result.status})")
    d = result.delegation
    if d.full:
        return Check("require_full_delegation", "pass", "the delegate took the whole graph")
    if d.full is None:
        return Check("require_full_delegation", "fail", "the log does not say how much of the graph the delegate took")
    counts = f" ({d.nodes_delegated} of {d.nodes_total} nodes)" if d.nodes_total is not None else ""
    return Check("require_full_delegation", "fail",
                 f"the {result.delegate} delegate took only part of the graph{counts}: the rest ran on the CPU")


def _psnr_check(result: Result, thresholds: Thresholds, fidelity: Mapping[str, float] | None,
                fidelity_source: str | None) -> Check:
    if thresholds.min_psnr is None:
        return Check("min_psnr", "n/a", "no limit set")
    if result.status in INFRA_STATUSES:
        return Check("min_psnr", "not-checked", f"nothing measured ({result.status}): the job never ran")
    if fidelity is None:
        return Check("min_psnr", "not-checked", "no fidelity document: add `fidelity: FILE` to the plan")
    value = psnr_for(result, fidelity)
    if value is None:
        return Check("min_psnr", "fail", f"{fidelity_source} has no PSNR for {result.model.name}")
    verdict = "pass" if value >= thresholds.min_psnr else "fail"
    return Check("min_psnr", verdict, f"PSNR {value:.2f} dB {'>=' if verdict == 'pass' else '<'} "
                                      f"{thresholds.min_psnr:g} dB")


def evaluate(results: Sequence[Result], thresholds: Thresholds, *, allow_fallback: bool = False,
             fidelity: Mapping[str, float] | None = None, fidelity_source: str | None = None) -> tuple[Verdict, ...]:
    """One verdict per result. Results whose `extra["job_role"]` is "reference" (models added only to compare
    with) are judged by their status alone; the others by every threshold."""
    by_place: dict[tuple[str, str, str], Result] = {}
    for r in results:
        by_place[(r.model.sha256, device_key(r), r.delegate)] = r  # the latest one wins
    verdicts = []
    for r in results:
        status = _status_check(r, allow_fallback)
        checks = [status]
        if r.extra.get("job_role") != "reference":
            measured = status.outcome == "pass"
            checks.append(_latency_check(r, thresholds, measured))
            checks += [_ratio_check(r, limit, thresholds, measured, by_place)
                       for limit in thresholds.max_ratio_vs if limit.sha256 != r.model.sha256]
            checks.append(_delegation_check(r, thresholds, measured))
            checks.append(_psnr_check(r, thresholds, fidelity, fidelity_source))
        outcomes = {c.outcome for c in checks}
        outcome = ERROR if "error" in outcomes else FAILED if "fail" in outcomes else PASSED
        verdicts.append(Verdict(r, outcome, tuple(checks)))
    return tuple(verdicts)


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """3 when any job hit an infrastructure error, else 1 when any failed, else 0."""
    outcomes = {v.outcome for v in verdicts}
    return EXIT_INFRA if ERROR in outcomes else EXIT_CHECK_FAILED if FAILED in outcomes else EXIT_OK
