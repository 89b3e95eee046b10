"""What one loopback device process shares between its connections: the sandbox, the spec, the live
faults, the features it advertises, and the process groups its shells started."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import replace
from pathlib import Path

from mai_bench.emulate.adbd import sandbox
from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec

log = logging.getLogger("mai_bench.adbd")

# Advertised in the CNXN banner; only what this daemon implements.
BASE_FEATURES = ("stat_v2", "ls_v2", "fixed_push_mkdir", "delayed_ack")


class DeviceState:
    def __init__(self, root: Path, spec: LoopbackSpec):
        self.root = root
        self.spec = spec
        self.running = asyncio.Event()  # cleared while the `hang` fault holds everything
        self.connections: set = set()
        self._groups: set[int] = set()
        self.faults = spec.faults
        self.wire_bytes = 0  # WRTE payload bytes both ways since the faults were last set (drop_after_bytes)
        self.set_faults(spec.faults)

    @property
    def features(self) -> tuple[str, ...]:
        return BASE_FEATURES if self.faults.no_shell_v2 else ("shell_v2",) + BASE_FEATURES

    def set_faults(self, faults: Faults) -> None:
        handshake_changed = (faults.reject_auth, faults.no_shell_v2) != (self.faults.reject_auth,
                                                                         self.faults.no_shell_v2)
        self.faults = faults
        self.wire_bytes = 0
        self._apply_hang()
        if handshake_changed:
            # The server learns features and authorization only in the handshake: drop the connections and
            # let it reconnect (it does so by itself for `adb connect`ed devices).
            for conn in list(self.connections):
                conn.drop()
        sandbox.write_faults(self.root, faults, sandbox.APPLIED_FILE)
        log.info("faults now %s", faults)

    def reload_faults(self) -> None:
        try:
            self.set_faults(sandbox.read_faults(self.root))
        except Exception as error:  # a bad control file must not kill the device
            log.error("cannot reload faults: %s", error)

    def count_wire_bytes(self, n: int) -> bool:
        """Account payload bytes; True when drop_after_bytes has just been reached (the fault fires once)."""
        self.wire_bytes += n
        limit = self.faults.drop_after_bytes
        if limit is not None and self.wire_bytes >= limit:
            self.faults = replace(self.faults, drop_after_bytes=None)
            log.info("drop_after_bytes=%d reached: dropping the connection", limit)
            return True
        return False

    def _apply_hang(self) -> None:
        if self.faults.hang:
            self.running.clear()
        else:
            self.running.set()

    def track_group(self, pgid: int) -> None:
        self._groups = {g for g in self._groups if _group_alive(g)}
        self._groups.add(pgid)

    def kill_groups(self) -> None:
        for pgid in self._groups:
            kill_group(pgid)
        self._groups.clear()


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
