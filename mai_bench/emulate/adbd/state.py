"""What one loopback device process shares between its connections: the sandbox, the spec, the live
faults, the features it advertises, the zygote that forks its shells, and the shells it started."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace
from pathlib import Path

from mai_bench.emulate.adbd import auth, sandbox
from mai_bench.emulate.adbd.jail import Child, Isolation, Zygote
from mai_bench.emulate.adbd.spec import Faults, LoopbackSpec

log = logging.getLogger("mai_bench.adbd")

# Advertised in the CNXN banner; only what this daemon implements.
BASE_FEATURES = ("stat_v2", "ls_v2", "fixed_push_mkdir", "delayed_ack")


class DeviceState:
    def __init__(self, root: Path, spec: LoopbackSpec, isolation: Isolation):
        self.root = root
        self.spec = spec
        self.isolation = isolation
        self.zygote: Zygote | None = None  # set by the daemon once started
        self._background: set[asyncio.Task] = set()
        self._children: set[Child] = set()
        self.running = asyncio.Event()  # cleared while the `hang` fault holds everything
        self.connections: set = set()
        self.listeners: dict = {}  # adb reverse: device socket spec -> forward.Listener, device-wide as in adbd
        self._groups: set[int] = set()
        self.faults = spec.faults
        self.wire_bytes = 0  # WRTE payload bytes both ways since the faults were last set (drop_after_bytes)
        self.keys = auth.KeyStore(root / sandbox.STATE_DIR)  # trusted and pending adb keys
        self._key_tasks: set[asyncio.Task] = set()
        self.set_faults(spec.faults)

    @property
    def features(self) -> tuple[str, ...]:
        return BASE_FEATURES if self.faults.no_shell_v2 else ("shell_v2",) + BASE_FEATURES

    @property
    def auth_required(self) -> bool:
        """AUTH before CNXN, unless ro.adb.secure is off (see auth.auth_required)."""
        return auth.auth_required(self.spec.props, self.faults.reject_auth)

    def keys_changed(self) -> None:
        """The trusted keys changed (SIGUSR2): connections waiting for the user to allow their key finish
        the handshake if it is trusted now."""
        for conn in list(self.connections):
            task = asyncio.get_running_loop().create_task(conn.key_accepted())
            self._key_tasks.add(task)
            task.add_done_callback(self._key_tasks.discard)

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

    def track(self, child: Child) -> None:
        """Remember a shell until it exits, to end it when the device stops."""
        self._children.add(child)
        child.exited.add_done_callback(lambda _: self._children.discard(child))

    def background(self, work) -> None:
        """Run `work` (a coroutine) past the stream that started it; cancelled when the device stops."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop_processes(self) -> None:
        """SIGKILL every shell still running (on a faithful device ending the zygote ends them all anyway)."""
        for task in list(self._background):
            task.cancel()
        if self.zygote is not None:
            for child in list(self._children):
                self.zygote.kill(child.pid, signal.SIGKILL)
