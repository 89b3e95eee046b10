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
TYPE_CPU, TYPE_GPU, TYPE_BATTERY, TYPE_SKIN, TYPE_NPU, TYPE_SOC = 0, 1, 2, 3, 9, 13
TYPE_BCL_VOLTAGE, TYPE_BCL_CURRENT, TYPE_BCL_PERCENTAGE = 6, 7, 8
_KIND_TYPES = {"cpu": TYPE_CPU, "gpu": TYPE_GPU, "battery": TYPE_BATTERY, "skin": TYPE_SKIN, "npu": TYPE_NPU,
               "soc": TYPE_SOC}
# dumpsys battery: BatteryManager BATTERY_STATUS_*.
_BATTERY_STATUS = {"Unknown": 1, "Charging": 2, "Discharging": 3, "Not charging": 4, "Full": 5}


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
    """The thermal HAL type a phone reports for a sysfs zone of this name: the generic sensor family's kind
    for a temperature (`mai_bench.device.sensors`), a BCL type for the battery limits it leaves out (Google
    Tensor's ocp_* currents, Qualcomm's socd percentage), None for zones the HAL does not report."""
    from mai_bench.device.profiles import sensor_rules

    name = zone_type.lower()
    kind = sensor_rules(None).kind_of(name)
    if kind is not None:
        return _KIND_TYPES.get(kind)
    if name in ("soc", "socd"):
        return TYPE_BCL_PERCENTAGE
    if any(word in name for word in ("ocp", "ibat", "batoilo")):
        return TYPE_BCL_CURRENT
    if any(word in name for word in ("vbat", "vdroop", "smpl")):
        return TYPE_BCL_VOLTAGE
    return None


def dumpsys(faithful: bool, spec: LoopbackSpec, sys_root: str = "/sys") -> str:
    """`dumpsys battery` and `dumpsys thermalservice` in AOSP's formats (BatteryService.dumpInternal,
    ThermalManagerService.dump); any other service is unknown, as on a phone without it. Like the HAL, they
    read the sensors (`sys_root`: the device's /sys) when asked, so a zone a test heats up reads hot."""
    return (shebang(faithful)
            + f"S={shlex.quote(sys_root)}\n"
            + _SENSOR_FUNCTIONS
            + 'case "$1" in\n'
            + f"  battery)\n{_battery_dump(spec)}    ;;\n"
            + f"  thermalservice)\n{_thermal_dump(spec)}    ;;\n"
            + '  "") echo "Currently running services:"; echo "  battery"; echo "  thermalservice" ;;\n'
            + '  *) echo "Can\'t find service: $1"; exit 0 ;;\n'
            + "esac\n")


# Shell functions of the dumpsys stand-in: `milli FILE` prints a millidegree reading as degrees ("34.9"),
# `tenths FILE` a tenth-degree one, `raw FILE` the value itself ("6900.0": a BCL limit in mA, mV or %).
_SENSOR_FUNCTIONS = r"""milli() { v=; read -r v < "$1"; s=; [ "${v#-}" != "$v" ] && { s=-; v=${v#-}; }
  echo "$s$((v / 1000)).$((v % 1000 / 100))"; }
tenths() { v=; read -r v < "$1"; s=; [ "${v#-}" != "$v" ] && { s=-; v=${v#-}; }
  echo "$s$((v / 10)).$((v % 10))"; }
raw() { v=; read -r v < "$1"; echo "$v.0"; }
"""


def _battery_dump(spec: LoopbackSpec) -> str:
    charging = "true" if spec.battery_status in ("Charging", "Full") else "false"
    lines = ["Current Battery Service state:", "  AC powered: false", f"  USB powered: {charging}",
             "  Wireless powered: false", "  Dock powered: false", "  Max charging current: 500000",
             "  Max charging voltage: 5000000", "  Charge counter: 3452000",
             f"  status: {_BATTERY_STATUS.get(spec.battery_status, 1)}", "  health: 2",
             f"  present: {'true' if spec.battery_temp is not None else 'false'}", "  level: 82", "  scale: 100",
             "  voltage: 4012"]
    out = "".join(f"    echo {shlex.quote(line)}\n" for line in lines)
    if spec.battery_temp is not None:
        out += '    b=; read -r b < "$S/class/power_supply/battery/temp"; echo "  temperature: $b"\n'
    else:
        out += "    echo '  temperature: 0'\n"
    return out + "    echo '  technology: Li-ion'\n"


def _thermal_dump(spec: LoopbackSpec) -> str:
    items = []
    for index, name in enumerate(spec.thermal):
        kind = zone_kind(name)
        if kind is None:
            continue
        reader = "raw" if kind in (TYPE_BCL_VOLTAGE, TYPE_BCL_CURRENT, TYPE_BCL_PERCENTAGE) else "milli"
        items.append(f'    printf \'\\tTemperature{{mValue=%s, mType={kind}, mName=%s, mStatus=0}}\\n\' '
                     f'"$({reader} "$S/class/thermal/thermal_zone{index}/temp")" {shlex.quote(name)}\n')
    if spec.battery_temp is not None and "battery" not in (name.lower() for name in spec.thermal):
        items.append(f'    printf \'\\tTemperature{{mValue=%s, mType={TYPE_BATTERY}, mName=battery, mStatus=0}}\\n\' '
                     f'"$(tenths "$S/class/power_supply/battery/temp")"\n')
    temps = "".join(items)
    head = ["IsStatusOverride: false", "ThermalEventListeners:", "\tcallbacks: 1", "\tkilled: false",
            "\tbroadcasts count: -1", "ThermalStatusListeners:", "\tcallbacks: 1", "\tkilled: false",
            "\tbroadcasts count: -1", "Thermal Status: 0", "Cached temperatures:"]
    middle = ["HAL Ready: true", "HAL connection:", "\tThermalHAL AIDL 1  connected: yes",
              "Current temperatures from HAL:"]

    def lines(texts: list[str]) -> str:
        return "".join(f"    printf '%s\\n' {shlex.quote(t)}\n" for t in texts)

    return lines(head) + temps + lines(middle) + temps + lines(["Current cooling devices from HAL:"])


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
