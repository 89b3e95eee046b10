"""SoC profiles (`device_profiles/*.yaml`): what a chipset is, how to recognise it from getprop, which
delegates are expected to work on it, known caveats, and published runtimes where a source exists.

How a device is matched (`match_profile`):
1. A device that sets `mai_bench.emulated=1` is compared only with emulated profiles; any other device only
   with real ones.
2. The most specific property the device reports decides: `ro.soc.model` (set since Android 12) if present,
   else `ro.board.platform`, else `ro.hardware`. It is compared, ignoring case, with the same-named list of
   each profile (`soc_model`, `board_platform`, `hardware`); less specific properties are then not consulted,
   so an SM8475 phone (board platform "taro", like the SM8450) never falls back to the SM8450 profile.
3. Exactly one profile must match; none, or several (a "taro" board without `ro.soc.model`), gives None.

A profile answers to its own name and, for an emulated profile, to the name in `emulates`: `--device sm8450`
selects real SM8450 phones and loopback devices emulating one (`Profile.answers_to`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any


from mai_bench.errors import UsageError
from mai_bench.plan import DELEGATES
from mai_bench.resources import data_dir
from mai_bench.yaml_file import read_yaml

EMULATED_PROPERTY = "mai_bench.emulated"
# Set, to the reason, by a loopback device that is more lenient than a phone (no bwrap, mksh or toybox).
LENIENT_PROPERTY = "mai_bench.lenient"
# rule name -> the getprop key it is compared with, most specific first
MATCH_PROPERTIES = {"soc_model": "ro.soc.model", "board_platform": "ro.board.platform", "hardware": "ro.hardware"}


@dataclass(frozen=True)
class MatchRules:
    soc_model: tuple[str, ...] = ()
    board_platform: tuple[str, ...] = ()
    hardware: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.soc_model or self.board_platform or self.hardware):
            raise ValueError("a profile needs at least one match rule")


@dataclass(frozen=True)
class Baseline:
    """A published runtime: `model` on `delegate` took `runtime_ms`, according to `source`."""

    model: str
    delegate: str
    runtime_ms: float
    source: str

    def __post_init__(self) -> None:
        if self.delegate not in DELEGATES:
            raise ValueError(f"unknown delegate {self.delegate!r}")
        if not self.runtime_ms > 0:
            raise ValueError(f"runtime {self.runtime_ms} ms must be positive")


@dataclass(frozen=True)
class EmulatorSpec:
    """What a loopback device emulating this SoC reports, in the units the kernel uses (the schema of
    `mai_bench.emulate.adbd.spec`): getprop values, thermal zones (type -> millidegrees C), battery
    temperature (tenths of a degree C), battery status, and each core's max clock (kHz)."""

    props: Mapping[str, str]
    thermal: Mapping[str, int] = field(default_factory=dict)
    battery_temp: int | None = None
    battery_status: str = "Discharging"
    cpu_max_freqs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "props", MappingProxyType(dict(self.props)))
        object.__setattr__(self, "thermal", MappingProxyType(dict(self.thermal)))
        if any(f <= 0 for f in self.cpu_max_freqs):
            raise ValueError("cpu_max_freqs must be positive kHz values")

    def to_dict(self) -> dict[str, Any]:
        """The mapping `mai_bench.emulate.adbd.spec.spec_from_mapping` takes."""
        return {
            "props": dict(self.props),
            "thermal": dict(self.thermal),
            "battery_temp": self.battery_temp,
            "battery_status": self.battery_status,
            "cpu_max_freqs": list(self.cpu_max_freqs),
        }


@dataclass(frozen=True)
class Profile:
    name: str
    display_name: str
    match: MatchRules
    gpu: str
    delegates: tuple[str, ...]
    npu: str | None = None
    caveats: tuple[str, ...] = ()
    baselines: tuple[Baseline, ...] = ()
    emulated: bool = False
    emulates: str | None = None
    preinstalled_binary: str | None = None
    emulator: EmulatorSpec | None = None
    source_file: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = [d for d in self.delegates if d not in DELEGATES]
        if unknown or not self.delegates:
            raise ValueError(f"delegates must be a non-empty list of {', '.join(DELEGATES)}; got {self.delegates}")
        if self.emulated != (self.emulator is not None):
            raise ValueError("an emulated profile needs an `emulator` section, and only an emulated one may have it")
        if self.emulates is not None and not self.emulated:
            raise ValueError("only an emulated profile may say what it `emulates`")
        if self.preinstalled_binary is not None and not self.preinstalled_binary.startswith("/"):
            raise ValueError(f"preinstalled_binary {self.preinstalled_binary!r} must be an absolute device path")

    def answers_to(self, name: str) -> bool:
        """Whether `--device NAME` selects devices of this profile."""
        return name.lower() in (self.name, (self.emulates or "").lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "gpu": self.gpu,
            "npu": self.npu,
            "match": {rule: list(getattr(self.match, rule)) for rule in MATCH_PROPERTIES},
            "delegates": list(self.delegates),
            "emulated": self.emulated,
            "emulates": self.emulates,
            "baselines": [vars(b) for b in self.baselines],
            "caveats": list(self.caveats),
        }


# -- loading and validation ------------------------------------------------------------------------------------


class _Reader:
    """Checks one YAML file's values, naming the file and the key in every error."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str, fix: str) -> UsageError:
        return UsageError(f"device profile {self.path}: {where}: {problem}", fix)

    def mapping(self, value: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}", "write `key: value` lines")
        allowed = required | optional
        for key in value:
            if key not in allowed:
                raise self.fail(where, f"unknown key {key!r}", f"allowed keys: {', '.join(sorted(allowed))}")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing key {missing[0]!r}", f"add `{missing[0]}:`")
        return value

    def free_mapping(self, value: Any, where: str) -> dict[str, Any]:
        """A mapping whose keys are data (property names, sensor names), not schema."""
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}", "write `key: value` lines")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}", "quote the value")
        return value.strip()

    def optional_text(self, value: Any, where: str) -> str | None:
        return None if value is None else self.text(value, where)

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}", "write a YAML list: [a, b]")
        return value

    def texts(self, value: Any, where: str) -> tuple[str, ...]:
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(self.items(value, where)))

    def scalar(self, value: Any, where: str) -> str:
        """A getprop value: YAML may read `33` or `1.0` as numbers, getprop only has strings."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(where, f"expected a string, got {value!r}", "quote the value")
        return str(value)

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number, got {value!r}", "write a plain number")
        return float(value)

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected a whole number, got {value!r}", "write a plain integer")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}", "write true or false")
        return value


_TOP_REQUIRED = {"name", "display_name", "match", "gpu", "delegates"}
_TOP_OPTIONAL = {"npu", "caveats", "baselines", "emulated", "emulates", "preinstalled_binary", "emulator"}
_EMULATOR_OPTIONAL = {"thermal", "battery_temp", "battery_status", "cpu_max_freqs"}


def _build(path: Path, data: Any, r: _Reader) -> Profile:
    top = r.mapping(data, "top level", _TOP_REQUIRED, _TOP_OPTIONAL)
    name = r.text(top["name"], "name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise r.fail("name", f"{name!r} is not lowercase letters, digits and dashes", "rename it, e.g. sm8450")
    if name != path.stem:
        raise r.fail("name", f"{name!r} differs from the file name", f"rename the file to {name}.yaml or fix `name`")
    rules = r.mapping(top["match"], "match", set(), set(MATCH_PROPERTIES))
    baselines = []
    for i, item in enumerate(r.items(top.get("baselines"), "baselines")):
        entry = r.mapping(item, f"baselines[{i}]", {"model", "delegate", "runtime_ms", "source"}, set())
        baselines.append(
            Baseline(
                r.text(entry["model"], f"baselines[{i}].model"),
                r.text(entry["delegate"], f"baselines[{i}].delegate"),
                r.number(entry["runtime_ms"], f"baselines[{i}].runtime_ms"),
                r.text(entry["source"], f"baselines[{i}].source"),
            )
        )
    emulator = None
    if top.get("emulator") is not None:
        spec = r.mapping(top["emulator"], "emulator", {"props"}, _EMULATOR_OPTIONAL)
        props = r.free_mapping(spec["props"], "emulator.props")
        zones = r.free_mapping(spec.get("thermal") or {}, "emulator.thermal")
        battery = spec.get("battery_temp")
        emulator = EmulatorSpec(
            props={r.text(k, "emulator.props"): r.scalar(v, f"emulator.props.{k}") for k, v in props.items()},
            thermal={r.text(k, "emulator.thermal"): r.integer(v, f"emulator.thermal.{k}") for k, v in zones.items()},
            battery_temp=None if battery is None else r.integer(battery, "emulator.battery_temp"),
            battery_status=r.text(spec.get("battery_status", "Discharging"), "emulator.battery_status"),
            cpu_max_freqs=tuple(
                r.integer(f, f"emulator.cpu_max_freqs[{i}]") for i, f in enumerate(r.items(spec.get("cpu_max_freqs"), "emulator.cpu_max_freqs"))
            ),
        )
    return Profile(
        name=name,
        display_name=r.text(top["display_name"], "display_name"),
        match=MatchRules(**{key: r.texts(rules.get(key), f"match.{key}") for key in MATCH_PROPERTIES}),
        gpu=r.text(top["gpu"], "gpu"),
        delegates=r.texts(top["delegates"], "delegates"),
        npu=r.optional_text(top.get("npu"), "npu"),
        caveats=r.texts(top.get("caveats"), "caveats"),
        baselines=tuple(baselines),
        emulated=r.flag(top.get("emulated", False), "emulated"),
        emulates=r.optional_text(top.get("emulates"), "emulates"),
        preinstalled_binary=r.optional_text(top.get("preinstalled_binary"), "preinstalled_binary"),
        emulator=emulator,
        source_file=path,
    )


def load_profile(path: Path) -> Profile:
    """Read and check one profile file."""
    r = _Reader(path)
    data = read_yaml(path, "device profile", "check the file exists")
    try:
        return _build(path, data, r)
    except ValueError as error:
        raise r.fail("values", str(error), "see device_profiles/README.md for the format") from None


def load_profiles(folder: Path | None = None) -> dict[str, Profile]:
    """Every profile in `folder` (default: the shipped `device_profiles`), by name, checked as a set."""
    return dict(_load_folder(folder or data_dir("device_profiles")))


@lru_cache(maxsize=8)
def _load_folder(folder: Path) -> tuple[tuple[str, Profile], ...]:
    profiles = {}
    for path in sorted(folder.glob("*.yaml")):
        profile = load_profile(path)
        profiles[profile.name] = profile
    claimed: dict[tuple[bool, str], str] = {}
    for profile in profiles.values():
        if profile.emulates is not None and profile.emulates not in profiles:
            raise UsageError(
                f"device profile {profile.source_file}: emulates {profile.emulates!r}, which has no profile",
                f"use one of: {', '.join(sorted(p for p in profiles if not profiles[p].emulated))}",
            )
        for model in profile.match.soc_model:
            key = (profile.emulated, model.lower())
            if key in claimed:
                raise UsageError(
                    f"device profiles {claimed[key]} and {profile.name} both match ro.soc.model={model}",
                    "keep each SoC model in one profile",
                )
            claimed[key] = profile.name
    return tuple(profiles.items())


def get_profile(name: str, profiles: Mapping[str, Profile] | None = None) -> Profile:
    """The profile called `name`; a UsageError listing the known names otherwise."""
    known = load_profiles() if profiles is None else profiles
    if name.lower() not in known:
        raise UsageError(f"no device profile {name!r}", f"use one of: {', '.join(sorted(known))}")
    return known[name.lower()]


def match_profile(props: Mapping[str, str], profiles: Mapping[str, Profile] | None = None) -> Profile | None:
    """The one profile these getprop values match (see the module docstring for the rules), else None."""
    candidates = [
        p
        for p in (load_profiles() if profiles is None else profiles).values()
        if p.emulated == (props.get(EMULATED_PROPERTY, "").strip() == "1")
    ]
    for rule, key in MATCH_PROPERTIES.items():
        value = props.get(key, "").strip().lower()
        if value:
            found = [p for p in candidates if value in (v.lower() for v in getattr(p.match, rule))]
            return found[0] if len(found) == 1 else None
    return None
