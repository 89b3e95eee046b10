"""What a loopback device's `/system/bin` holds besides Android's shell (mksh) and toybox's applets: the
framework commands a phone has (`getprop`, `dumpsys battery|thermalservice`, `pm`) as shell scripts that
print what AOSP prints for the device's spec, and the stand-ins that need Python (`benchmark_model`, `df`).

Every script starts `#!/system/bin/sh` on a faithful device (the host's `/bin/sh` on a lenient one) and has
the same bytes on every device and in every session of one mai-bench version, except where it prints the
spec's values: `benchmark_model`'s sha256 identifies the stand-in, not the device.
"""

from __future__ import annotations

import shlex

import mai_bench
from mai_bench.emulate.adbd.spec import LoopbackSpec

# dumpsys thermalservice: android.os.Temperature TYPE_* constants.
TYPE_CPU, TYPE_GPU, TYPE_BATTERY, TYPE_SKIN, TYPE_NPU = 0, 1, 2, 3, 9
# dumpsys battery: BatteryManager BATTERY_STATUS_*.
_BATTERY_STATUS = {"Unknown": 1, "Charging": 2, "Discharging": 3, "Not charging": 4, "Full": 5}
# Google Tensor's CPU clusters are plain BIG / MID / LITTLE sensors.
_CPU_NAMES = ("big", "mid", "little")


def shebang(faithful: bool) -> str:
    return "#!/system/bin/sh\n" if faithful else "#!/bin/sh\n"


def stand_in(tool: str, state_dir: str = "/.loopback") -> str:
    """A Python stand-in: the launcher in the device's state folder runs `stand_ins TOOL`. On a faithful
    device the folder is `/.loopback` wherever the stand-in is copied to, so its bytes are the same on every
    device; a lenient device names its host folder (and its shebang is the host's shell)."""
    return (shebang(state_dir == "/.loopback")
            + f"# mai-bench {mai_bench.__version__} loopback stand-in for {tool} (the host's LiteRT runs the model)\n"
            + f"exec {shlex.quote(state_dir + '/launch')} {tool} \"$@\"\n")


def launcher(faithful: bool, python: str, pythonpath: str) -> str:
    """The one per-device script: which host Python runs the stand-ins (its first argument is its folder,
    the device's state folder)."""
    env = f"PYTHONPATH={shlex.quote(pythonpath)} " if pythonpath else ""
    return (shebang(faithful)
            + f'{env}exec {shlex.quote(python)} -m mai_bench.emulate.adbd.stand_ins "${{0%/*}}" "$@"\n')


def getprop(faithful: bool, spec: LoopbackSpec) -> str:
    """Like Android's getprop: no argument lists `[key]: [value]` sorted; one prints the value (or the
    default given as second argument, or an empty line)."""
    listing = "".join(f"[{key}]: [{value}]\n" for key, value in sorted(spec.props.items()))
    cases = "".join(f"  {shlex.quote(key)}) echo {shlex.quote(value)} ;;\n" for key, value in sorted(spec.props.items()))
    return (shebang(faithful)
            + "if [ $# -eq 0 ]; then\n"
            + f"  printf '%s' {shlex.quote(listing)}\n"
            + "  exit 0\n"
            + "fi\n"
            + 'case "$1" in\n'
            + cases
            + '  *) echo "${2-}" ;;\n'
            + "esac\n")


def zone_kind(zone_type: str) -> int | None:
    """The thermal HAL type a phone reports for a sysfs zone of this name, None for zones the HAL does not
    report (current limits, modem, PMIC)."""
    name = zone_type.lower()
    if any(word in name for word in ("ocp", "ibat", "vbat", "socd", "lvl", "limit")):
        return None
    if "gpu" in name or name == "g3d":
        return TYPE_GPU
    if "npu" in name or "nsp" in name or name == "tpu":
        return TYPE_NPU
    if "cpu" in name or name in _CPU_NAMES:
        return TYPE_CPU
    if "skin" in name or "quiet" in name or "xo-therm" in name:
        return TYPE_SKIN
    if "battery" in name:
        return TYPE_BATTERY
    return None


def dumpsys(faithful: bool, spec: LoopbackSpec) -> str:
    """`dumpsys battery` and `dumpsys thermalservice` in AOSP's formats (BatteryService.dumpInternal,
    ThermalManagerService.dump); any other service is unknown, as on a phone without it."""
    battery = _battery_dump(spec)
    thermal = _thermal_dump(spec)
    return (shebang(faithful)
            + 'case "$1" in\n'
            + f"  battery) printf '%s' {shlex.quote(battery)} ;;\n"
            + f"  thermalservice) printf '%s' {shlex.quote(thermal)} ;;\n"
            + '  "") echo "Currently running services:"; echo "  battery"; echo "  thermalservice" ;;\n'
            + '  *) echo "Can\'t find service: $1"; exit 0 ;;\n'
            + "esac\n")


def _battery_dump(spec: LoopbackSpec) -> str:
    lines = ["Current Battery Service state:", "  AC powered: false",
             f"  USB powered: {'true' if spec.battery_status in ('Charging', 'Full') else 'false'}",
             "  Wireless powered: false", "  Dock powered: false", "  Max charging current: 500000",
             "  Max charging voltage: 5000000", "  Charge counter: 3452000",
             f"  status: {_BATTERY_STATUS.get(spec.battery_status, 1)}", "  health: 2",
             f"  present: {'true' if spec.battery_temp is not None else 'false'}", "  level: 82", "  scale: 100",
             "  voltage: 4012", f"  temperature: {spec.battery_temp if spec.battery_temp is not None else 0}",
             "  technology: Li-ion"]
    return "\n".join(lines) + "\n"


def _thermal_dump(spec: LoopbackSpec) -> str:
    temps = []
    for name, milli_c in spec.thermal.items():
        kind = zone_kind(name)
        if kind is not None:
            temps.append(f"\tTemperature{{mValue={milli_c / 1000:.1f}, mType={kind}, mName={name}, mStatus=0}}")
    if spec.battery_temp is not None:
        temps.append(f"\tTemperature{{mValue={spec.battery_temp / 10:.1f}, mType={TYPE_BATTERY}, mName=battery, "
                     "mStatus=0}")
    lines = ["IsStatusOverride: false", "ThermalEventListeners:", "\tcallbacks: 1", "\tkilled: false",
             "\tbroadcasts count: -1", "ThermalStatusListeners:", "\tcallbacks: 1", "\tkilled: false",
             "\tbroadcasts count: -1", "Thermal Status: 0", "Cached temperatures:", *temps, "HAL Ready: true",
             "HAL connection:", "\tThermalHAL AIDL 1  connected: yes", "Current temperatures from HAL:", *temps,
             "Current cooling devices from HAL:"]
    return "\n".join(lines) + "\n"


def pm(faithful: bool) -> str:
    """The package manager's command line: a loopback device installs nothing; a file that is not an APK
    fails as Android fails it (`adb install` pushes the file and runs `pm install`)."""
    return (shebang(faithful)
            + 'case "$1" in\n'
            + "  install)\n"
            + '    shift; apk=""\n'
            + '    for arg in "$@"; do case "$arg" in -*) ;; *) apk="$arg" ;; esac; done\n'
            + '    if [ -z "$apk" ]; then echo "Error: no package specified"; exit 1; fi\n'
            + '    if [ ! -f "$apk" ]; then echo "Error: Unable to open file: $apk"; '
            + 'echo "Consider using a file under /data/local/tmp/"; exit 1; fi\n'
            + '    magic=$(head -c 2 "$apk")\n'
            + '    if [ "$magic" != "PK" ]; then\n'
            + '      echo "Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse $apk: '
            + 'Failed to load asset path $apk]"\n'
            + "      exit 1\n"
            + "    fi\n"
            + '    echo "Failure [INSTALL_FAILED_INTERNAL_ERROR: a mai-bench loopback device does not install apps]"\n'
            + "    exit 1 ;;\n"
            + "  list) echo package:android; echo package:com.android.shell ;;\n"
            + '  path) if [ "$2" = android ]; then echo package:/system/framework/framework-res.apk; '
            + "else exit 1; fi ;;\n"
            + '  *) echo "usage: pm [list|path|install] ..." >&2; exit 1 ;;\n'
            + "esac\n")
