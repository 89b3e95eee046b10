"""Temperatures, CPU limits and GPU name, read from sysfs in one shell round trip, and parsed purely.

The script uses only shell built-ins (`read`, `echo`, `[`), so reading sixty thermal zones forks nothing.
Sensors a non-root shell may not read simply come out empty and are left out.
GPU: the kernel driver's own name for it (Adreno: /sys/class/kgsl/kgsl-3d0/gpu_model, Mali:
/sys/class/misc/mali0/device/gpuinfo); `dumpsys SurfaceFlinger` has the GLES renderer string but costs a
few hundred milliseconds, so it is not asked. The EGL/Vulkan driver names come from getprop instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mai_bench.device.device import Device

TELEMETRY_TIMEOUT_S = 10.0
MIN_PLAUSIBLE_C = -40.0  # below or above these a sensor is off or reports garbage (e.g. -273000)
MAX_PLAUSIBLE_C = 150.0

TELEMETRY_SCRIPT = r"""exec 2>/dev/null
for z in /sys/class/thermal/thermal_zone*; do
  [ -e "$z" ] || continue
  t=; v=; read -r t < "$z/type"; read -r v < "$z/temp"
  echo "zone|${z##*/}|$t|$v"
done
b=; read -r b < /sys/class/power_supply/battery/temp; echo "battery|$b"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -e "$c" ] || continue
  f=; read -r f < "$c/cpufreq/cpuinfo_max_freq"; echo "cpu|${c##*/}|$f"
done
g=; read -r g < /sys/class/kgsl/kgsl-3d0/gpu_model; echo "gpu|$g"
g=; read -r g < /sys/class/misc/mali0/device/gpuinfo; echo "gpu|$g"
"""


@dataclass(frozen=True)
class Telemetry:
    """One reading. `thermal_c` maps a zone's type (or, when types repeat, "type (thermal_zoneN)") to degrees
    Celsius; `cpu_max_mhz` holds each core's highest frequency in core order, None where unreadable."""

    thermal_c: Mapping[str, float] = field(default_factory=dict)
    battery_c: float | None = None
    cpu_max_mhz: tuple[int | None, ...] = ()
    gpu: str | None = None

    def __post_init__(self) -> None:
        for name, value in [*self.thermal_c.items(), ("battery", self.battery_c)]:
            if value is not None and not MIN_PLAUSIBLE_C <= value <= MAX_PLAUSIBLE_C:
                raise ValueError(f"temperature {name}={value} C is not plausible")
        if any(f is not None and f <= 0 for f in self.cpu_max_mhz):
            raise ValueError(f"CPU frequencies must be positive: {self.cpu_max_mhz}")
        object.__setattr__(self, "thermal_c", MappingProxyType(dict(self.thermal_c)))

    @property
    def max_temp_c(self) -> float | None:
        return max(self.thermal_c.values()) if self.thermal_c else None

    @property
    def cpu_count(self) -> int | None:
        return len(self.cpu_max_mhz) or None

    def to_dict(self) -> dict:
        return {
            "thermal_c": dict(self.thermal_c),
            "max_temp_c": self.max_temp_c,
            "battery_c": self.battery_c,
            "cpu_count": self.cpu_count,
            "cpu_max_mhz": list(self.cpu_max_mhz),
            "gpu": self.gpu,
        }


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _plausible(celsius: float) -> float | None:
    return round(celsius, 1) if MIN_PLAUSIBLE_C <= celsius <= MAX_PLAUSIBLE_C else None


def thermal_celsius(raw: str) -> float | None:
    """A thermal zone's `temp` in degrees C. Most kernels report millidegrees, some PMIC zones tenths, a few
    whole degrees; the magnitude tells them apart."""
    value = _int(raw)
    if value is None:
        return None
    magnitude = abs(value)
    return _plausible(value / 1000 if magnitude >= 1000 else value / 10 if magnitude >= 200 else float(value))


def parse_telemetry(text: str) -> Telemetry:
    """Parse the output of TELEMETRY_SCRIPT."""
    zones: list[tuple[int, str, str, float]] = []
    cpus: list[tuple[int, int | None]] = []
    battery: float | None = None
    gpu: str | None = None
    for line in text.splitlines():
        kind, _, rest = line.strip().partition("|")
        fields = rest.split("|")
        if kind == "zone" and len(fields) == 3:
            zone, kind_name, raw = fields
            celsius = thermal_celsius(raw)
            if celsius is not None:
                zones.append((_int(zone.removeprefix("thermal_zone")) or 0, zone, kind_name.strip() or zone, celsius))
        elif kind == "battery" and fields:
            tenths = _int(fields[0])
            battery = _plausible(tenths / 10) if tenths is not None else None
        elif kind == "cpu" and len(fields) == 2:
            index, khz = _int(fields[0].removeprefix("cpu")), _int(fields[1])
            if index is not None:
                cpus.append((index, round(khz / 1000) if khz and khz > 0 else None))
        elif kind == "gpu" and rest.strip() and gpu is None:
            gpu = rest.strip()
    zones.sort()
    seen = [name for _, _, name, _ in zones]
    thermal = {
        (name if seen.count(name) == 1 else f"{name} ({zone})"): celsius for _, zone, name, celsius in zones
    }
    return Telemetry(thermal, battery, tuple(mhz for _, mhz in sorted(cpus)), gpu)


def read_telemetry(device: Device, timeout: float = TELEMETRY_TIMEOUT_S) -> Telemetry:
    """Read temperatures, CPU limits and GPU name from `device` in one shell command."""
    result = device.shell(["sh", "-c", TELEMETRY_SCRIPT], timeout, check=True)
    return parse_telemetry(result.out)
