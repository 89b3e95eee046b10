"""Thermal gating: wait (bounded) until the device has cooled below its limits before a run, and record the
temperatures before and after it. Results vary with phone temperature; a run that got too hot is flagged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from mai_bench.device.device import Device
from mai_bench.device.telemetry import Telemetry, read_telemetry

COOLDOWN_POLL_S = 5.0


@dataclass(frozen=True)
class ThermalLimits:
    """Degrees Celsius for the hottest CPU/GPU zone and the battery; how long to wait for them at most."""

    soc_c: float = 45.0
    battery_c: float = 40.0
    max_wait_s: float = 180.0

    def __post_init__(self) -> None:
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s cannot be negative")


def soc_temp_c(reading: Telemetry) -> float | None:
    """The hottest CPU or GPU zone; all zones when none is named after the CPU or GPU."""
    named = [t for name, t in reading.thermal_c.items() if any(k in name.lower() for k in ("cpu", "gpu"))]
    values = named or list(reading.thermal_c.values())
    return max(values) if values else None


def too_hot(reading: Telemetry, limits: ThermalLimits) -> list[str]:
    """What is above its limit in this reading, as short phrases (empty: cool enough)."""
    hot = []
    soc = soc_temp_c(reading)
    if soc is not None and soc > limits.soc_c:
        hot.append(f"CPU/GPU at {soc:.1f} C (limit {limits.soc_c:g} C)")
    if reading.battery_c is not None and reading.battery_c > limits.battery_c:
        hot.append(f"battery at {reading.battery_c:.1f} C (limit {limits.battery_c:g} C)")
    return hot


def wait_until_cool(device: Device, limits: ThermalLimits,
                    on_wait: Callable[[float, list[str]], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[Telemetry, float, list[str]]:
    """Poll until cool or max_wait_s passed. Returns the last reading, seconds waited, and what is still hot."""
    start = time.monotonic()
    while True:
        reading = read_telemetry(device)
        hot = too_hot(reading, limits)
        waited = time.monotonic() - start
        if not hot or waited >= limits.max_wait_s:
            return reading, waited, hot
        if on_wait is not None:
            on_wait(waited, hot)
        sleep(min(COOLDOWN_POLL_S, max(0.0, limits.max_wait_s - waited)))


def thermal_record(before: Telemetry, after: Telemetry | None, waited_s: float, limits: ThermalLimits) -> dict:
    """The result's `thermal` section, with the flags a reader needs."""
    return {
        "limits_c": {"soc": limits.soc_c, "battery": limits.battery_c},
        "waited_s": round(waited_s, 1),
        "before": before.to_dict(),
        "after": after.to_dict() if after is not None else None,
        "soc_before_c": soc_temp_c(before),
        "soc_after_c": soc_temp_c(after) if after is not None else None,
        "hot_before": too_hot(before, limits),
        "hot_after": too_hot(after, limits) if after is not None else [],
    }
