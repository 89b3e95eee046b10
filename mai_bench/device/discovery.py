"""Find devices on one or more adb servers, describe each one, and resolve `--device` to devices.

Describing a ready device costs two round trips: the features request (answered by the adb server) and one
shell command that prints the getprop listing and then the telemetry lines (telemetry.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from mai_bench.device.address import ServerAddress, default_server, parse_server
from mai_bench.device.device import Device
from mai_bench.device.errors import (
    AdbServerUnreachable,
    DeviceError,
    DeviceNotFound,
    DeviceNotReady,
    UnknownDevice,
)
from mai_bench.device.profiles import (
    EMULATED_PROPERTY,
    LENIENT_PROPERTY,
    Profile,
    explain_match,
    load_profiles,
    sensor_rules,
)
from mai_bench.device.props import parse_getprop
from mai_bench.device.smartsocket import AdbFailure, Connection, ServerUnreachable
from mai_bench.device.states import READY, fix_for_state
from mai_bench.device.telemetry import TELEMETRY_SCRIPT, Telemetry, parse_telemetry
from mai_bench.errors import InfraError, UsageError

__all__ = ["parse_server", "default_server", "DeviceInfo", "DeviceListing", "ServerProblem", "list_devices",
           "list_serials", "describe", "resolve_devices"]

LIST_TIMEOUT_S = 5.0
DESCRIBE_TIMEOUT_S = 15.0
MAX_PARALLEL = 8  # probes are network waits, not CPU work
PROBE_SEPARATOR = "@@mai-bench:telemetry@@"
PROBE_SCRIPT = f"exec 2>/dev/null\ngetprop\necho {PROBE_SEPARATOR}\n{TELEMETRY_SCRIPT}"
# Properties only: what picking a device for a run needs (the run reads its own telemetry before it starts).
PROPS_SCRIPT = "exec 2>/dev/null\ngetprop\n"

# The getprop values kept for every device: identity, SoC, ABI, OS, GPU driver names.
REPORTED_PROPS = (
    "ro.product.model",
    "ro.product.manufacturer",
    "ro.soc.manufacturer",
    "ro.soc.model",
    "ro.board.platform",
    "ro.hardware",
    "ro.product.cpu.abi",
    "ro.build.version.release",
    "ro.build.version.sdk",
    "ro.build.fingerprint",
    "ro.hardware.egl",
    "ro.hardware.vulkan",
    EMULATED_PROPERTY,
    LENIENT_PROPERTY,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class DeviceInfo:
    """One device as an adb server lists it; for a ready device also its properties, telemetry and profile.
    `fix` says what to do when it is not usable; `probe_error` says why a ready device could not be read."""

    server: str
    serial: str
    state: str
    fix: str | None = None
    props: Mapping[str, str] = field(default_factory=dict)
    telemetry: Telemetry | None = None
    profile: str | None = None
    probe_error: str | None = None
    emulates: str | None = None  # the SoC profile a loopback device stands in for (`--device` answers to it)
    # How the profile was matched when not by the most specific property reported ("ro.board.platform=lahaina
    # (...)"): a guess a reader should see.
    matched_by: str | None = None

    def __post_init__(self) -> None:
        if not self.serial or not self.state:
            raise ValueError("a device needs a serial and a state")
        if self.state != READY and self.fix is None:
            raise ValueError(f"device {self.serial} is {self.state} but has no fix")
        object.__setattr__(self, "props", MappingProxyType(dict(self.props)))

    @property
    def ready(self) -> bool:
        return self.state == READY and self.probe_error is None

    @property
    def spec(self) -> str:
        """The `--device` value that selects exactly this device."""
        return f"{self.server}/{self.serial}"

    @property
    def emulated(self) -> bool:
        return self.props.get(EMULATED_PROPERTY, "").strip() == "1"

    @property
    def lenient(self) -> str | None:
        """Why a loopback device is more lenient than a phone, or None (a faithful one, or a phone)."""
        return self.props.get(LENIENT_PROPERTY, "").strip() or None

    @property
    def model(self) -> str | None:
        return self.props.get("ro.product.model") or None

    @property
    def soc(self) -> str | None:
        return self.props.get("ro.soc.model") or self.props.get("ro.board.platform") or None

    @property
    def sdk(self) -> int | None:
        value = self.props.get("ro.build.version.sdk", "")
        return int(value) if value.isdigit() else None

    def device(self) -> Device:
        """A Device for this entry."""
        return Device(self.serial, parse_server(self.server))

    def to_dict(self) -> dict[str, Any]:
        p = self.props
        return {
            "server": self.server,
            "serial": self.serial,
            "state": self.state,
            "fix": self.fix,
            "probe_error": self.probe_error,
            "profile": self.profile,
            "profile_matched_by": self.matched_by,
            "emulates": self.emulates,
            "emulated": self.emulated,
            "lenient": self.lenient,
            "model": self.model,
            "manufacturer": p.get("ro.product.manufacturer"),
            "soc_manufacturer": p.get("ro.soc.manufacturer"),
            "soc_model": p.get("ro.soc.model"),
            "board_platform": p.get("ro.board.platform"),
            "hardware": p.get("ro.hardware"),
            "abi": p.get("ro.product.cpu.abi"),
            "android_release": p.get("ro.build.version.release"),
            "sdk": self.sdk,
            "fingerprint": p.get("ro.build.fingerprint"),
            "egl_driver": p.get("ro.hardware.egl"),
            "vulkan_driver": p.get("ro.hardware.vulkan"),
            "telemetry": self.telemetry.to_dict() if self.telemetry else None,
        }


@dataclass(frozen=True)
class ServerProblem:
    """An adb server that did not answer, reported beside the other servers' devices; `message` says how
    ("does not answer (Connection refused)")."""

    server: str
    message: str
    fix: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class DeviceListing:
    servers: tuple[str, ...]
    devices: tuple[DeviceInfo, ...]
    problems: tuple[ServerProblem, ...] = ()

    @property
    def ready(self) -> tuple[DeviceInfo, ...]:
        return tuple(d for d in self.devices if d.ready)

    def summary(self) -> list[str]:
        """One "SERIAL on SERVER (state, profile)" per device, then the servers that did not answer."""
        lines = [f"{d.serial} on {d.server} ({d.state}{', ' + d.profile if d.profile else ''})" for d in self.devices]
        return lines + [f"adb server {p.server} {p.message}" for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        return {
            "servers": list(self.servers),
            "devices": [d.to_dict() for d in self.devices],
            "server_errors": [p.to_dict() for p in self.problems],
        }


def _parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(function, items))


def parse_devices(text: str) -> list[tuple[str, str]]:
    """(serial, state) pairs from a `host:devices` reply ("SERIAL\\tSTATE" lines)."""
    pairs = []
    for line in text.splitlines():
        serial, tab, state = line.partition("\t")
        if tab and serial.strip():
            pairs.append((serial.strip(), state.strip()))
    return pairs


def list_serials(server: ServerAddress, timeout: float = LIST_TIMEOUT_S) -> list[tuple[str, str]]:
    """(serial, state) of every device the server knows; AdbServerUnreachable if it does not answer."""
    try:
        with Connection(server, time.monotonic() + timeout) as conn:
            conn.request("host:devices")
            return parse_devices(conn.read_block().decode("utf-8", errors="replace"))
    except ServerUnreachable as error:
        raise AdbServerUnreachable(str(server), str(error)) from None
    except (TimeoutError, ConnectionError, EOFError, AdbFailure) as error:
        raise AdbServerUnreachable(str(server), f"no device list: {error or type(error).__name__}") from None


def info_from_probe(
    server: str, serial: str, text: str, profiles: Mapping[str, Profile] | None = None, *, telemetry: bool = True
) -> DeviceInfo:
    """A ready device's DeviceInfo from the probe output (pure: used on recorded outputs too): the getprop
    listing picks the profile, whose SoC family names the sensors of the telemetry that follows it."""
    listing, _, rest = text.partition(f"\n{PROBE_SEPARATOR}\n")
    props = parse_getprop(listing)
    found = explain_match(props, profiles)
    profile = found.profile if found else None
    readings = parse_telemetry(rest, sensor_rules(profile)) if telemetry else None  # PROPS_SCRIPT: not read
    kept = {key: props[key] for key in REPORTED_PROPS if props.get(key)}
    return DeviceInfo(server, serial, READY, props=kept, telemetry=readings, profile=profile.name if profile else None,
                      emulates=profile.emulates if profile else None,
                      matched_by=found.describe() if found is not None and found.fallback else None)


def describe(device: Device, timeout: float = DESCRIBE_TIMEOUT_S, profiles: Mapping[str, Profile] | None = None, *,
             telemetry: bool = True) -> DeviceInfo:
    """Read a device's properties, telemetry (unless `telemetry=False`) and profile (one shell command); errors
    become `probe_error`."""
    try:
        result = device.shell(["sh", "-c", PROBE_SCRIPT if telemetry else PROPS_SCRIPT], timeout, check=True)
    except DeviceNotReady as error:
        return DeviceInfo(device.server, device.serial, error.state, fix=error.fix, probe_error=error.reason)
    except DeviceError as error:
        return DeviceInfo(device.server, device.serial, READY, fix=error.fix, probe_error=error.reason)
    return info_from_probe(device.server, device.serial, result.out, profiles, telemetry=telemetry)


def _entry(server: ServerAddress, serial: str, state: str, probe: bool, profiles, telemetry: bool = True) -> DeviceInfo:
    if state != READY:
        return DeviceInfo(str(server), serial, state, fix=fix_for_state(state, serial, server))
    if not probe:
        return DeviceInfo(str(server), serial, state)
    return describe(Device(serial, server), profiles=profiles, telemetry=telemetry)


def list_devices(
    servers: Iterable[ServerAddress] | None = None,
    *,
    probe: bool = True,
    profiles: Mapping[str, Profile] | None = None,
    telemetry: bool = True,
) -> DeviceListing:
    """Every device on every server (default: the one adb itself uses), described unless `probe=False` (with
    its telemetry unless `telemetry=False`).

    A server that does not answer is reported in `problems` while the others' devices are listed; when no
    server answers, raises AdbServerUnreachable (one server) or InfraError (several).
    """
    addresses = tuple(dict.fromkeys(servers or (default_server(),)))
    if probe and profiles is None:
        profiles = load_profiles()

    def serials(server: ServerAddress) -> list[tuple[str, str]] | AdbServerUnreachable:
        try:
            return list_serials(server)
        except AdbServerUnreachable as error:
            return error

    answers = _parallel(serials, addresses)
    problems = [ServerProblem(str(s), a.reason, a.fix) for s, a in zip(addresses, answers) if isinstance(a, Exception)]
    if len(problems) == len(addresses):
        if len(addresses) == 1:
            raise answers[0]
        raise InfraError(
            "no adb server answered: " + "; ".join(f"{p.server} ({p.message})" for p in problems),
            problems[0].fix,
        )
    found = [(s, serial, state) for s, a in zip(addresses, answers) if not isinstance(a, Exception) for serial, state in a]
    devices = _parallel(lambda item: _entry(*item, probe, profiles, telemetry), found)
    return DeviceListing(tuple(str(a) for a in addresses), tuple(devices), tuple(problems))


# How alike a --device value and a profile name must be (difflib's ratio) for "did you mean": `sm845` and `sm8450`
# are 0.91 alike, `gs210` and `gs201` 0.8; serials (`R5CT1234ABC`, `emulator-5554`) stay far below.
CLOSE_PROFILE_RATIO = 0.75


def closest_profile(name: str, profiles: Mapping[str, Profile] | None = None) -> str | None:
    """The profile name (or the name a profile `emulates`) that `name` most likely misspells, or None."""
    import difflib

    known = load_profiles() if profiles is None else profiles
    names = sorted({*known, *(p.emulates for p in known.values() if p.emulates)})
    name = name.strip().lower()
    found = difflib.get_close_matches(name, names, n=len(names), cutoff=CLOSE_PROFILE_RATIO)

    def likeness(candidate: str) -> tuple[float, int]:
        # Equal ratios (`sm845`: sm8450 and sm8475 alike) go to the longer common start: a typo drops or swaps
        # the last characters more often than the first.
        prefix = len(os.path.commonprefix([name, candidate]))
        return difflib.SequenceMatcher(None, name, candidate).ratio(), prefix

    return max(found, key=likeness) if found else None


def resolve_devices(
    spec: str,
    servers: Iterable[ServerAddress] | None = None,
    profiles: Mapping[str, Profile] | None = None,
) -> tuple[DeviceInfo, ...]:
    """The ready devices `--device SPEC` selects, described without telemetry (a run reads its own right before
    it starts; each reading costs a `dumpsys` or two on a phone).

    SPEC is `all` (every ready device), a profile name (every ready device of that profile, or of a profile
    that `emulates` it), `HOST:PORT/SERIAL`, or a serial on any of `servers`. `local` is the caller's.
    """
    spec = spec.strip()
    if not spec or spec.lower() == "local":
        raise ValueError(f"resolve_devices does not handle --device {spec!r}")
    known = load_profiles() if profiles is None else profiles
    addresses = tuple(servers or (default_server(),))
    name = spec.lower()

    if name == "all" or any(p.answers_to(name) for p in known.values()):
        listing = list_devices(addresses, profiles=known, telemetry=False)
        chosen = tuple(
            d for d in listing.ready if name == "all" or (d.profile is not None and known[d.profile].answers_to(name))
        )
        if chosen:
            return chosen
        wanted = "ready device" if name == "all" else f"ready device of profile {name} ({known[name].display_name})"
        fix = "attach and authorize a device, then check `mai-bench devices`"
        if name != "all":
            fix = f"attach a {known[name].display_name} device, or pick one with --device SERIAL"
        raise DeviceNotFound(f"no {wanted}", fix, attached=listing.summary())

    if "/" in spec:
        server_text, serial = spec.split("/", 1)
        addresses = (parse_server(server_text),)
    else:
        serial = spec
    listing = list_devices(addresses, probe=False)
    matches = [d for d in listing.devices if d.serial == serial]
    if not matches:
        names = ", ".join(sorted(p for p in known if not known[p].emulated))
        close = closest_profile(spec, known)
        raise UnknownDevice(
            f"--device {spec!r} is neither a device profile nor an attached serial",
            (f"did you mean {close}? " if close else "")
            + f"use a serial from `mai-bench devices`, `all`, or a profile: {names}",
            attached=listing.summary(),
        )
    if len(matches) > 1:
        raise UsageError(
            f"serial {serial!r} is attached to several adb servers: {', '.join(d.server for d in matches)}",
            f"name one: --device {matches[0].spec}",
        )
    entry = matches[0]
    if entry.state != READY:
        raise DeviceNotReady(f"the device is {entry.state}", entry.fix, state=entry.state, serial=serial, server=entry.server)
    info = describe(entry.device(), profiles=known, telemetry=False)
    if not info.ready:
        raise DeviceNotReady(
            f"the device could not be read: {info.probe_error}", info.fix, state=info.state, serial=serial, server=info.server
        )
    return (info,)
