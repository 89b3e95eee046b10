"""`make demo`: the main job on the embedded default, no phone needed.

1. Benchmarks the three bundled reference models on this machine's CPU (real LiteRT, Full HD).
2. Starts a loopback device that speaks the real ADB protocol (through the real adb server, on a free
   127.0.0.1 port), and runs MicroISP 1.0 on it as `--device sm8450` with the XNNPACK and GPU delegates: the GPU
   run is LiteRT's real GPU accelerator on this machine's software Vulkan (SwiftShader), labelled as such and
   never set beside a phone (exit 1 if the host has no Vulkan device: the delegate then fails, and says so).
3. Makes a small synthetic RAW/RGB set (from photos bundled with scikit-image) and evaluates the MicroISP
   references on it on the host (PSNR, SSIM); their weights are random, so the numbers show the pipeline,
   not image quality.
4. Prints the report of everything measured and writes it as one self-contained HTML file.
Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "mai_bench" / "reference_models"
OUT = Path(os.environ.get("DEMO_OUT", ROOT / "demo-out"))
MAI_BENCH = [sys.executable, "-m", "mai_bench.cli.main"]
FAST = ["--runs", "5", "--warmup", "1", "--min-secs", "0", "--threads", "2"]


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str, allowed: tuple[int, ...] = (0,)) -> None:
    code = subprocess.call([*MAI_BENCH, *args])
    if code not in allowed:
        sys.exit(f"demo step failed with exit code {code}: mai-bench {' '.join(args)}")


def loopback_run(models: list[Path]) -> None:
    server = f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory(prefix="mai-bench-demo-") as root:
        emulator = subprocess.Popen([*MAI_BENCH, "emulate", "--count", "1", "--adb-server", server, "--root", root],
                                    stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            for line in emulator.stdout:
                print("  " + line.rstrip(), flush=True)
                if line.startswith("Use:"):
                    break
            else:
                sys.exit("the loopback device did not start")
            # A software GPU takes about 25 s a run at Full HD on 2 cores: fewer runs than FAST. Exit 1 where the
            # host has no Vulkan device (the GPU delegate fails there, and says so).
            run("run", *map(str, models), "--device", "sm8450", "--adb-server", server, "--delegate", "xnnpack,gpu",
                "--cooldown-timeout", "0", "--out", str(OUT / "loopback"), *FAST, "--runs", "2", allowed=(0, 1))
        finally:
            os.killpg(emulator.pid, signal.SIGTERM)
            emulator.wait(timeout=60)


def main() -> None:
    models = [REF / "microisp_1_0.tflite", REF / "microisp_0_5.tflite", REF / "pynet_v2_mobile.tflite"]
    step("1/4 reference models on this machine's CPU (XNNPACK, Full HD, real LiteRT)")
    run("run", *map(str, models), "--device", "local", "--delegate", "xnnpack", "--out", str(OUT / "host"), *FAST)
    step("2/4 MicroISP 1.0 on a loopback device through the real adb server (--device sm8450)")
    loopback_run(models[:1])
    step("3/4 fidelity on synthetic RAW/RGB pairs (host, PSNR/SSIM as the challenge computes them)")
    run("data", "synth", str(OUT / "data"), "--count", "4")
    for model in models[:2]:  # PyNET-V2 Mobile is built for Full HD only (instance norm): it cannot be resized
        run("eval", str(model), "--data", str(OUT / "data"), "--out", str(OUT / "fidelity"))
    step(f"4/4 report of {OUT}")
    folders = [str(OUT / name) for name in ("host", "loopback", "fidelity")]
    run("report", *folders)
    run("report", *folders, "-o", str(OUT / "report.html"))
    print(f"\nHTML report: {OUT / 'report.html'}")


if __name__ == "__main__":
    main()
