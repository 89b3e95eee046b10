"""Which sensor is what: golden tests of the dumpsys parsers on captured outputs (tests/fixtures/telemetry/
README.md names each source), the SoC families' sensor names, and how a reading picks its source."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mai_bench.device.profiles import load_families, load_profiles, sensor_rules
from mai_bench.device.sensors import (
    BatteryDump,
    HalTemperature,
    SensorRules,
    parse_battery_dump,
    parse_thermalservice,
)
from mai_bench.device.telemetry import (
    BATTERY_SERVICE,
    HAL,
    MARK_BATTERY,
    MARK_SYSFS,
    MARK_THERMALSERVICE,
    SYSFS,
    parse_telemetry,
)
from mai_bench.emulate.adbd import system_bin
from mai_bench.emulate.adbd.spec import load_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TELEMETRY = FIXTURES / "telemetry"
LOOPBACK = FIXTURES / "loopback"


def fixture(name: str) -> str:
    return (TELEMETRY / name).read_text()


def family(name: str) -> SensorRules:
    return load_families()[name].thermal


def reading(thermalservice: str | None = None, battery: str | None = None, sysfs: str = "") -> str:
    """The telemetry script's output around recorded dumps."""
    parts = []
    if thermalservice is not None:
        parts += [MARK_THERMALSERVICE, thermalservice]
    if battery is not None:
        parts += [MARK_BATTERY, battery]
    return "\n".join([*parts, MARK_SYSFS, sysfs]) + "\n"


def zone_lines(listing: str) -> str:
    """A captured `type: temp` zone listing as the telemetry script prints it (zone|thermal_zoneN|type|temp)."""
    rows = [line.split(":", 1) for line in listing.splitlines() if ":" in line]
    return "\n".join(f"zone|thermal_zone{i}|{name.strip()}|{value.strip()}" for i, (name, value) in enumerate(rows))


# -- dumpsys thermalservice ---------------------------------------------------------------------------------------


def test_tensor_pixel_hal_temperatures_are_the_current_section_only():
    dump = parse_thermalservice(fixture("tensor_pixel_thermalservice.txt"))
    assert dump.hal_ready is True
    by_name = {t.name: t for t in dump.temperatures}
    assert len(dump.temperatures) == 42  # the "Current temperatures from HAL:" lines, not the 40 cached ones
    assert by_name["BIG"] == HalTemperature("BIG", 0, 26.000002, 0)  # cached: 61.000004
    assert by_name["ocp_cpu1"].type == 7 and by_name["ocp_cpu1"].value == 6900.0
    assert by_name["soc"].type == 8 and by_name["vdroop1"].type == 6
    assert by_name["USB2-MINUS-USB"].value == pytest.approx(-0.117000006)


def test_tensor_pixel_reading_gates_on_big_and_never_on_a_current():
    t = parse_telemetry(reading(fixture("tensor_pixel_thermalservice.txt")), family("google-tensor"))
    assert t.source == HAL and t.family == "google-tensor" and t.problem is None
    assert t.max_temp_c == 27.0 and t.hottest.name in ("LITTLE", "MID") and t.hottest.kind == "cpu"
    assert {"BIG", "MID", "LITTLE", "G3D", "TPU", "VIRTUAL-SKIN", "battery"} <= set(t.thermal_c)
    for limit in ("ocp_cpu1", "ocp_cpu2", "soft_ocp_cpu1", "soft_ocp_cpu2", "ocp_gpu", "batoilo", "soc", "vdroop1",
                  "battery_cycle", "USB2-MINUS-USB", "FLASH_LED_REDUCE"):
        assert limit not in t.thermal_c, limit
    assert t.kinds["G3D"] == "gpu" and t.kinds["TPU"] == "npu" and t.kinds["VIRTUAL-SKIN"] == "skin"
    # No dumpsys battery in this capture: the HAL's battery sensor stands in.
    assert t.battery_c == 22.1 and t.battery_source == HAL


def test_qualcomm_silver_gold_hal_reading_stops_at_the_cooling_devices():
    dump = parse_thermalservice(fixture("qualcomm_silver_gold_thermalservice.txt"))
    assert [t.name for t in dump.temperatures][-1] == "usbc-therm-monitor"
    assert "thermal-cpufreq-0" not in {t.name for t in dump.temperatures}
    t = parse_telemetry(reading(fixture("qualcomm_silver_gold_thermalservice.txt")), family("qualcomm"))
    assert (t.hottest.name, t.max_temp_c) == ("cpu1-silver-usr", 44.1)  # cached values (up to 48.3) are stale
    assert t.kinds["gpu0-usr"] == "gpu" and t.kinds["mb-therm-monitor"] == "skin"
    assert "usbc-therm-monitor" in t.thermal_c and "usbc-therm-monitor" not in t.kinds  # a USB-port sensor: other


def test_samsung_hal_names_and_absent_sensors():
    t = parse_telemetry(reading(fixture("samsung_a52_5g_thermalservice.txt")), family("qualcomm"))
    assert t.source == HAL and (t.hottest.name, t.hottest.celsius) == ("AP", 25.6)
    assert t.kinds == {"AP": "cpu", "BAT": "battery", "LRB": "skin", "LRF": "skin", "LRP": "skin"}
    assert "SUBBAT" not in t.thermal_c and "USB" not in t.thermal_c  # listed at exactly 0.0: absent
    assert t.battery_c == 23.8


def test_hal_not_ready_and_garbage_values():
    text = ("Thermal Status: 0\nCached temperatures:\n\tTemperature{mValue=99.0, mType=0, mName=BIG, mStatus=3}\n"
            "HAL Ready: false\n")
    dump = parse_thermalservice(text)
    assert dump.hal_ready is False and dump.temperatures == ()  # the cached 99.0 never counts
    t = parse_telemetry(reading(text))
    assert t.hottest is None and "HAL Ready: false" in t.problem
    odd = ("Current temperatures from HAL:\n\tTemperature{mValue=NaN, mType=0, mName=CPU0, mStatus=0}\n"
           "\tTemperature{mValue=-3.4028235E38, mType=1, mName=GPU, mStatus=0}\n"
           "\tTemperature{mValue=41.5, mType=13, mName=soc_max, mStatus=0}\n")
    parsed = parse_thermalservice(odd)
    assert math.isnan(parsed.temperatures[0].value) and parsed.hal_ready is None
    t = parse_telemetry(reading(odd))
    assert t.thermal_c == {"soc_max": 41.5} and t.kinds == {"soc_max": "soc"} and t.max_temp_c == 41.5


# -- dumpsys battery ----------------------------------------------------------------------------------------------


def test_samsung_battery_dump_reads_the_aosp_temperature_line():
    assert parse_battery_dump(fixture("samsung_battery.txt")) == BatteryDump(32.6, 84, True)


def test_battery_dump_without_a_temperature_is_none_not_zero():
    assert parse_battery_dump(fixture("skia_battery_no_temperature.txt")) == BatteryDump(None, 9, True)
    absent = "Current Battery Service state:\n  present: false\n  temperature: 0\n"
    assert parse_battery_dump(absent).temperature_c is None
    assert parse_battery_dump("  temperature: -2731\n").temperature_c is None


def test_battery_service_wins_over_sysfs_and_the_hal():
    t = parse_telemetry(reading(fixture("samsung_a52_5g_thermalservice.txt"), fixture("samsung_battery.txt"),
                                "battery|291"))
    assert t.battery_c == 32.6 and t.battery_source == BATTERY_SERVICE
    t = parse_telemetry(reading(None, fixture("skia_battery_no_temperature.txt"), "battery|291"))
    assert t.battery_c == 29.1 and t.battery_source == SYSFS


# -- sysfs and the SoC families -----------------------------------------------------------------------------------


def test_sm8250_zones_leave_out_currents_voltages_and_charge_levels():
    sysfs = zone_lines(fixture("sm8250_retroid_pocket_5_zones.txt"))
    for rules in (family("qualcomm"), family("generic")):
        t = parse_telemetry(reading(sysfs=sysfs), rules)
        assert t.source == SYSFS and t.problem is None
        assert (t.hottest.name, t.hottest.celsius) == ("cpu-1-0-step", 34.6)
        for limit in ("soc", "pm8150b-ibat-lvl0", "pm8150b-ibat-lvl1", "pm8150b-vbat-lvl0", "pm8150b-bcl-lvl0",
                      "pm8150l-vph-lvl0", "pm8150l-bcl-lvl0"):
            assert limit not in t.thermal_c, (rules.family, limit)
        assert t.kinds["gpuss-1-usr"] == "gpu" and t.kinds["npu-usr"] == "npu" and t.kinds["q6-hvx-usr"] == "npu"
        assert t.kinds["xo-therm-usr"] == "skin" and t.kinds["bms"] == "battery" and "ddr-usr" not in t.kinds
        assert t.battery_c == 25.5 and t.battery_source == SYSFS  # the `battery` zone: no battery/temp line


def test_the_old_reading_of_these_zones_was_wrong():
    # Every zone read as a temperature made `soc` (the battery at 72 %) the hottest "sensor": what this fixes.
    sysfs = zone_lines(fixture("sm8250_retroid_pocket_5_zones.txt"))
    everything = SensorRules("everything")
    assert parse_telemetry(reading(sysfs=sysfs), everything).thermal_c["soc"] == 72.0


@pytest.mark.parametrize("name, kinds", [
    # name: (qualcomm, google-tensor, mediatek, generic); None = not a temperature
    ("socd", (None, "other", None, None)),
    ("soc", (None, None, None, None)),
    ("ocp_cpu1", ("other", None, None, None)),
    ("soft_ocp_cpu2", ("other", None, None, None)),
    ("pm8150b-ibat-lvl0", (None, "other", None, None)),
    ("BIG", ("other", "cpu", "other", "cpu")),
    ("G3D", ("other", "gpu", "other", "gpu")),
    ("cpu-1-4-usr", ("cpu", "other", "cpu", "cpu")),
    ("gpuss-0-usr", ("gpu", "other", "gpu", "gpu")),
    ("nspss-0-usr", ("npu", "other", "other", "npu")),
    ("VIRTUAL-SKIN-CPU", ("skin", "skin", "skin", "skin")),
    ("soc_max", ("other", "other", "soc", "soc")),
    ("cpu_little0", ("other", "other", "cpu", "cpu")),
    ("battery_cycle", ("other", None, "other", None)),
])
def test_family_sensor_names(name, kinds):
    found = tuple(family(f).kind_of(name) for f in ("qualcomm", "google-tensor", "mediatek", "generic"))
    assert found == kinds


def test_generic_names_cover_every_family():
    """A device without a profile is read with the generic names: whatever a family calls a CPU/GPU/NPU/SoC
    sensor is one there too, and whatever a family leaves out as no temperature is left out there too."""
    families = load_families()
    generic = families["generic"].thermal
    samples = ["BIG", "MID", "LITTLE", "G3D", "TPU", "cpu-0-0-usr", "cpu0-silver-usr", "cpuss-1-usr", "apc-1-max-step",
               "gpuss-1-usr", "gpu0-usr", "nspss-2-usr", "npu-usr", "q6-hvx-usr", "cpu_big0", "gpu1", "apu", "soc_max",
               "mtktscpu", "ocp_cpu1", "soft_ocp_gpu", "socd", "soc", "pm8350b-ibat-lvl0", "pm8150b-vbat-lvl0",
               "vdroop2", "batoilo", "pm8150l-bcl-lvl0", "battery_cycle"]
    for name in samples:
        found = {f.name: f.thermal.kind_of(name) for f in families.values() if f.name != "generic"}
        if None in found.values():
            assert generic.kind_of(name) is None, name
        elif any(k in ("cpu", "gpu", "npu", "soc") for k in found.values()):
            assert generic.kind_of(name) in ("cpu", "gpu", "npu", "soc"), name


def test_profiles_name_their_family_and_a_device_without_one_gets_the_generic_names():
    profiles = load_profiles()
    assert sensor_rules(profiles["zuma"]).family == "google-tensor"
    assert sensor_rules(profiles["kona"]).family == "qualcomm"
    assert sensor_rules(profiles["mt6989"]).family == "mediatek"
    assert sensor_rules(None).family == "generic"


def test_nothing_readable_is_said_not_zero():
    t = parse_telemetry(reading("", "", "zone|thermal_zone0|ocp_cpu1|6900\nzone|thermal_zone1|BIG|\nbattery|"))
    assert t.thermal_c == {} and t.source is None and t.max_temp_c is None and t.battery_c is None
    assert "no CPU/GPU temperature could be read" in t.problem and "2 zone(s) listed" in t.problem
    data = t.to_dict()
    assert data["hottest"] is None and data["problem"] == t.problem and data["sensors"] == []


def test_hal_without_a_cpu_sensor_falls_back_to_sysfs():
    hal = "Current temperatures from HAL:\n\tTemperature{mValue=30.1, mType=3, mName=skin, mStatus=0}\n"
    t = parse_telemetry(reading(hal, sysfs="zone|thermal_zone0|cpu-0-0-usr|41200"), family("qualcomm"))
    assert t.source == SYSFS and t.hottest.name == "cpu-0-0-usr" and t.max_temp_c == 41.2


# -- the loopback device's HAL agrees with these names ------------------------------------------------------------


@pytest.mark.parametrize("spec", ["tensor_g3_hot.yaml", "sm8250_zones.yaml"])
def test_loopback_hal_types_agree_with_the_generic_names(spec):
    rules = sensor_rules(None)
    kind_types = {"cpu": 0, "gpu": 1, "battery": 2, "skin": 3, "npu": 9, "soc": 13}
    for name in load_spec(LOOPBACK / spec).thermal:
        kind, hal_type = rules.kind_of(name), system_bin.zone_kind(name)
        if kind is None:  # no temperature: reported as a battery limit or not at all, never as a temperature
            assert hal_type in (None, 6, 7, 8), name
        else:
            assert hal_type == kind_types.get(kind), name
    assert system_bin.zone_kind("ocp_cpu1") == 7 and system_bin.zone_kind("socd") == 8
    assert system_bin.zone_kind("pm8150b-vbat-lvl0") == 6 and system_bin.zone_kind("ddr-usr") is None
