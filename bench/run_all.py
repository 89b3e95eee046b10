"""Run every benchmark under bench/ (files named bench_*.py) and print their figures.

Each benchmark prints a Markdown section; the figures go into bench/RESULTS.md by hand, with the date and the
machine. Ratios are measured against a reference in the same run: this machine is shared and noisy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    selected = [a for a in argv if not a.startswith("-")]
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if selected and not any(s in script.name for s in selected):
            continue
        print(f"\n## {script.stem}\n", flush=True)
        failures += subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
