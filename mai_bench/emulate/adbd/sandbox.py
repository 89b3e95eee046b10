"""The loopback device's file system: a host folder holding the device tree (`system/`, `vendor/`, `data/`,
`sdcard/`, `sys/`, `proc/cpuinfo`) and the daemon's state (`.loopback/`), and the rules mapping device paths
into it.

On a faithful device (see `jail`) the shell sees this tree as `/`, so nothing is rewritten. Sync requests
(STAT/LIST/SEND/RECV), served by the daemon on the host, map any absolute device path `/a/b` to `<root>/a/b`,
refuse paths that leave the tree (`..`, or a symlink resolving outside it), and refuse writes where the shell
user of a phone cannot write (everywhere but `/data/local/tmp` and `/sdcard`).

On a lenient device the shell is the host's `sh -c`, and its command text is rewritten: every
device-absolute path starting with one of `REWRITTEN_PREFIXES` at the start of a shell word (or after `=`,
`:`, a quote, a bracket or an operator) gets the root prepended. The rewrite is textual, so such a path
inside user data is rewritten too, and `pwd` shows host paths: one reason such a device is lenient.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import mai_bench
from mai_bench.emulate.adbd import system_bin
from mai_bench.emulate.adbd.jail import Isolation
from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec
from mai_bench.errors import UsageError

REWRITTEN_PREFIXES = ("data", "sdcard", "sys", "system", "proc", "vendor")
STATE_DIR = ".loopback"  # daemon state beside the device tree: spec, faults, log, the stand-ins' launcher
RUN_DIR = "run"  # inside STATE_DIR, the one part of it the device may write: the stand-ins' records
FAULTS_FILE = "faults.json"
APPLIED_FILE = "faults.applied.json"
ISOLATION_FILE = "isolation.json"
RECORDED_LOG = "recorded.log"  # the copy of Faults.benchmark_log_file the stand-in prints
ARGV_LOG = f"{STATE_DIR}/{RUN_DIR}/argv.log"  # one JSON line per benchmark_model call
TMP_DIR = "data/local/tmp"
WRITABLE = ("/data/local/tmp", "/sdcard")  # where the shell user can write on a phone
READ_ONLY_MOUNTS = ("/", "/system", "/vendor", "/sys", "/proc", "/etc")
# Commands that are not toybox's on a phone (or that a stand-in replaces, df for the storage-full fault).
_NOT_FROM_TOYBOX = {"df", "sh", "getprop", "dumpsys", "pm", "benchmark_model"}

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


def build(root: Path, spec: LoopbackSpec, isolation: Isolation, python: str = sys.executable) -> Path:
    """Create (or refresh) the device tree under `root` for `spec`; returns the checked root."""
    root = check_root(root)
    faithful = isolation.faithful
    for folder in (TMP_DIR, "sdcard", "system/bin", "system/etc", "vendor/bin", f"{STATE_DIR}/{RUN_DIR}"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _write_sysfs(root, spec)
    bin_dir = root / "system/bin"
    if faithful:
        _install_android_tools(bin_dir)
        _write(root / "system/etc/passwd", "root:x:0:0::/:/system/bin/sh\nshell:x:2000:2000::/:/system/bin/sh\n")
        _write(root / "system/etc/group", "root:x:0:\nshell:x:2000:\n")
    else:
        # Device scripts call /system/bin/sh; a wrapper file, not a symlink, so sync never follows it to the host.
        _write(bin_dir / "sh", '#!/bin/sh\nexec /bin/sh "$@"\n', executable=True)
        _write(bin_dir / "setsid", system_bin.stand_in("setsid", str(root / STATE_DIR)), executable=True)
    _write(bin_dir / "getprop", system_bin.getprop(faithful, spec), executable=True)
    # The stand-in reads the sensors when asked: from the device's /sys, which a lenient device's host
    # shell sees under the device folder.
    _write(bin_dir / "dumpsys", system_bin.dumpsys(faithful, spec, "/sys" if faithful else str(root / "sys")),
           executable=True)
    _write(bin_dir / "pm", system_bin.pm(faithful), executable=True)
    state_dir = "/" + STATE_DIR if faithful else str(root / STATE_DIR)
    for tool in ("benchmark_model", "df"):
        _write(bin_dir / tool, system_bin.stand_in(tool, state_dir), executable=True)
    package_parent = str(Path(mai_bench.__file__).resolve().parent.parent)
    _write(root / STATE_DIR / "launch", system_bin.launcher(faithful, python, package_parent), executable=True)
    _write(root / STATE_DIR / "spec.json", spec.to_json())
    write_isolation(root, isolation)
    write_faults(root, spec.faults)
    return root


def _install_android_tools(bin_dir: Path) -> None:
    """mksh as /system/bin/sh and toybox with a link per applet, copied from the host's Debian packages."""
    for name, source in (("sh", "mksh"), ("toybox", "toybox")):
        found = shutil.which(source)
        if found is None:
            raise UsageError(f"{source} is not installed", "apt-get install mksh toybox (or run a lenient device)")
        target = bin_dir / name
        if not target.exists() or target.stat().st_size != os.path.getsize(found):
            tmp = target.with_suffix(".tmp")
            shutil.copy2(found, tmp)
            os.replace(tmp, target)
    applets = subprocess.run([str(bin_dir / "toybox")], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = bin_dir / applet
        if applet in _NOT_FROM_TOYBOX or "[" in applet or os.path.lexists(link):
            continue
        link.symlink_to("toybox")


def writable(device_path: str) -> bool:
    """Whether the shell user of a phone may create `device_path`."""
    path = posixpath.normpath(device_path)
    return any(path == top or path.startswith(top + "/") for top in WRITABLE)


def write_error(device_path: str) -> str:
    """The errno text a phone gives for creating a file where the shell user cannot."""
    path = posixpath.normpath(device_path)
    read_only = any(path == m or path.startswith(m.rstrip("/") + "/") for m in READ_ONLY_MOUNTS if m != "/")
    return os.strerror(errno.EROFS if read_only or path.count("/") == 1 else errno.EACCES)


def write_isolation(root: Path, isolation: Isolation) -> None:
    (root / STATE_DIR / ISOLATION_FILE).write_text(json.dumps(asdict(isolation)), encoding="utf-8")


def read_isolation(root: Path) -> Isolation:
    return Isolation(**json.loads((root / STATE_DIR / ISOLATION_FILE).read_text(encoding="utf-8")))


def write_faults(root: Path, faults: Faults, name: str = FAULTS_FILE) -> None:
    """Replace the faults file atomically (the daemon and the stand-ins read it while running). The daemon
    copies what it applied to APPLIED_FILE, so a starter can wait for a change to take effect."""
    target = root / STATE_DIR / name
    if faults.benchmark_log_file is not None and name == FAULTS_FILE:
        # The device cannot see the host's files: the stand-in prints this copy.
        shutil.copyfile(faults.benchmark_log_file, root / STATE_DIR / RECORDED_LOG)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(faults.to_dict()), encoding="utf-8")
    os.replace(tmp, target)


def read_faults(root: Path, name: str = FAULTS_FILE, recorded_log: str | None = None) -> Faults:
    """The faults in `root`'s state folder; inside the device (`recorded_log` given) a recorded log is read
    from the copy write_faults made there."""
    values = json.loads((root / STATE_DIR / name).read_text(encoding="utf-8"))
    if recorded_log is not None and values.get("benchmark_log_file") is not None:
        values["benchmark_log_file"] = str(root / STATE_DIR / recorded_log)
    return Faults.from_dict(values)


def read_spec(root: Path) -> LoopbackSpec:
    return LoopbackSpec.from_json((root / STATE_DIR / "spec.json").read_text(encoding="utf-8"))


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)


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
