"""Run a model on LiteRT's GPU accelerator for many inputs, from another process: `GpuRunner`.

The accelerator runs in a child (`python -m mai_bench.gpu.infer MODEL [--precision P]`, with the Vulkan device
from `vulkan`), which keeps one compiled model and resizes it when the input shape changes. The parent sends one
line per input, "IN.npy OUT.npy", and reads one JSON line back: {"ok": true, "shape": [...]} or {"ok": false,
"error": ...}. The accelerator's decision (adapter, nodes on the GPU, ops left to the CPU) comes with the first
answer and whenever a resize makes it plan again. Native output never reaches the protocol (NativeCapture).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mai_bench.errors import InfraError, ModelError
from mai_bench.gpu.vulkan import HostGpu, host_gpu

ANSWER_TIMEOUT_S = 900.0  # one Full-HD inference of a large model on SwiftShader takes minutes on 2 cores


class GpuRunner:
    """One model on the GPU accelerator in a child process; `infer(packed)` -> [1, H, W, C] float32."""

    def __init__(self, model: str | Path, precision: str | None = None, gpu: HostGpu | None = None):
        self.gpu = gpu or host_gpu()
        if self.gpu.device is None:
            raise InfraError(f"no Vulkan device for LiteRT's GPU accelerator on this host ({self.gpu.describe()})",
                             self.gpu.fix)
        self.model = Path(model)
        self.precision = precision
        self.decision: dict[str, Any] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="mai-bench-gpu-")
        argv = [sys.executable, "-m", "mai_bench.gpu.infer", str(self.model)]
        if precision:
            argv.append(f"--precision={precision}")
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=self.gpu.env())
        self._count = 0

    def infer(self, packed: np.ndarray) -> np.ndarray:
        """The model's output for one packed RAW [H, W, 4] (float32), as the GPU accelerator computes it."""
        self._count += 1
        folder = Path(self._dir.name)
        source, target = folder / f"in{self._count}.npy", folder / f"out{self._count}.npy"
        np.save(source, np.ascontiguousarray(packed[None], dtype=np.float32))
        answer = self._ask(f"{source}\t{target}\n")
        source.unlink(missing_ok=True)
        if not answer.get("ok"):
            raise ModelError(f"LiteRT's GPU accelerator could not run {self.model.name}: {answer.get('error')}",
                             "run `mai-bench run MODEL --device local --delegate gpu` to see its full log")
        if answer.get("decision") is not None:
            self.decision = answer["decision"]
        output = np.load(target)
        target.unlink(missing_ok=True)
        return output

    def _ask(self, line: str) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(line.encode())
            self._proc.stdin.flush()
            reply = self._proc.stdout.readline()
        except (BrokenPipeError, OSError):
            reply = b""
        if not reply:
            self._proc.kill()
            err = self._proc.communicate()[1].decode("utf-8", errors="replace").strip().splitlines()[-3:]
            raise InfraError(f"the GPU accelerator's process ended (exit {self._proc.returncode}): "
                             + (" | ".join(err) or "no message"), "run `mai-bench check MODEL` to see what it says")
        return json.loads(reply)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._dir.cleanup()

    def __enter__(self) -> GpuRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    from mai_bench.gpu.accelerator import NativeCapture, gpu_options, read_decision
    from mai_bench.gpu.vulkan import prepare_this_process

    path = argv[0]
    options = dict(arg[2:].split("=", 1) for arg in argv[1:] if arg.startswith("--") and "=" in arg)
    prepare_this_process()
    with NativeCapture() as capture:
        from ai_edge_litert.compiled_model import CompiledModel

        out = sys.stdout
        try:
            model = CompiledModel.from_file(path, options=gpu_options(options.get("precision"), 2))
        except (RuntimeError, ValueError) as error:
            lines = read_decision([capture.drain()]).errors
            out.write(json.dumps({"ok": False, "error": "; ".join(lines) or str(error)}) + "\n")
            out.flush()
            return 1
        segments = [capture.drain()]
        key = next(iter(model.get_signature_list()))
        shape: tuple[int, ...] | None = None
        ins = outs = None
        for line in sys.stdin:
            source, target = line.rstrip("\n").split("\t")
            decision = None
            try:
                data = np.load(source)
                if shape != data.shape:
                    current = tuple(next(iter(model.get_input_tensor_details(key).values()))["shape"])
                    if current != data.shape:
                        model.resize_input_tensor(0, list(data.shape))
                    ins, outs = model.create_input_buffers(0), model.create_output_buffers(0)
                    shape = data.shape
                    segments.append(capture.drain())
                    decision = read_decision(segments, fully_accelerated=model.is_fully_accelerated()).to_dict()
                detail = next(iter(model.get_output_tensor_details(key).values()))
                ins[0].write(data)
                model.run_by_index(0, ins, outs)
                result = outs[0].read(int(np.prod(detail["shape"])), np.float32).reshape(detail["shape"])
                np.save(target, result)
                answer = {"ok": True, "shape": list(result.shape), "decision": decision}
            except (RuntimeError, ValueError, OSError) as error:
                errors = read_decision([capture.drain()]).errors
                answer = {"ok": False, "error": "; ".join(errors) or str(error)}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
