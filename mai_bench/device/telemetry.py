"""Temperatures, CPU limits and GPU name, read in one shell round trip, and parsed purely.

Temperatures come from the portable sources first (`dumpsys thermalservice` for the thermal HAL's typed
sensors, `dumpsys battery` for the battery), sysfs second (`sensors.py` says why and how). Which sysfs zone is
a CPU, GPU, skin or battery sensor, and which is no temperature at all, is the SoC family's `SensorRules`.
The sysfs part uses only shell built-ins (`read`, `echo`, `[`), so reading sixty zones forks nothing; sensors a
non-root shell may not read simply come out empty and are left out.
GPU: the kernel driver's own name for it (Adreno: /sys/class/kgsl/kgsl-3d0/gpu_model, Mali:
/sys/class/misc/mali0/device/gpuinfo); `dumpsys SurfaceFlinger` has the GLES renderer string but costs a
few hundred milliseconds, so it is not asked. The EGL/Vulkan driver names come from getprop instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from mai_bench.device.sensors import (
    KINDS,
    MAX_PLAUSIBLE_C,
    MIN_PLAUSIBLE_C,
    OTHER,
    SOC_KINDS,
    Sensor,
    SensorRules,
    parse_battery_dump,
    parse_thermalservice,
    plausible,
)

if TYPE_CHECKING:
    from mai_bench.device.device import Device

TELEMETRY_TIMEOUT_S = 10.0
HAL = "dumpsys thermalservice"
BATTERY_SERVICE = "dumpsys battery"
SYSFS = "sysfs"
# Section markers of TELEMETRY_SCRIPT's output; output without them is the sysfs part alone.
MARK_THERMALSERVICE = "@@mai-bench:thermalservice@@"
MARK_BATTERY = "@@mai-bench:battery@@"
MARK_SYSFS = "@@mai-bench:sysfs@@"

TELEMETRY_SCRIPT = rf"""exec 2>/dev/null
echo {MARK_THERMALSERVICE}
dumpsys thermalservice
echo {MARK_BATTERY}
dumpsys battery
echo {MARK_SYSFS}
for z in /sys/class/thermal/thermal_zone*; do
  [ -e "$z" ] || continue
  t=; v=; read -r t < "$z/type"; read -r v < "$z/temp"
  echo "zone|${{z##*/}}|$t|$v"
done
b=; read -r b < /sys/class/power_supply/battery/temp; echo "battery|$b"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -e "$c" ] || continue
  f=; read -r f < "$c/cpufreq/cpuinfo_max_freq"; echo "cpu|${{c##*/}}|$f"
done
g=; read -r g < /sys/class/kgsl/kgsl-3d0/gpu_model; echo "gpu|$g"
g=; read -r g < /sys/class/misc/mali0/device/gpuinfo; echo "gpu|$g"
"""


@dataclass(frozen=True)
class Telemetry:
    """One reading. `thermal_c` maps each temperature sensor's name (a zone type, or "type (thermal_zoneN)"
    when types repeat, or a HAL name) to degrees C, `kinds` the same names to what they measure (a name
    missing there is "other"); non-temperature zones are left out of both. `source` says where the sensors
    came from (None: nothing readable, and `problem` says what was tried), `battery_source` likewise for
    `battery_c`, `family` which SensorRules named them. `cpu_max_mhz` holds each core's highest frequency in
    core order, None where unreadable."""

    thermal_c: Mapping[str, float] = field(default_factory=dict)
    battery_c: float | None = None
    cpu_max_mhz: tuple[int | None, ...] = ()
    gpu: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    battery_source: str | None = None
    family: str | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        for name, value in [*self.thermal_c.items(), ("battery", self.battery_c)]:
            if value is not None and not MIN_PLAUSIBLE_C <= value <= MAX_PLAUSIBLE_C:
                raise ValueError(f"temperature {name}={value} C is not plausible")
        if any(f is not None and f <= 0 for f in self.cpu_max_mhz):
            raise ValueError(f"CPU frequencies must be positive: {self.cpu_max_mhz}")
        unknown = {name: kind for name, kind in self.kinds.items() if name not in self.thermal_c or kind not in KINDS}
        if unknown:
            raise ValueError(f"sensor kinds without a temperature or not one of {', '.join(KINDS)}: {unknown}")
        object.__setattr__(self, "thermal_c", MappingProxyType(dict(self.thermal_c)))
        object.__setattr__(self, "kinds", MappingProxyType(dict(self.kinds)))

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        return tuple(Sensor(name, self.kinds.get(name, OTHER), c) for name, c in self.thermal_c.items())

    @property
    def hottest(self) -> Sensor | None:
        """The hottest CPU, GPU, NPU or SoC sensor: what the thermal gate compares with its limit."""
        candidates = [s for s in self.sensors if s.kind in SOC_KINDS]
        return max(candidates, key=lambda s: s.celsius) if candidates else None

    @property
    def max_temp_c(self) -> float | None:
        """The hottest CPU, GPU, NPU or SoC sensor's temperature (never a board, modem or battery sensor's)."""
        hottest = self.hottest
        return hottest.celsius if hottest is not None else None

    @property
    def cpu_count(self) -> int | None:
        return len(self.cpu_max_mhz) or None

    def to_dict(self) -> dict:
        hottest = self.hottest
        return {
            "thermal_c": dict(self.thermal_c),
            "sensors": [s.to_dict() for s in self.sensors],
            "hottest": hottest.to_dict() if hottest is not None else None,
            "max_temp_c": self.max_temp_c,
            "battery_c": self.battery_c,
            "source": self.source,
            "battery_source": self.battery_source,
            "family": self.family,
            "problem": self.problem,
            "cpu_count": self.cpu_count,
            "cpu_max_mhz": list(self.cpu_max_mhz),
            "gpu": self.gpu,
        }


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def thermal_celsius(raw: str) -> float | None:
    """A thermal zone's `temp` in degrees C. Most kernels report millidegrees, some PMIC zones tenths, a few
    whole degrees; the magnitude tells them apart."""
    value = _int(raw)
    if value is None:
        return None
    magnitude = abs(value)
    return plausible(value / 1000 if magnitude >= 1000 else value / 10 if magnitude >= 200 else float(value))


def split_sections(text: str) -> dict[str, str]:
    """TELEMETRY_SCRIPT's output by section (`HAL`, `BATTERY_SERVICE`, `SYSFS`); text without markers is the
    sysfs section alone (the output of older versions of the script, and of recorded sysfs readings)."""
    marks = {MARK_THERMALSERVICE: HAL, MARK_BATTERY: BATTERY_SERVICE, MARK_SYSFS: SYSFS}
    sections: dict[str, list[str]] = {}
    current = SYSFS
    for line in text.splitlines():
        if line.strip() in marks:
            current = marks[line.strip()]
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


@dataclass(frozen=True)
class _Sysfs:
    zones: tuple[tuple[str, str, str], ...]  # (zone folder, type, raw temp) in zone order
    battery_raw: str | None
    cpu_max_mhz: tuple[int | None, ...]
    gpu: str | None


def _parse_sysfs(text: str) -> _Sysfs:
    zones: list[tuple[int, str, str, str]] = []
    cpus: list[tuple[int, int | None]] = []
    battery: str | None = None
    gpu: str | None = None
    for line in text.splitlines():
        kind, _, rest = line.strip().partition("|")
        fields = rest.split("|")
        if kind == "zone" and len(fields) == 3:
            zone, zone_type, raw = fields
            zones.append((_int(zone.removeprefix("thermal_zone")) or 0, zone, zone_type.strip() or zone, raw))
        elif kind == "battery" and fields:
            battery = fields[0]
        elif kind == "cpu" and len(fields) == 2:
            index, khz = _int(fields[0].removeprefix("cpu")), _int(fields[1])
            if index is not None:
                cpus.append((index, round(khz / 1000) if khz and khz > 0 else None))
        elif kind == "gpu" and rest.strip() and gpu is None:
            gpu = rest.strip()
    zones.sort()
    return _Sysfs(tuple((zone, name, raw) for _, zone, name, raw in zones), battery,
                  tuple(mhz for _, mhz in sorted(cpus)), gpu)


def _sysfs_sensors(sysfs: _Sysfs, rules: SensorRules) -> list[Sensor]:
    names = [name for _, name, _ in sysfs.zones]
    found = []
    for zone, name, raw in sysfs.zones:
        kind = rules.kind_of(name)
        celsius = thermal_celsius(raw) if kind is not None else None
        if celsius is not None:
            found.append(Sensor(name if names.count(name) == 1 else f"{name} ({zone})", kind, celsius))
    return found


def _hal_sensors(text: str, rules: SensorRules) -> tuple[list[Sensor], bool | None]:
    dump = parse_thermalservice(text)
    found: dict[str, Sensor] = {}
    for t in dump.temperatures:
        kind = t.kind(rules)
        celsius = plausible(t.value) if kind is not None else None
        # Samsung's HAL lists sensors a model lacks (SUBBAT, USB) at exactly 0.0.
        if celsius is not None and t.value != 0.0 and t.name not in found:
            found[t.name] = Sensor(t.name, kind, celsius)
    return list(found.values()), dump.hal_ready


def _describe(sensors: list[Sensor]) -> str:
    return f"{len(sensors)} temperature(s), none of a CPU, GPU, NPU or SoC" if sensors else "no temperature"


def parse_telemetry(text: str, rules: SensorRules | None = None) -> Telemetry:
    """Parse the output of TELEMETRY_SCRIPT, naming sysfs zones (and untyped HAL sensors) with `rules`
    (default: the generic rules, which know every family's names)."""
    if rules is None:
        from mai_bench.device.profiles import sensor_rules

        rules = sensor_rules(None)
    sections = split_sections(text)
    sysfs = _parse_sysfs(sections.get(SYSFS, ""))
    from_sysfs = _sysfs_sensors(sysfs, rules)
    from_hal, hal_ready = _hal_sensors(sections.get(HAL, ""), rules)
    # The HAL when it names a CPU/GPU sensor (it knows its zones' types and units), else sysfs when that does,
    # else whichever has any temperature at all.
    candidates = [(HAL, from_hal), (SYSFS, from_sysfs)]
    chosen = next(((s, found) for s, found in candidates if any(x.kind in SOC_KINDS for x in found)), None)
    chosen = chosen or next(((s, found) for s, found in candidates if found), (None, []))
    source, sensors = chosen
    problem = None
    if not any(s.kind in SOC_KINDS for s in sensors):
        hal = ("the thermal HAL is not ready (dumpsys thermalservice: HAL Ready: false)" if hal_ready is False
               else f"dumpsys thermalservice gave {_describe(from_hal)}")
        problem = (f"no CPU/GPU temperature could be read: {hal}; /sys/class/thermal gave {_describe(from_sysfs)} "
                   f"({len(sysfs.zones)} zone(s) listed, {rules.family} sensor names)")
    battery = parse_battery_dump(sections[BATTERY_SERVICE]).temperature_c if BATTERY_SERVICE in sections else None
    battery_source = BATTERY_SERVICE if battery is not None else None
    if battery is None and sysfs.battery_raw is not None:
        tenths = _int(sysfs.battery_raw)
        battery = plausible(tenths / 10) if tenths is not None else None
        battery_source = SYSFS if battery is not None else None
    if battery is None:
        cells = [s for s in sensors if s.kind == "battery"]
        battery = max(c.celsius for c in cells) if cells else None
        battery_source = source if battery is not None else None
    return Telemetry({s.name: s.celsius for s in sensors}, battery, sysfs.cpu_max_mhz, sysfs.gpu,
                     kinds={s.name: s.kind for s in sensors if s.kind != OTHER}, source=source,
                     battery_source=battery_source, family=rules.family, problem=problem)


def read_telemetry(device: Device, rules: SensorRules | None = None,
                   timeout: float = TELEMETRY_TIMEOUT_S) -> Telemetry:
    """Read temperatures, CPU limits and GPU name from `device` in one shell command."""
    result = device.shell(["sh", "-c", TELEMETRY_SCRIPT], timeout, check=True)
    return parse_telemetry(result.out, rules)
