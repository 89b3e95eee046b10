"""What a loopback device pretends to be (getprop values, thermal zones, battery, CPU clocks) and which faults
it injects. Both are frozen values that travel to the daemon process as JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from mai_bench.errors import UsageError

EMULATED_PROP = "mai_bench.emulated"
LENIENT_PROP = "mai_bench.lenient"  # set, to the reason, on a device more lenient than a phone (see jail)

_PROP_KEY = re.compile(r"^[A-Za-z0-9_.\-:]+$")
_ZONE_TYPE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Faults:
    """Fault switches; all can change while the device runs (`loopback.set_faults`). Changing `reject_auth`
    or `no_shell_v2` drops the connection: the adb server reconnects and meets the new handshake."""

    drop_after_bytes: int | None = None  # abort the TCP connection once this many payload bytes crossed (once)
    hang: bool = False  # stop answering anything, keep the socket open
    slow_link_bytes_per_s: int | None = None  # throttle each direction to about this rate
    no_shell_v2: bool = False  # banner without shell_v2: clients fall back to the legacy shell
    reject_auth: bool = False  # ask for AUTH and accept no key, trusted or allowed: it stays "unauthorized"
    storage_full_after_bytes: int | None = None  # SEND fails with ENOSPC past this many bytes of a file; 0 = always
    crashing_benchmark: bool = False  # benchmark_model prints its start lines, then "Segmentation fault", exit 139
    benchmark_sleep_s: float | None = None  # benchmark_model sleeps this long and prints a real-format log
    benchmark_log_file: str | None = None  # benchmark_model prints this host file and exits benchmark_exit_code
    benchmark_exit_code: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_after_bytes", "storage_full_after_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise UsageError(f"fault {name} must be a byte count >= 0, not {value!r}")
        if self.slow_link_bytes_per_s is not None and (
                not isinstance(self.slow_link_bytes_per_s, int) or self.slow_link_bytes_per_s <= 0):
            raise UsageError(f"fault slow_link_bytes_per_s must be > 0, not {self.slow_link_bytes_per_s!r}")
        if self.benchmark_sleep_s is not None and not self.benchmark_sleep_s >= 0:
            raise UsageError(f"fault benchmark_sleep_s must be >= 0, not {self.benchmark_sleep_s!r}")
        if not 0 <= self.benchmark_exit_code <= 255:
            raise UsageError(f"fault benchmark_exit_code must be 0..255, not {self.benchmark_exit_code}")
        modes = [name for name in ("crashing_benchmark", "benchmark_sleep_s", "benchmark_log_file")
                 if getattr(self, name) not in (None, False)]
        if len(modes) > 1:
            raise UsageError(f"faults {', '.join(modes)} each replace benchmark_model; choose one")
        if self.benchmark_log_file is not None and not Path(self.benchmark_log_file).is_file():
            raise UsageError(f"benchmark_log_file {self.benchmark_log_file} does not exist",
                             "pass the path of a recorded benchmark_model log")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise UsageError(f"unknown fault(s): {', '.join(sorted(map(str, unknown)))}")
        return cls(**data)


@dataclass(frozen=True)
class LoopbackSpec:
    """A device model: getprop values, thermal zones (type -> raw `temp` value in zone order: milli-degrees C,
    or mA / mV / % for a battery-limit zone such as ocp_cpu1 or socd), battery
    temperature (deci-degrees C, as the kernel reports it), per-core max clocks (kHz), and faults.

    `gpu`: whether its benchmark_model has a GPU delegate. True: `--use_gpu=true` runs LiteRT's real GPU
    accelerator on the host's Vulkan device (SwiftShader when the host has no GPU). False: a phone whose
    benchmark_model cannot create the GPU delegate ("GPU acceleration is unsupported on this platform.")."""

    name: str
    props: Mapping[str, str]
    thermal: Mapping[str, int] = field(default_factory=dict)
    battery_temp: int | None = None
    battery_status: str = "Discharging"
    cpu_max_freqs: tuple[int, ...] = ()
    gpu: bool = True
    faults: Faults = Faults()

    def __post_init__(self) -> None:
        for part, kind in (("props", "getprop keys to values"), ("thermal", "zone types to milli-degrees")):
            if not isinstance(getattr(self, part), Mapping):
                raise UsageError(f"{part} in profile {self.name} must be a mapping of {kind}")
        if not isinstance(self.cpu_max_freqs, (list, tuple)):
            raise UsageError(f"cpu_max_freqs in profile {self.name} must be a list of kHz integers")
        if not isinstance(self.battery_status, str):
            raise UsageError(f"battery_status in profile {self.name} must be text, e.g. Discharging")
        if not isinstance(self.gpu, bool):
            raise UsageError(f"gpu in profile {self.name} must be true or false, not {self.gpu!r}")
        props = {}
        for key, value in self.props.items():
            if not _PROP_KEY.match(str(key)):
                raise UsageError(f"property name {key!r} in profile {self.name} is not a getprop key")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise UsageError(f"property {key} in profile {self.name} must be a string, not {value!r}")
            if "\n" in str(value) or "\0" in str(value):
                raise UsageError(f"property {key} in profile {self.name} contains a newline or NUL")
            props[str(key)] = str(value)
        props[EMULATED_PROP] = "1"
        object.__setattr__(self, "props", MappingProxyType(props))
        for zone, temp in self.thermal.items():
            if not _ZONE_TYPE.match(str(zone)) or isinstance(temp, bool) or not isinstance(temp, int):
                raise UsageError(f"thermal zone {zone!r}: {temp!r} in profile {self.name} is not name: milli-degrees")
        object.__setattr__(self, "thermal", MappingProxyType(dict(self.thermal)))
        if self.battery_temp is not None and (isinstance(self.battery_temp, bool)
                                              or not isinstance(self.battery_temp, int)):
            raise UsageError(f"battery_temp in profile {self.name} must be deci-degrees C (an integer)")
        freqs = tuple(self.cpu_max_freqs)
        if any(isinstance(f, bool) or not isinstance(f, int) or f <= 0 for f in freqs):
            raise UsageError(f"cpu_max_freqs in profile {self.name} must be positive kHz integers")
        object.__setattr__(self, "cpu_max_freqs", freqs)

    def with_props(self, **overrides: str) -> LoopbackSpec:
        """A copy with some getprop values replaced (keys with dots: pass a dict via `**{"ro.x": "y"}`)."""
        return replace(self, props={**self.props, **overrides})

    def with_faults(self, faults: Faults) -> LoopbackSpec:
        return replace(self, faults=faults)

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "props": dict(self.props), "thermal": dict(self.thermal),
                           "battery_temp": self.battery_temp, "battery_status": self.battery_status,
                           "cpu_max_freqs": list(self.cpu_max_freqs), "gpu": self.gpu,
                           "faults": self.faults.to_dict()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> LoopbackSpec:
        data = json.loads(text)
        return cls(name=data["name"], props=data["props"], thermal=data["thermal"],
                   battery_temp=data["battery_temp"], battery_status=data["battery_status"],
                   cpu_max_freqs=tuple(data["cpu_max_freqs"]), gpu=data.get("gpu", True),
                   faults=Faults.from_dict(data["faults"]))


# Values a Snapdragon 8 Gen 1 (SM8450, "taro") phone reports, under a model name that says what it is.
LOOPBACK_SM8450: dict[str, Any] = {
    "props": {
        "ro.product.model": "Loopback SM8450",
        "ro.product.manufacturer": "mai-bench",
        "ro.product.brand": "mai-bench",
        "ro.product.name": "loopback_sm8450",
        "ro.product.device": "loopback",
        "ro.product.board": "taro",
        "ro.soc.manufacturer": "QTI",
        "ro.soc.model": "SM8450",
        "ro.board.platform": "taro",
        "ro.hardware": "qcom",
        "ro.hardware.egl": "adreno",
        "ro.hardware.vulkan": "adreno",
        "ro.product.cpu.abi": "arm64-v8a",
        "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
        "ro.build.version.release": "13",
        "ro.build.version.sdk": "33",
        "ro.build.id": "TKQ1.221013.002",
        "ro.build.type": "userdebug",
        "ro.build.fingerprint": "mai-bench/loopback_sm8450/loopback:13/TKQ1.221013.002/1:userdebug/test-keys",
        "sys.boot_completed": "1",
    },
    "thermal": {
        "cpu-0-0-usr": 36200, "cpu-1-0-usr": 37100, "cpu-1-4-usr": 37400, "gpuss-0-usr": 34900,
        "nsphvx-0-usr": 33800, "ddr-usr": 34100, "skin-msm-therm": 31500,
    },
    "battery_temp": 305,
    "cpu_max_freqs": [1785600] * 4 + [2496000] * 3 + [2995200],
}

BUILTIN_PROFILES: dict[str, Mapping[str, Any]] = {"loopback-sm8450": LOOPBACK_SM8450}

_PROFILE_KEYS = {"props", "thermal", "battery_temp", "battery_status", "cpu_max_freqs", "gpu"}


def spec_from_mapping(name: str, data: Mapping[str, Any], faults: Faults = Faults()) -> LoopbackSpec:
    """A spec from a profile mapping with keys props, thermal, battery_temp, battery_status, cpu_max_freqs, gpu
    (an `emulator:` section of a device profile YAML is such a mapping)."""
    if not isinstance(data, Mapping):
        raise UsageError(f"loopback profile {name} must be a mapping of {', '.join(sorted(_PROFILE_KEYS))}")
    unknown = set(data) - _PROFILE_KEYS
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} in loopback profile {name}",
                         f"use only {', '.join(sorted(_PROFILE_KEYS))}")
    if "props" not in data:
        raise UsageError(f"loopback profile {name} has no props")
    return LoopbackSpec(name=name, props=data["props"], thermal=data.get("thermal") or {},
                        battery_temp=data.get("battery_temp"),
                        battery_status=data.get("battery_status", "Discharging"),
                        cpu_max_freqs=data.get("cpu_max_freqs") or (), gpu=data.get("gpu", True), faults=faults)


def load_spec(profile: str | Path, faults: Faults = Faults()) -> LoopbackSpec:
    """A loopback profile by name or by file. A name is looked up as `device_profiles/<name>.yaml` shipped with
    mai-bench (its `emulator:` section), then among the builtin profiles (the same values, for an installation
    without the data folder); a file is a YAML/JSON profile with the mapping at the top level or under
    `emulator:`."""
    path = Path(profile)
    if not path.is_file():
        path = _shipped_profile(str(profile))
        if path is None:
            if str(profile) in BUILTIN_PROFILES:
                return spec_from_mapping(str(profile), BUILTIN_PROFILES[str(profile)], faults)
            raise UsageError(f"no loopback profile {str(profile)!r}",
                             f"use {', '.join(BUILTIN_PROFILES)} or the path of a profile YAML file")
    from mai_bench.yaml_file import read_yaml

    data = read_yaml(path, "loopback profile")
    if isinstance(data, Mapping) and "emulator" in data:
        data = data["emulator"]
    elif isinstance(data, Mapping) and "match" in data:
        raise UsageError(f"device profile {path.stem} describes real phones and has no emulator section",
                         f"use {', '.join(BUILTIN_PROFILES)}")
    return spec_from_mapping(path.stem, data, faults)


def _shipped_profile(name: str) -> Path | None:
    from mai_bench.resources import data_dir

    if not re.match(r"^[A-Za-z0-9_.\-]+$", name):
        return None
    try:
        candidate = data_dir("device_profiles") / f"{name}.yaml"
    except FileNotFoundError:
        return None
    return candidate if candidate.is_file() else None
