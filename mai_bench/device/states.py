"""The states `adb devices` reports, and what to do about each one that is not ready."""

from __future__ import annotations

from mai_bench.device.address import ServerAddress

READY = "device"


def fix_for_state(state: str, serial: str, server: ServerAddress) -> str | None:
    """The one thing to do to make a device in `state` usable; None when it is ready."""
    adb = f"adb {server.adb_flags()}-s {serial}"
    network = ":" in serial  # TCP devices are listed as HOST:PORT
    if state == READY:
        return None
    if state == "unauthorized":
        return (
            "unlock the phone and accept the 'Allow USB debugging' prompt (tick 'Always allow'); "
            f"no prompt? run `{adb} reconnect`, or revoke USB debugging authorizations in Developer options and replug"
        )
    if state == "offline":
        if network:
            return f"run `adb {server.adb_flags()}disconnect {serial}` then `adb {server.adb_flags()}connect {serial}`"
        return f"run `{adb} reconnect`; if it stays offline, replug the cable or toggle USB debugging"
    if state in ("authorizing", "connecting"):
        return "wait a few seconds and retry; if it persists, replug the phone or accept the prompt on its screen"
    if state.startswith("no permissions"):
        return (
            "the adb server may not open this USB device: add a udev rule for the phone's vendor id "
            "(https://developer.android.com/studio/run/device) and replug"
        )
    if state in ("recovery", "rescue", "sideload", "bootloader", "fastbootd"):
        return f"reboot the phone into Android: `{adb} reboot`"
    return f"check the phone's screen and run `{adb} reconnect`"
