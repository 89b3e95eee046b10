"""`mai-bench --help` wall time: imports must stay lazy (goal: under 0.3 s).

Reference in the same run: `python -c pass` (the interpreter's own start-up), so the noise of a shared machine
shows in both figures.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

REPEAT = 15


def wall(argv: list[str]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    exe = shutil.which("mai-bench") or str(__import__("pathlib").Path(sys.executable).parent / "mai-bench")
    help_s = wall([exe, "--help"])
    python_s = wall([sys.executable, "-c", "pass"])
    print(f"| figure | median of {REPEAT} |\n|---|---|")
    print(f"| `mai-bench --help` wall time | {help_s * 1000:.0f} ms |")
    print(f"| `python -c pass` wall time (reference) | {python_s * 1000:.0f} ms |")
    print(f"| ratio | {help_s / python_s:.2f}x |")
    print(f"\ngoal: under 300 ms -> {'met' if help_s < 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
