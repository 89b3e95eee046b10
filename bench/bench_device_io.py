"""mai-bench's device layer against the adb CLI, on the same loopback device through the same real adb server:
push throughput of a 20 MB file (goal: at least 0.8 of `adb push`), a trivial shell round trip (goal: within 3x
of `adb shell true`), and the round trips that describing one device costs (goal: at most 3).
adbutils' own figures are shown for reference.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback_env import adb_argv, adb_env, loopback_devices  # noqa: E402

SIZE = 20 * 1024 * 1024
REPEAT = 7


def median_time(fn, repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    import adbutils

    from mai_bench.device.address import parse_server
    from mai_bench.device.device import Device
    from mai_bench.device.discovery import describe
    from mai_bench.device import smartsocket

    with loopback_devices(1) as (server, (loop,)), tempfile.TemporaryDirectory() as tmp:
        env = adb_env(server)
        blob = Path(tmp) / "blob.bin"
        blob.write_bytes(os.urandom(SIZE))
        device = Device(loop.serial, parse_server(server.address))
        client = adbutils.AdbClient(host=server.host, port=server.port, socket_timeout=60)
        au = client.device(loop.serial)

        cli_push = median_time(lambda: subprocess.run(adb_argv(server, "-s", loop.serial, "push", str(blob),
                                                               "/data/local/tmp/cli.bin"), env=env, check=True,
                                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ours_push = median_time(lambda: device.push(blob, "/data/local/tmp/ours.bin", timeout=60))
        au_push = median_time(lambda: au.sync.push(str(blob), "/data/local/tmp/au.bin"))
        cli_shell = median_time(lambda: subprocess.run(adb_argv(server, "-s", loop.serial, "shell", "true"), env=env,
                                                       check=True), 21)
        ours_shell = median_time(lambda: device.shell(["true"], timeout=10), 21)
        au_shell = median_time(lambda: au.shell("true", timeout=10), 21)

        opened = []
        original = smartsocket.Connection.__init__

        def counting(self, *args, **kwargs):
            opened.append(1)
            original(self, *args, **kwargs)

        smartsocket.Connection.__init__ = counting
        try:
            describe(Device(loop.serial, parse_server(server.address)))
        finally:
            smartsocket.Connection.__init__ = original

        mb = SIZE / 1e6
        print(f"| figure (median of {REPEAT}; shell: of 21) | mai-bench | adb CLI | adbutils |\n|---|---|---|---|")
        print(f"| push 20 MB, MB/s | {mb / ours_push:.0f} | {mb / cli_push:.0f} | {mb / au_push:.0f} |")
        print(f"| shell `true` round trip, ms | {ours_shell * 1000:.1f} | {cli_shell * 1000:.1f} | "
              f"{au_shell * 1000:.1f} |")
        print(f"\npush throughput vs adb CLI: {cli_push / ours_push:.2f} (goal >= 0.8); adbutils: "
              f"{cli_push / au_push:.2f}")
        print(f"shell round trip vs `adb shell true`: {ours_shell / cli_shell:.2f}x (goal <= 3); adbutils: "
              f"{au_shell / cli_shell:.2f}x")
        print(f"connections (round trips) to describe one device (props, temperatures, profile): {len(opened)} "
              "(goal <= 3)")


if __name__ == "__main__":
    main()
