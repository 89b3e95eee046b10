"""Which of a phone's thermal sensors are what, and pure parsers for the two portable sources of temperatures.

A phone reports temperatures three ways, most portable first:
- `dumpsys thermalservice`: the thermal HAL's current temperatures, each with a type (AOSP
  `android.os.Temperature`: 0 CPU, 1 GPU, 2 battery, 3 skin, 4 USB port, 5 power amplifier, 6/7/8 battery
  voltage/current/percentage limits, 9 NPU, 10 TPU, 11 display, 12 modem, 13 SoC, ...) printed by
  `Temperature.toString()` as `Temperature{mValue=34.9, mType=1, mName=gpuss-0-usr, mStatus=0}` under
  "Current temperatures from HAL:" (ThermalManagerService.dump; the section is missing while "HAL Ready: false").
- `dumpsys battery`: "  temperature: 305", tenths of a degree (BatteryService.dumpInternal).
- sysfs: `/sys/class/thermal/thermal_zone*/{type,temp}`. Zone names differ per SoC family, and several zones
  are no temperature at all (Google Tensor's `ocp_cpu1` is a battery-current limit in mA; Qualcomm's `socd` is
  100 minus the battery percentage, `pm8150b-ibat-lvl0` a current): `SensorRules` (one per SoC family, from
  `device_profiles/families/*.yaml`) say which zone is which, and which to leave out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

MIN_PLAUSIBLE_C = -40.0  # below or above these a sensor is off or reports garbage (e.g. -273000, -3.4e38)
MAX_PLAUSIBLE_C = 150.0

OTHER = "other"
# What a sensor measures the temperature of; "other" is a temperature nobody gates on (PMIC, modem, board).
KINDS = ("cpu", "gpu", "npu", "soc", "skin", "battery", OTHER)
# The kinds the thermal gate compares with --max-temp-c: the silicon a benchmark heats.
SOC_KINDS = ("cpu", "gpu", "npu", "soc")
# SensorRules are tried in this order: a skin estimate named after the CPU ("VIRTUAL-SKIN-CPU") is skin.
_RULE_ORDER = ("skin", "cpu", "gpu", "npu", "soc", "battery")

# android.os.Temperature TYPE_* -> kind. TYPE_BCL_VOLTAGE (6), TYPE_BCL_CURRENT (7), TYPE_BCL_PERCENTAGE (8)
# are battery limits in mV, mA and percent, never temperatures.
HAL_TYPE_KINDS = {0: "cpu", 1: "gpu", 2: "battery", 3: "skin", 9: "npu", 10: "npu", 13: "soc"}
HAL_NOT_TEMPERATURE = frozenset({6, 7, 8})

CURRENT_HAL_HEADER = "Current temperatures from HAL:"
_HAL_ITEM = re.compile(
    r"Temperature\{mValue=(?P<value>[^,]*), mType=(?P<type>-?\d+), mName=(?P<name>.*), mStatus=(?P<status>-?\d+)\}")


def plausible(celsius: float) -> float | None:
    """`celsius` rounded to 0.1, or None when no working sensor reads it (NaN, -273, -3.4e38, 1000)."""
    if math.isnan(celsius) or not MIN_PLAUSIBLE_C <= celsius <= MAX_PLAUSIBLE_C:
        return None
    return round(celsius, 1)


@dataclass(frozen=True)
class Sensor:
    """One temperature: the sensor's name (zone type or HAL name), what it measures, degrees C."""

    name: str
    kind: str
    celsius: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"sensor {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not MIN_PLAUSIBLE_C <= self.celsius <= MAX_PLAUSIBLE_C:
            raise ValueError(f"temperature {self.name}={self.celsius} C is not plausible")

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "celsius": self.celsius}


@dataclass(frozen=True)
class SensorRules:
    """Name patterns (shell-style, case-insensitive, whole name) of one SoC family's sensors. `ignore` wins:
    a name it matches is no temperature and is left out; then skin, cpu, gpu, npu, soc, battery are tried in
    that order; a name none matches is "other"."""

    family: str
    ignore: tuple[str, ...] = ()
    cpu: tuple[str, ...] = ()
    gpu: tuple[str, ...] = ()
    npu: tuple[str, ...] = ()
    soc: tuple[str, ...] = ()
    skin: tuple[str, ...] = ()
    battery: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for kind in ("ignore", *_RULE_ORDER):
            patterns = getattr(self, kind)
            if any(not p.strip() for p in patterns):
                raise ValueError(f"sensor family {self.family}: an empty {kind} pattern matches nothing")
            object.__setattr__(self, kind, tuple(p.strip().lower() for p in patterns))

    def is_temperature(self, name: str) -> bool:
        lowered = name.strip().lower()
        return not any(fnmatchcase(lowered, p) for p in self.ignore)

    def kind_of(self, name: str) -> str | None:
        """What sensor `name` measures; None when it is no temperature (a current, a voltage, a charge level)."""
        lowered = name.strip().lower()
        if not self.is_temperature(lowered):
            return None
        for kind in _RULE_ORDER:
            if any(fnmatchcase(lowered, p) for p in getattr(self, kind)):
                return kind
        return OTHER


@dataclass(frozen=True)
class HalTemperature:
    """One `Temperature{...}` of `dumpsys thermalservice`: value as printed (may be NaN), HAL type, name."""

    name: str
    type: int
    value: float
    status: int

    def kind(self, rules: SensorRules) -> str | None:
        """The HAL type decides for typed sensors; an untyped one (-1) or a type without a kind here is named
        by `rules`. None: not a temperature (a battery limit, or a name `rules` leaves out)."""
        if self.type in HAL_NOT_TEMPERATURE:
            return None
        if self.type in HAL_TYPE_KINDS:
            return HAL_TYPE_KINDS[self.type]
        return rules.kind_of(self.name)


@dataclass(frozen=True)
class ThermalServiceDump:
    """What `dumpsys thermalservice` says: whether the HAL is ready (None: not printed) and its current
    temperatures (empty when the HAL section is missing)."""

    hal_ready: bool | None
    temperatures: tuple[HalTemperature, ...] = ()


def parse_thermalservice(text: str) -> ThermalServiceDump:
    """The HAL's current temperatures from `dumpsys thermalservice`. Only the "Current temperatures from HAL:"
    section counts: the "Cached temperatures:" above it holds the last throttling events, possibly hours old."""
    hal_ready: bool | None = None
    temperatures: list[HalTemperature] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("HAL Ready:"):
            hal_ready = line.partition(":")[2].strip().lower() == "true"
        if line == CURRENT_HAL_HEADER:
            inside = True
            continue
        if not inside:
            continue
        match = _HAL_ITEM.fullmatch(line)
        if match is None:  # the next section ("Current cooling devices from HAL:") or the end
            if line:
                inside = False
            continue
        try:
            value = float(match["value"])
        except ValueError:
            value = math.nan
        temperatures.append(HalTemperature(match["name"].strip(), int(match["type"]), value, int(match["status"])))
    return ThermalServiceDump(hal_ready, tuple(temperatures))


@dataclass(frozen=True)
class BatteryDump:
    """What `dumpsys battery` says about the battery: its temperature (None when absent or implausible) and
    charge level in percent."""

    temperature_c: float | None
    level: int | None
    present: bool | None


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_battery_dump(text: str) -> BatteryDump:
    """`dumpsys battery`'s temperature (tenths of a degree) and level. Vendors add lines of their own
    (Samsung: "mSavedBatteryMaxTemp: 490"): only the AOSP keys are read, the first occurrence of each."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        key, colon, value = raw.strip().partition(":")
        if colon and key in ("temperature", "level", "present") and key not in values:
            values[key] = value.strip()
    present = {"true": True, "false": False}.get(values.get("present", ""))
    tenths = _int(values["temperature"]) if "temperature" in values else None
    temperature = plausible(tenths / 10) if tenths is not None and present is not False else None
    return BatteryDump(temperature, _int(values.get("level", "")), present)
