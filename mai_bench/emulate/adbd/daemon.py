"""The loopback device process: serves the ADB device protocol on an inherited listening socket until
SIGTERM/SIGINT; SIGUSR1 reloads the faults file, SIGUSR2 says the trusted adb keys changed. Prints `ready` on
stdout once it accepts connections, then sends stdout to the log (stderr, which the starter points at
`<root>/.loopback/adbd.log`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from mai_bench.emulate.adbd import sandbox, services
from mai_bench.emulate.adbd.jail import Zygote
from mai_bench.emulate.adbd.state import DeviceState
from mai_bench.emulate.adbd.transport import Connection
from mai_bench.emulate.adbd.wire import Wire

log = logging.getLogger("mai_bench.adbd")
ZYGOTE_STOP_S = 5.0


async def serve(root: Path, listener: socket.socket) -> None:
    spec = sandbox.read_spec(root)
    isolation = sandbox.read_isolation(root)
    state = DeviceState(root, spec.with_faults(sandbox.read_faults(root)), isolation)
    state.zygote = await Zygote.start(root, root / sandbox.STATE_DIR, root / sandbox.STATE_DIR / sandbox.RUN_DIR,
                                      isolation, _zygote_env())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, state.reload_faults)
    loop.add_signal_handler(signal.SIGUSR2, state.keys_changed)

    tasks: set[asyncio.Task] = set()

    def accept(wire: Wire) -> None:
        task = asyncio.create_task(Connection(state, wire, services.lookup).run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await loop.create_server(lambda: Wire(accept), sock=listener)
    _announce_ready()
    log.info("loopback device %s serving on %s", spec.props.get("ro.serialno"), listener.getsockname())
    try:
        await stop.wait()
    finally:
        server.close()
        for conn in list(state.connections):
            conn.drop()
        state.stop_processes()
        await asyncio.sleep(0)  # let the SIGKILL requests reach the zygote before it goes
        state.zygote.close()
        _end(state.zygote.process)
        log.info("stopped")


def _zygote_env() -> dict[str, str]:
    # The zygote gives each child its own environment; it needs only to find Python's locale defaults.
    return {key: value for key, value in os.environ.items() if key in ("LANG", "LC_ALL", "PATH")}


def _end(process) -> None:
    process.terminate()
    try:
        process.wait(ZYGOTE_STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _announce_ready() -> None:
    os.write(1, b"ready\n")
    os.dup2(2, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mai_bench.emulate.adbd",
                                     description="One mai-bench loopback ADB device (started by mai_bench.emulate.loopback).")
    parser.add_argument("--root", required=True, type=Path, help="the device sandbox built by sandbox.build")
    parser.add_argument("--listen-fd", required=True, type=int, help="an inherited listening TCP socket")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    listener = socket.socket(fileno=args.listen_fd)
    asyncio.run(serve(args.root.resolve(), listener))
    return 0
