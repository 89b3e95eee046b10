"""SoC profiles (`device_profiles/*.yaml`): what a chipset is, how to recognise it from getprop, which
delegates are expected to work on it, known caveats, and published runtimes where a source exists.

How a device is matched (`match_profile`):
1. A device that sets `mai_bench.emulated=1` is compared only with emulated profiles; any other device only
   with real ones.
2. The most specific property the device reports is compared first: `ro.soc.model` (set since Android 12),
   then `ro.board.platform`, then `ro.hardware`, each ignoring case with the same-named list of each profile
   (`soc_model`, `board_platform`, `hardware`). MediaTek model strings are normalised first (`MT6833V/NZA` is
   MT6833).
3. The first property exactly one profile lists decides. Several (a "taro" board, SM8450 or SM8475) decide
   too: no profile. A property no profile lists falls through to the next one, except that a device reporting
   a chip code of the same form as a profile's own (`ro.soc.model` SM7325 on a "lahaina" board, whose profile
   says SM8350) is another chip on a shared platform and does not get that profile.

A profile answers to its own name and, for an emulated profile, to the name in `emulates`: `--device sm8450`
selects real SM8450 phones and loopback devices emulating one (`Profile.answers_to`).

A profile's `family` names its SoC family (`device_profiles/families/<family>.yaml`): which of its phones'
thermal sensors are CPU, GPU, skin or battery temperatures and which are no temperature (`sensor_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any


from mai_bench.device.sensors import SensorRules
from mai_bench.errors import UsageError
from mai_bench.plan import DELEGATES
from mai_bench.resources import data_dir
from mai_bench.yaml_file import read_yaml

EMULATED_PROPERTY = "mai_bench.emulated"
# Set, to the reason, by a loopback device that is more lenient than a phone (no bwrap, mksh or toybox).
LENIENT_PROPERTY = "mai_bench.lenient"
# rule name -> the getprop key it is compared with, most specific first
MATCH_PROPERTIES = {"soc_model": "ro.soc.model", "board_platform": "ro.board.platform", "hardware": "ro.hardware"}
GENERIC_FAMILY = "generic"  # the sensor names of every family: for a device without a profile
FAMILIES_DIR = "families"  # under the profiles folder: one YAML file per SoC family
_MEDIATEK_MODEL = re.compile(r"(MT\d{4})[A-Z]*(?:/.*)?", re.IGNORECASE)
_CHIP_CODE = re.compile(r"[A-Z]{1,3}\d[A-Z0-9]{2,}")


def normalise_soc_model(value: str) -> str:
    """A SoC model as profiles list it: trimmed, upper case, MediaTek's package and bin suffixes dropped
    (`MT6833V/NZA`, `mt6983w` -> `MT6833`, `MT6983`)."""
    text = value.strip().upper()
    found = _MEDIATEK_MODEL.fullmatch(text)
    return found.group(1) if found else text


def _code_shape(value: str) -> str | None:
    """The form of a chip code (`SM8350` -> `SM####`); None for a value that is no chip code ("Tensor G3")."""
    text = normalise_soc_model(value)
    return re.sub(r"\d", "#", text) if _CHIP_CODE.fullmatch(text) else None


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
    `mai_bench.emulate.adbd.spec`): getprop values, thermal zones (type -> raw `temp`: millidegrees C, or mA,
    mV, % for a battery-limit zone), battery temperature (tenths of a degree C), battery status, and each
    core's max clock (kHz)."""

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
    family: str = GENERIC_FAMILY  # the SoC family (device_profiles/families/<family>.yaml): its sensor names
    cpu: str | None = None  # the CPU clusters, e.g. "1x Cortex-X1 2.84 GHz + 3x Cortex-A78 2.42 GHz + ..."
    sources: tuple[str, ...] = ()  # where the facts above come from
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
            "cpu": self.cpu,
            "family": self.family,
            "match": {rule: list(getattr(self.match, rule)) for rule in MATCH_PROPERTIES},
            "delegates": list(self.delegates),
            "emulated": self.emulated,
            "emulates": self.emulates,
            "baselines": [vars(b) for b in self.baselines],
            "caveats": list(self.caveats),
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Family:
    """A SoC family (`device_profiles/families/<name>.yaml`): which of its phones' sensors are what."""

    name: str
    display_name: str
    thermal: SensorRules
    sources: tuple[str, ...] = ()
    source_file: Path | None = field(default=None, compare=False)


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
_TOP_OPTIONAL = {"npu", "caveats", "baselines", "emulated", "emulates", "preinstalled_binary", "emulator",
                 "family", "cpu", "sources"}
_SENSOR_KINDS = ("ignore", "cpu", "gpu", "npu", "soc", "skin", "battery")
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
        family=r.text(top.get("family", GENERIC_FAMILY), "family"),
        cpu=r.optional_text(top.get("cpu"), "cpu"),
        sources=r.texts(top.get("sources"), "sources"),
        source_file=path,
    )


def load_family(path: Path) -> Family:
    """Read and check one SoC family file."""
    r = _Reader(path)
    data = read_yaml(path, "SoC family", "check the file exists")
    try:
        top = r.mapping(data, "top level", {"name", "display_name", "thermal"}, {"sources"})
        name = r.text(top["name"], "name")
        if name != path.stem:
            raise r.fail("name", f"{name!r} differs from the file name",
                         f"rename the file to {name}.yaml or fix `name`")
        thermal = r.mapping(top["thermal"], "thermal", set(), set(_SENSOR_KINDS))
        rules = SensorRules(name, **{kind: r.texts(thermal.get(kind), f"thermal.{kind}") for kind in _SENSOR_KINDS})
        return Family(name, r.text(top["display_name"], "display_name"), rules, r.texts(top.get("sources"), "sources"),
                      path)
    except ValueError as error:
        raise r.fail("values", str(error), "see device_profiles/README.md for the format") from None


def load_families(folder: Path | None = None) -> dict[str, Family]:
    """Every SoC family in `folder` (default: the shipped `device_profiles/families`), by name."""
    return dict(_load_families(folder or data_dir("device_profiles") / FAMILIES_DIR))


@lru_cache(maxsize=8)
def _load_families(folder: Path) -> tuple[tuple[str, Family], ...]:
    families = {p.stem: load_family(p) for p in sorted(folder.glob("*.yaml"))}
    if GENERIC_FAMILY not in families:
        raise UsageError(f"SoC families in {folder}: no {GENERIC_FAMILY}.yaml",
                         "restore it: devices without a profile are read with its sensor names")
    return tuple(families.items())


def sensor_rules(profile: Profile | None, families: Mapping[str, Family] | None = None) -> SensorRules:
    """Which sensors are what on a device of `profile` (None: the generic names, which know every family's)."""
    known = load_families() if families is None else families
    family = profile.family if profile is not None else GENERIC_FAMILY
    return (known.get(family) or known[GENERIC_FAMILY]).thermal


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
    own = folder / FAMILIES_DIR
    families = load_families(own if own.is_dir() else None)
    claimed: dict[tuple[bool, str], str] = {}
    for profile in profiles.values():
        if profile.family not in families:
            raise UsageError(
                f"device profile {profile.source_file}: family {profile.family!r} has no file in {FAMILIES_DIR}/",
                f"use one of: {', '.join(sorted(families))}",
            )
        if profile.emulates is not None and profile.emulates not in profiles:
            raise UsageError(
                f"device profile {profile.source_file}: emulates {profile.emulates!r}, which has no profile",
                f"use one of: {', '.join(sorted(p for p in profiles if not profiles[p].emulated))}",
            )
        for model in profile.match.soc_model:
            key = (profile.emulated, normalise_soc_model(model))
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


@dataclass(frozen=True)
class ProfileMatch:
    """Which profile a device got and by which getprop value; `passed_over` holds the more specific values the
    device reported that no profile lists ("ro.soc.model=Snapdragon 888")."""

    profile: Profile
    key: str
    value: str
    passed_over: tuple[str, ...] = ()

    @property
    def fallback(self) -> bool:
        return bool(self.passed_over)

    def describe(self) -> str:
        unlisted = f" ({', '.join(self.passed_over)}: in no profile)" if self.passed_over else ""
        return f"{self.key}={self.value}{unlisted}"


def _values(profile: Profile, rule: str) -> Iterable[str]:
    return (normalise_soc_model(v) for v in getattr(profile.match, rule))


def explain_match(props: Mapping[str, str], profiles: Mapping[str, Profile] | None = None) -> ProfileMatch | None:
    """The one profile these getprop values match and how (see the module docstring for the rules), else None."""
    candidates = [
        p
        for p in (load_profiles() if profiles is None else profiles).values()
        if p.emulated == (props.get(EMULATED_PROPERTY, "").strip() == "1")
    ]
    reported = props.get("ro.soc.model", "")
    shape = _code_shape(reported) if reported.strip() else None
    passed_over: list[str] = []
    for rule, key in MATCH_PROPERTIES.items():
        raw = props.get(key, "").strip()
        if not raw:
            continue
        value = normalise_soc_model(raw)
        found = [p for p in candidates if value in _values(p, rule)]
        if passed_over and shape is not None:
            # Another chip of the same maker on a shared platform (SM7325 on "lahaina", the SM8350's board).
            found = [p for p in found if shape not in {_code_shape(v) for v in p.match.soc_model}]
        if len(found) == 1:
            return ProfileMatch(found[0], key, raw, tuple(passed_over))
        if len(found) > 1:
            return None
        passed_over.append(f"{key}={raw}")
    return None


def match_profile(props: Mapping[str, str], profiles: Mapping[str, Profile] | None = None) -> Profile | None:
    """The one profile these getprop values match (see the module docstring for the rules), else None."""
    found = explain_match(props, profiles)
    return found.profile if found is not None else None
