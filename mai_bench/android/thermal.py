"""Thermal gating: wait (bounded) until the device has cooled below its limits before a run, and record the
temperatures before and after it. Results vary with phone temperature; a run that got too hot is flagged.

The gate compares the hottest CPU, GPU, NPU or SoC sensor (what the device's SoC family calls one, see
`mai_bench.device.sensors`) with `soc_c`, and the battery with `battery_c`. A device whose CPU/GPU sensors
cannot be read is not gated on them: the run says so and the result records it (`thermal.gated`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from mai_bench.device.device import Device
from mai_bench.device.sensors import SensorRules
from mai_bench.device.telemetry import Telemetry, read_telemetry

COOLDOWN_POLL_S = 5.0


@dataclass(frozen=True)
class ThermalLimits:
    """Degrees Celsius for the hottest CPU/GPU sensor and the battery; how long to wait for them at most."""

    soc_c: float = 45.0
    battery_c: float = 40.0
    max_wait_s: float = 180.0

    def __post_init__(self) -> None:
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s cannot be negative")


def soc_temp_c(reading: Telemetry) -> float | None:
    """The hottest CPU, GPU, NPU or SoC sensor; None when the device has none that can be read (board, modem
    and charger sensors never stand in for them)."""
    return reading.max_temp_c


def too_hot(reading: Telemetry, limits: ThermalLimits) -> list[str]:
    """What is above its limit in this reading, as short phrases (empty: cool enough, or unreadable)."""
    hot = []
    hottest = reading.hottest
    if hottest is not None and hottest.celsius > limits.soc_c:
        hot.append(f"{hottest.name} ({hottest.kind.upper()}) at {hottest.celsius:.1f} C (limit {limits.soc_c:g} C)")
    if reading.battery_c is not None and reading.battery_c > limits.battery_c:
        hot.append(f"battery at {reading.battery_c:.1f} C (limit {limits.battery_c:g} C)")
    return hot


def unread(reading: Telemetry) -> list[str]:
    """What the gate could not check in this reading, as warnings that name the cause and the way out."""
    notes = []
    if reading.hottest is None:
        notes.append(f"the thermal gate did not check the CPU/GPU temperature: {reading.problem or 'nothing read'}; "
                     "let the device rest between runs, or add its sensor names to its SoC family "
                     "(device_profiles/families/)")
    if reading.battery_c is None:
        notes.append("the thermal gate did not check the battery temperature: neither dumpsys battery nor "
                     "/sys/class/power_supply/battery/temp gave one")
    return notes


def wait_until_cool(device: Device, limits: ThermalLimits,
                    on_wait: Callable[[float, list[str]], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    rules: SensorRules | None = None) -> tuple[Telemetry, float, list[str]]:
    """Poll until cool or max_wait_s passed. Returns the last reading, seconds waited, and what is still hot.
    `rules` name the device's sensors (default: the generic names)."""
    start = time.monotonic()
    while True:
        reading = read_telemetry(device, rules)
        hot = too_hot(reading, limits)
        waited = time.monotonic() - start
        if not hot or waited >= limits.max_wait_s:
            return reading, waited, hot
        if on_wait is not None:
            on_wait(waited, hot)
        sleep(min(COOLDOWN_POLL_S, max(0.0, limits.max_wait_s - waited)))


def thermal_record(before: Telemetry, after: Telemetry | None, waited_s: float, limits: ThermalLimits) -> dict:
    """The result's `thermal` section, with the flags a reader needs. `gated` lists what the gate could
    compare with its limit before the run ("soc", "battery"); `unread` says why the rest could not be."""
    hottest = before.hottest
    return {
        "limits_c": {"soc": limits.soc_c, "battery": limits.battery_c},
        "waited_s": round(waited_s, 1),
        "before": before.to_dict(),
        "after": after.to_dict() if after is not None else None,
        "soc_before_c": soc_temp_c(before),
        "soc_after_c": soc_temp_c(after) if after is not None else None,
        "soc_sensor": hottest.name if hottest is not None else None,
        "gated": [part for part, value in (("soc", hottest), ("battery", before.battery_c)) if value is not None],
        "unread": unread(before),
        "hot_before": too_hot(before, limits),
        "hot_after": too_hot(after, limits) if after is not None else [],
    }
