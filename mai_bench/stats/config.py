"""What makes two results the same benchmark: the identity (model, delegate, device, binary) and the workload
settings. Rounds of one configuration are summarized together; configurations are paired by identity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from mai_bench.results.schema import DeviceRef, Result

# Settings that change the work done per inference; the rest (runs, warm-up, time limits) change only how
# well it is measured.
WORKLOAD_SETTINGS = ("input_shape", "threads", "precision", "gpu_backend", "nnapi_accelerator", "extra_flags")


def device_id(device: DeviceRef) -> str:
    """The device as a comparison sees it: its SoC profile when known (two phones of one profile compare),
    else its serial; the host by its CPU model."""
    # A GPU on the host or in a loopback device is the GPU LiteRT's accelerator selected there (a software one
    # like SwiftShader, or a real one): two of them are two devices.
    gpu = device.properties.get("gpu.adapter") if device.backend == "host" or device.emulated else None
    software = "software " if device.properties.get("gpu.software") == "true" else ""
    on_gpu = f" + {software}GPU {gpu}" if gpu else ""
    if device.backend == "host":
        return f"host: {device.soc or device.serial}{on_gpu}"
    name = device.profile or device.serial
    return f"{name} (emulated){on_gpu}" if device.emulated else name


@dataclass(frozen=True)
class Identity:
    """Results with different identities are never compared: their numbers mean different things."""

    model_sha256: str
    model_name: str
    delegate: str
    device: str
    binary_sha256: str | None

    @classmethod
    def of(cls, result: Result) -> "Identity":
        return cls(model_sha256=result.model.sha256, model_name=result.model.name, delegate=result.delegate,
                   device=device_id(result.device), binary_sha256=result.binary.sha256)

    @property
    def label(self) -> str:
        return f"{self.model_name} / {self.delegate} / {self.device}"

    def differences(self, other: "Identity") -> tuple[str, ...]:
        """Why `other` is not the same benchmark, one phrase per differing part (empty when it is)."""
        out = []
        if self.model_sha256 != other.model_sha256:
            names = "" if self.model_name == other.model_name else f"{self.model_name} vs {other.model_name}, "
            out.append(f"different model ({names}sha256 {self.model_sha256[:12]} vs {other.model_sha256[:12]})")
        if self.delegate != other.delegate:
            out.append(f"different delegate ({self.delegate} vs {other.delegate})")
        if self.device != other.device:
            out.append(f"different device ({self.device} vs {other.device})")
        if self.binary_sha256 != other.binary_sha256:
            out.append(f"different benchmark binary (sha256 {_short(self.binary_sha256)} vs "
                       f"{_short(other.binary_sha256)})")
        return tuple(out)


def _short(sha: str | None) -> str:
    return "unknown" if sha is None else sha[:12]


def workload(result: Result) -> tuple[tuple[str, Any], ...]:
    """The workload settings of a result as a hashable, ordered tuple."""
    items = []
    for name in WORKLOAD_SETTINGS:
        value = result.settings.get(name)
        items.append((name, tuple(value) if isinstance(value, list) else value))
    return tuple(items)


def workload_differences(a: Result, b: Result) -> tuple[str, ...]:
    """Phrases like "threads 2 vs 1" for each workload setting that differs."""
    return tuple(f"{name} {_show(va)} vs {_show(vb)}"
                 for (name, va), (_, vb) in zip(workload(a), workload(b)) if va != vb)


def _show(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, tuple):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


@dataclass(frozen=True)
class ConfigKey:
    identity: Identity
    workload: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, result: Result) -> "ConfigKey":
        return cls(identity=Identity.of(result), workload=workload(result))


def group_by_config(results: Iterable[Result]) -> dict[ConfigKey, list[Result]]:
    """Results grouped by configuration, in first-seen order; each group's results (rounds) by creation time."""
    groups: dict[ConfigKey, list[Result]] = defaultdict(list)
    for result in results:
        groups[ConfigKey.of(result)].append(result)
    return {key: sorted(rounds, key=lambda r: r.created_at) for key, rounds in groups.items()}


def same_config(results: Sequence[Result]) -> bool:
    return len({ConfigKey.of(r) for r in results}) <= 1
