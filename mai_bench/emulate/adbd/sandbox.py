"""The loopback device's file system: a host folder standing in for `/`, and the rules mapping device paths
into it.

Sync requests (STAT/LIST/SEND/RECV) map any absolute device path `/a/b` to `<root>/a/b` and refuse paths that
leave the sandbox (`..`, or a symlink resolving outside it). Shell commands are host `sh -c` commands whose
text is rewritten: every device-absolute path starting with one of `REWRITTEN_PREFIXES` at the start of a
shell word (or after `=`, `:`, a quote, a bracket or an operator) gets the sandbox root prepended, so
`cat /sys/class/thermal/thermal_zone0/temp` reads `<root>/sys/...`. The limit: the rewrite is textual, so
such a path inside user data (an echoed string, a file name containing ` /data/`) is rewritten too, and
`pwd` shows host paths. The sandbox is a test device, not a security boundary: its shell runs on the host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec
from mai_bench.errors import UsageError

REWRITTEN_PREFIXES = ("data", "sdcard", "sys", "system", "proc")
STATE_DIR = ".loopback"  # daemon state inside the sandbox: spec, faults, log
FAULTS_FILE = "faults.json"
APPLIED_FILE = "faults.applied.json"
ARGV_LOG = "argv.log"  # one JSON line per benchmark_model call
TMP_DIR = "data/local/tmp"

_SAFE_ROOT = re.compile(r"^[A-Za-z0-9_./+\-@%,]+$")
# A device path starts a word, or follows `=`, `:`, a quote, `(`, `{`, a backtick or an operator; it is
# not the tail of `$(cmd)/data` or `${VAR}/data`.
_DEVICE_PATH = re.compile(r"(?<![^\s'\"=:;|&(<>`{])/(?:" + "|".join(REWRITTEN_PREFIXES) + r")(?=/|$|[\s'\";|&()<>`}])")


class SandboxError(Exception):
    """A device path that would leave the sandbox."""


def check_root(root: Path) -> Path:
    """The sandbox root as an absolute path that can be pasted into shell text unquoted."""
    root = Path(os.path.realpath(root))
    if not _SAFE_ROOT.match(str(root)):
        raise UsageError(f"loopback sandbox path {root} contains characters that need shell quoting",
                         "choose a --root folder whose path has no spaces, quotes or shell operators")
    return root


def rewrite_command(root: Path, command: str) -> str:
    """The shell command with device-absolute paths moved under `root` (see the module docstring)."""
    prefix = str(root)
    return _DEVICE_PATH.sub(lambda m: prefix + m.group(0), command)


def host_path(root: Path, device_path: str, *, follow: bool = True) -> Path:
    """The host path for an absolute device path; raises SandboxError when it would leave `root`.
    With follow=False the last component may be a symlink pointing anywhere (lstat, LIST entries)."""
    if not device_path.startswith("/"):
        raise SandboxError(f"{device_path!r} is not an absolute device path")
    parts = [p for p in device_path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SandboxError(f"{device_path!r} contains '..'")
    candidate = root.joinpath(*parts)
    resolved = Path(os.path.realpath(candidate if follow else candidate.parent))
    if resolved != root and root not in resolved.parents:
        raise SandboxError(f"{device_path!r} resolves outside the device")
    return candidate


def build(root: Path, spec: LoopbackSpec, python: str = sys.executable) -> Path:
    """Create (or refresh) the device tree under `root` for `spec`; returns the checked root."""
    root = check_root(root)
    for folder in (TMP_DIR, "sdcard", "system/bin", STATE_DIR):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _write_sysfs(root, spec)
    _write(root / "system/bin/getprop", _getprop_script(spec), executable=True)
    stand_in = f"exec {shlex.quote(python)} -m mai_bench.emulate.adbd.stand_ins {{tool}} {shlex.quote(str(root))} \"$@\"\n"
    for tool in ("benchmark_model", "df", "setsid"):
        _write(root / "system/bin" / tool, "#!/bin/sh\n" + stand_in.format(tool=tool), executable=True)
    # Device scripts call /system/bin/sh; a wrapper file, not a symlink, so sync never follows it to the host.
    _write(root / "system/bin/sh", '#!/bin/sh\nexec /bin/sh "$@"\n', executable=True)
    _write(root / STATE_DIR / "spec.json", spec.to_json())
    write_faults(root, spec.faults)
    return root


def write_faults(root: Path, faults: Faults, name: str = FAULTS_FILE) -> None:
    """Replace the faults file atomically (the daemon and the stand-ins read it while running). The daemon
    copies what it applied to APPLIED_FILE, so a starter can wait for a change to take effect."""
    target = root / STATE_DIR / name
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(faults.to_dict()), encoding="utf-8")
    os.replace(tmp, target)


def read_faults(root: Path, name: str = FAULTS_FILE) -> Faults:
    return Faults.from_dict(json.loads((root / STATE_DIR / name).read_text(encoding="utf-8")))


def read_spec(root: Path) -> LoopbackSpec:
    return LoopbackSpec.from_json((root / STATE_DIR / "spec.json").read_text(encoding="utf-8"))


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)


def _getprop_script(spec: LoopbackSpec) -> str:
    # Like Android's getprop: no argument lists `[key]: [value]` sorted; one prints the value (or the default
    # given as second argument, or an empty line).
    listing = "".join(f"[{key}]: [{value}]\n" for key, value in sorted(spec.props.items()))
    cases = "".join(f"  {shlex.quote(key)}) printf '%s\\n' {shlex.quote(value)} ;;\n"
                    for key, value in sorted(spec.props.items()))
    return ("#!/bin/sh\n"
            "if [ $# -eq 0 ]; then\n"
            f"  printf '%s' {shlex.quote(listing)}\n"
            "  exit 0\n"
            "fi\n"
            'case "$1" in\n'
            f"{cases}"
            "  *) printf '%s\\n' \"${2-}\" ;;\n"
            "esac\n")


def _write_sysfs(root: Path, spec: LoopbackSpec) -> None:
    thermal = root / "sys/class/thermal"
    for index, (zone_type, milli_c) in enumerate(spec.thermal.items()):
        _write(thermal / f"thermal_zone{index}/type", zone_type + "\n")
        _write(thermal / f"thermal_zone{index}/temp", f"{milli_c}\n")
    if spec.battery_temp is not None:
        battery = root / "sys/class/power_supply/battery"
        _write(battery / "temp", f"{spec.battery_temp}\n")
        _write(battery / "status", spec.battery_status + "\n")
    cpus = root / "sys/devices/system/cpu"
    for index, khz in enumerate(spec.cpu_max_freqs):
        _write(cpus / f"cpu{index}/cpufreq/cpuinfo_max_freq", f"{khz}\n")
    if spec.cpu_max_freqs:
        span = f"0-{len(spec.cpu_max_freqs) - 1}\n"
        for name in ("online", "possible", "present"):
            _write(cpus / name, span)
        hardware = " ".join(filter(None, (spec.props.get("ro.soc.manufacturer"), spec.props.get("ro.soc.model"))))
        blocks = [f"processor\t: {i}\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd aes pmull sha1 sha2 crc32 atomics\n"
                  f"CPU implementer\t: 0x41\nCPU architecture: 8\n" for i in range(len(spec.cpu_max_freqs))]
        _write(root / "proc/cpuinfo", "\n".join(blocks) + f"\nHardware\t: {hardware}\n")
