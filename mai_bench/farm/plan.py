"""The farm plan (YAML, validated: unknown keys are refused with the key and the file named) and its expansion
into jobs: models x devices x delegates, each with a stable id.

```yaml
servers: [127.0.0.1:5037, farm-host-2:5037]   # adb servers (default: the one adb uses)
models: [models/candidate.tflite, microisp-1.0] # paths (relative to the plan) or bundled reference models
devices: [sm8450, sm8550]                       # profile names, serials, HOST:PORT/SERIAL, or all
delegates: [gpu, xnnpack]
runs: 20
warmup: 3
thresholds: {max_latency_ms: 40, max_ratio_vs: {microisp-1.0: 1.2}, require_full_delegation: true}
```

A reference named in `max_ratio_vs` that is not among the models joins the matrix as a reference job: measured
on every device with every delegate, judged only by its status. A job id names the model, delegate and device
and ends in a digest of everything that changes the measurement (model content, run settings, device, binary),
so `--resume` never reuses a result measured differently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mai_bench.android.thermal import ThermalLimits
from mai_bench.device.address import ServerAddress, default_server, parse_server
from mai_bench.device.discovery import DeviceInfo, closest_profile
from mai_bench.device.errors import UnknownDevice
from mai_bench.device.lock import LOCK_WAIT_S
from mai_bench.errors import InfraError, UsageError
from mai_bench.farm.thresholds import Thresholds, section, thresholds_from_mapping
from mai_bench.plan import DELEGATES, RunPlan
from mai_bench.resources import reference_models_dir
from mai_bench.results.schema import ModelRef
from mai_bench.hashing import sha256_file
from mai_bench.yaml_file import read_yaml

RUN_KEYS = ("runs", "warmup", "threads", "min_secs", "max_secs", "input_shape", "gpu_backend", "precision",
            "nnapi_accelerator", "op_profiling", "peak_memory", "allow_fallback")
PLAN_KEYS = ("name", "servers", "models", "devices", "delegates", *RUN_KEYS, "benchmark_binary", "thermal",
             "lock_wait_s", "reconnect_grace_s", "thresholds", "fidelity")
THERMAL_KEYS = ("max_temp_c", "max_battery_c", "cooldown_timeout_s")
CANDIDATE, REFERENCE = "candidate", "reference"


@dataclass(frozen=True)
class ModelSpec:
    """A model of the farm: its file, the plan's name for it, its content hash and its role."""

    path: Path
    label: str
    sha256: str
    role: str = CANDIDATE

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class FarmPlan:
    source: Path
    name: str
    servers: tuple[ServerAddress, ...]
    models: tuple[ModelSpec, ...]
    devices: tuple[str, ...]
    delegates: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)  # RunPlan fields except the delegate
    thresholds: Thresholds = Thresholds()
    fidelity: Path | None = None
    benchmark_binary: Path | None = None
    thermal: ThermalLimits = ThermalLimits()
    lock_wait_s: float = LOCK_WAIT_S
    reconnect_grace_s: float | None = None  # None: the run's default (mai_bench.android.remote_run)

    @property
    def allow_fallback(self) -> bool:
        return bool(self.settings.get("allow_fallback", False))

    def run_plan(self, delegate: str) -> RunPlan:
        try:
            return RunPlan(delegate=delegate, **self.settings)
        except UsageError as error:
            raise UsageError(f"plan {self.source}: {error.message}", error.fix) from None


@dataclass(frozen=True)
class Job:
    """One benchmark of the farm. `target` is None when the plan's device entry matched no ready device;
    `problem` then says why, and the job is recorded as an infrastructure error without running."""

    id: str
    model: ModelSpec
    plan: RunPlan
    model_ref: ModelRef
    device_spec: str
    target: DeviceInfo | None
    problem: Exception | None = field(default=None, compare=False)

    @property
    def device_key(self) -> str:
        return self.target.spec if self.target is not None else self.device_spec

    @property
    def label(self) -> str:
        return f"{self.model.name}/{self.plan.delegate}"


def reference_models() -> dict[str, Path]:
    """Bundled reference models by key (`microisp-1.0`, ...), from their manifest."""
    folder = reference_models_dir()
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    return {entry["key"]: folder / entry["file"] for entry in manifest["models"]}


def load_plan(path: Path, servers: Sequence[ServerAddress] = ()) -> FarmPlan:
    """Read and validate a plan file; `servers` (from --adb-server) replace the plan's own when given."""
    path = Path(path)
    plan = plan_from_mapping(read_yaml(path, "plan file", "pass the path of a farm plan YAML file"), path)
    return replace(plan, servers=tuple(servers)) if servers else plan


def _list(data: Mapping[str, Any], key: str, where: Path, *, required: bool = True) -> list[str]:
    value = data.get(key)
    if value is None and not required:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) for v in value):
        raise UsageError(f"plan {where}: `{key}` must be a non-empty list of names", f"e.g. {key}: [...]")
    return list(dict.fromkeys(str(v).strip() for v in value))


def _number(data: Mapping[str, Any], key: str, where: Path, *, integer: bool = False) -> Any:
    value = data[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise UsageError(f"plan {where}: `{key}` must be {'an integer' if integer else 'a number'}, got {value!r}")
    return value


def _file(value: Any, key: str, where: Path, *, folder_ok: bool = False) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"plan {where}: `{key}` must be a file path")
    path = (where.parent / value).resolve()
    if not (path.is_file() or folder_ok and path.is_dir()):
        raise UsageError(f"plan {where}: {key} {value} does not exist (looked for {path})",
                         "paths in a plan are relative to the plan file")
    return path


def _settings(data: Mapping[str, Any], where: Path) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ("runs", "warmup", "threads"):
        if data.get(key) is not None:
            settings[key] = _number(data, key, where, integer=True)
    for key in ("min_secs", "max_secs"):
        if data.get(key) is not None:
            settings[key] = float(_number(data, key, where))
    for key in ("gpu_backend", "precision", "nnapi_accelerator"):
        if data.get(key) is not None:
            settings[key] = str(data[key])
    for key in ("op_profiling", "peak_memory", "allow_fallback"):
        if key in data:
            if not isinstance(data[key], bool):
                raise UsageError(f"plan {where}: `{key}` must be true or false, got {data[key]!r}")
            settings[key] = data[key]
    if data.get("input_shape") is not None:
        shape = data["input_shape"]
        if (not isinstance(shape, list) or len(shape) != 4
                or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
            raise UsageError(f"plan {where}: `input_shape` must be four positive integers, got {shape!r}",
                             "e.g. input_shape: [1, 544, 960, 4]")
        settings["input_shape"] = tuple(shape)
    return settings


DEVICE_FORMS = "a profile name (sm8450, ...), a serial, HOST:PORT/SERIAL, or all"
# What adb serials are made of: USB serials (R5CT1234ABC), TCP ones (192.168.1.5:5555, [::1]:5555), mDNS names
# (adb-R5CT1234ABC-xyz._adb-tls-connect._tcp), `usb:1-1`.
_SERIAL = re.compile(r"[A-Za-z0-9._:@%\[\]-]+")


def _check_device_entry(entry: str, where: Path) -> None:
    """Refuse a `devices:` entry that cannot name a device whatever is attached (a profile typo is found when the
    devices are listed: `expand`)."""
    server, slash, serial = entry.rpartition("/") if "/" in entry else ("", "", entry)
    if slash:
        try:
            parse_server(server)
        except UsageError as error:
            raise UsageError(f"plan {where}: device entry {entry!r}: {error.message}",
                             f"write HOST:PORT/SERIAL, e.g. 127.0.0.1:5037/R5CT1234ABC; devices are {DEVICE_FORMS}"
                             ) from None
    if not _SERIAL.fullmatch(serial):
        several = [part for part in re.split(r"[\s,]+", entry) if part]
        fix = (f"list them one per item: devices: [{', '.join(several)}]" if len(several) > 1
               else f"devices are {DEVICE_FORMS}")
        raise UsageError(f"plan {where}: device entry {entry!r} is neither a profile, a serial nor an address", fix)


def unknown_device_entry(plan: FarmPlan, spec: str) -> UsageError | None:
    """The plan error for a `devices:` entry that named no profile and no device attached to the reachable adb
    servers but is close to a profile name (`sm845`): a typo, not a phone that is away; None otherwise (an entry
    that looks like the serial of a phone not plugged in stays an infrastructure error of its jobs)."""
    close = closest_profile(spec)
    if close is None or close == spec.lower():
        return None
    return UsageError(f"plan {plan.source}: device entry {spec!r} is not a device profile, and no device with that "
                      "serial is attached to the plan's adb servers",
                      f"did you mean {close}? Devices are {DEVICE_FORMS} (`mai-bench devices` lists serials and "
                      "profiles)")


def _seconds(data: Mapping[str, Any], key: str, where: Path, default: float | None) -> float | None:
    if data.get(key) is None:
        return default
    value = float(_number(data, key, where))
    if value < 0:
        raise UsageError(f"plan {where}: `{key}` must be 0 or more, got {value:g}")
    return value


def _thermal(data: Any, where: Path) -> ThermalLimits:
    if data is None:
        return ThermalLimits()
    section(data, "thermal", THERMAL_KEYS, f"plan {where}")
    values = {k: float(_number(data, k, where)) for k in THERMAL_KEYS if data.get(k) is not None}
    defaults = ThermalLimits()
    try:
        return ThermalLimits(soc_c=values.get("max_temp_c", defaults.soc_c),
                             battery_c=values.get("max_battery_c", defaults.battery_c),
                             max_wait_s=values.get("cooldown_timeout_s", defaults.max_wait_s))
    except ValueError as error:
        raise UsageError(f"plan {where}: thermal: {error}") from None


def _models(labels: Sequence[str], where: Path, references: Mapping[str, Path]) -> list[ModelSpec]:
    specs: dict[Path, ModelSpec] = {}
    for label in labels:
        path = references[label] if label in references else (where.parent / label).resolve()
        if not path.is_file():
            raise UsageError(f"plan {where}: model {label} does not exist (looked for {path})",
                             f"paths in a plan are relative to the plan file; bundled references: "
                             f"{', '.join(references)}")
        specs.setdefault(path, ModelSpec(path, label, sha256_file(path)))
    return list(specs.values())


def _resolve_ratios(thresholds: Thresholds, models: list[ModelSpec], where: Path,
                    references: Mapping[str, Path]) -> Thresholds:
    """Pin each max_ratio_vs reference to a model (one of the plan's, else a bundled one added as a reference
    job), by content hash."""
    limits = []
    for limit in thresholds.max_ratio_vs:
        match = next((m for m in models if limit.reference in (m.label, m.name, m.path.name)), None)
        if match is None and limit.reference in references:
            path = references[limit.reference]
            match = ModelSpec(path, limit.reference, sha256_file(path), REFERENCE)
            models.append(match)
        if match is None:
            raise UsageError(f"plan {where}: max_ratio_vs names {limit.reference!r}, which is neither one of the "
                             "plan's models nor a bundled reference model",
                             f"use one of: {', '.join([*references, *(m.label for m in models)])}")
        limits.append(replace(limit, sha256=match.sha256))
    return replace(thresholds, max_ratio_vs=tuple(limits))


def plan_from_mapping(data: Any, source: Path) -> FarmPlan:
    """Validate a parsed plan; `source` is the plan file (relative paths are resolved against its folder)."""
    where = Path(source)
    if not isinstance(data, Mapping):
        raise UsageError(f"plan {where} must be a YAML mapping", "see examples/farm/plan.yaml")
    unknown = [str(k) for k in data if k not in PLAN_KEYS]
    if unknown:
        raise UsageError(f"plan {where}: unknown key(s): {', '.join(unknown)}", f"use only: {', '.join(PLAN_KEYS)}")
    try:
        servers = tuple(dict.fromkeys(parse_server(s) for s in _list(data, "servers", where, required=False)))
    except UsageError as error:
        raise UsageError(f"plan {where}: {error.message}", error.fix) from None
    devices = _list(data, "devices", where)
    if any(d.lower() == "local" for d in devices):
        raise UsageError(f"plan {where}: a farm runs on adb devices, not `local`",
                         "use `mai-bench run --device local` for this machine, or `mai-bench emulate` for "
                         "loopback devices")
    for entry in devices:
        _check_device_entry(entry, where)
    delegates = [d.lower() for d in _list(data, "delegates", where)]
    bad = [d for d in delegates if d not in DELEGATES]
    if bad:
        raise UsageError(f"plan {where}: unknown delegate(s): {', '.join(bad)}", f"use: {', '.join(DELEGATES)}")
    references = reference_models()
    models = _models(_list(data, "models", where), where, references)
    thresholds = _resolve_ratios(thresholds_from_mapping(data.get("thresholds"), f"plan {where}"), models, where,
                                 references)
    lock_wait = _seconds(data, "lock_wait_s", where, LOCK_WAIT_S)
    grace = _seconds(data, "reconnect_grace_s", where, None)
    name = str(data.get("name") or where.stem)
    plan = FarmPlan(
        source=where, name=name, servers=servers or (default_server(),), models=tuple(models),
        devices=tuple(devices), delegates=tuple(delegates), settings=_settings(data, where), thresholds=thresholds,
        fidelity=(_file(data["fidelity"], "fidelity", where, folder_ok=True)
                  if data.get("fidelity") is not None else None),
        benchmark_binary=(_file(data["benchmark_binary"], "benchmark_binary", where)
                          if data.get("benchmark_binary") is not None else None),
        thermal=_thermal(data.get("thermal"), where), lock_wait_s=lock_wait, reconnect_grace_s=grace)
    for delegate in plan.delegates:
        plan.run_plan(delegate)  # refuse bad run settings now, not on the first device
    return plan


def job_id(model: ModelSpec, plan: RunPlan, device_key: str, binary_sha256: str | None) -> str:
    """`model/delegate@SERVER/SERIAL#digest`: readable, and different whenever the measurement would be."""
    facts = json.dumps([model.sha256, plan.to_dict(), device_key, binary_sha256], sort_keys=True, default=str)
    return f"{model.name}/{plan.delegate}@{device_key}#{hashlib.sha256(facts.encode()).hexdigest()[:10]}"


Resolver = Callable[[str], Sequence[DeviceInfo]]
Preflight = Callable[[Path, RunPlan], tuple[RunPlan, ModelRef]]


def preflight(model: Path, plan: RunPlan) -> tuple[RunPlan, ModelRef]:
    """The plan shaped for the model and the model as results record it; a model that is unreadable or cannot
    take the plan's input shape fails here (exit 2), before any device is touched."""
    from mai_bench.measure import model_ref, shaped_plan
    from mai_bench.model.reader import read_model

    info = read_model(model)
    shaped = shaped_plan(plan, info)
    return shaped, model_ref(info, shaped)


def expand(plan: FarmPlan, resolve: Resolver, check: Preflight = preflight,
           unreachable: Mapping[str, Exception] | None = None) -> tuple[Job, ...]:
    """Every job of the plan, device by device in plan order. A device entry that matches no ready device
    (nothing attached, server down, unknown serial) gives jobs carrying the problem instead of a target, and
    so does each adb server in `unreachable` (its phones cannot even be listed). A device entry that is a typo of
    a profile name (`sm845`) raises UsageError before any job exists."""
    prepared = {(m, d): check(m.path, plan.run_plan(d)) for m in plan.models for d in plan.delegates}
    binary_sha = sha256_file(plan.benchmark_binary) if plan.benchmark_binary else None
    places: dict[str, tuple[str, DeviceInfo | None, Exception | None]] = {
        server: (server, None, error) for server, error in (unreachable or {}).items()}
    for spec in plan.devices:
        try:
            found = resolve(spec)
        except UnknownDevice as error:
            typo = unknown_device_entry(plan, spec)
            if typo is not None:
                raise typo from None
            places.setdefault(spec, (spec, None, error))
            continue
        except InfraError as error:
            places.setdefault(spec, (spec, None, error))
            continue
        for info in found:
            places.setdefault(info.spec, (spec, info, None))
    jobs = []
    for key, (spec, target, problem) in places.items():
        for model in plan.models:
            for delegate in plan.delegates:
                shaped, ref = prepared[(model, delegate)]
                jobs.append(Job(job_id(model, shaped, key, binary_sha), model, shaped, ref, spec, target, problem))
    return tuple(jobs)
