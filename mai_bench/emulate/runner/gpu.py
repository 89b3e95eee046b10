"""`--use_gpu=true` on the host runner: LiteRT's real GPU accelerator (ML Drift over WebGPU/Dawn on Vulkan), with
the CPU (XNNPACK) taking what it leaves, reported in benchmark_model's phone format from its own decisions.

The accelerator speaks only on the process's file descriptors, so the whole run happens inside a
`NativeCapture`: its decision lines are passed on (LiteRT's start-up chatter is dropped), and the tool's lines
are written from what it decided:

- "Created TensorFlow Lite delegate for GPU." / "GPU delegate created." once it selected a Vulkan adapter;
- its own "Following operations are not supported by GPU delegate: ... N operations will run on the GPU, and
  the remaining M operations will run on the CPU." block, verbatim;
- "Replacing N out of T node(s) with delegate (<its registered name>) node, yielding K partitions for
  subgraph 0.": N and T from that block (T = N + M), or T of T when it reports the graph fully accelerated
  (T counted in the model file); K is the number of delegate kernels it built (its "Initializing WebGPU-based
  API from graph." lines), as this runner counts partitions for XNNPACK too;
- the tool's verdict ("completely" / "partially executed by the delegate w/ K delegate kernels").

A failure to create it ("No adapters found": no usable Vulkan device) ends as the tool ends when a delegate
cannot be applied: "Failed to apply GPU delegate.", "Benchmarking failed.". `--gpu_backend=cl|gl` cannot be
honoured (this accelerator runs WebGPU on Vulkan) and fails the same way, as benchmark_model does when the forced
backend is missing. `--gpu_precision_loss_allowed=false` sets the accelerator's enforce_f32.

Each timed run is `run_by_index` plus reading every output back: the call returns before the GPU is done, and a
phone's GPU delegate copies its outputs back inside Invoke too.

A parent that wants a phone without a GPU (a loopback device whose spec has `gpu: false`) sets
`GPU_ABSENT_ENV=1`; the runner then answers as it always did ("GPU acceleration is unsupported on this
platform.", the run goes on on the CPU).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from mai_bench.emulate.runner.benchmark import Benchmark
from mai_bench.emulate.runner.errors import Failure, Fatal
from mai_bench.emulate.runner.flags import ParsedFlags
from mai_bench.emulate.runner.output import _emit, _now_us, error, info, runtime_log, warn
from mai_bench.emulate.runner.stats import node_type_summary

GPU_ABSENT_ENV = "MAI_BENCH_RUNNER_NO_GPU"
_NO_SIGNATURE = "<placeholder signature>"  # what CompiledModel calls the graph of a model without signatures


_LOCATION_ONLY = re.compile(r"^\[[^\]]*\]$")  # "[litert/runtime/compiled_model.cc:1036]": where, not what


def _litert_error_lines(message: str) -> list[str]:
    """The lines of a LiteRT exception that say something ("ERROR: [file:line]" and tree marks removed)."""
    lines = []
    for raw in message.splitlines():
        text = re.sub(r"^(?:└\s*)?(?:ERROR:\s*)?", "", raw.strip()).strip()
        if text and not _LOCATION_ONLY.match(text):
            lines.append(text)
    return lines


def gpu_absent(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(GPU_ABSENT_ENV) == "1"


def benchmark_for(flags: ParsedFlags) -> Benchmark:
    """The benchmark the flags ask for: the GPU accelerator for --use_gpu=true (unless the parent made the GPU
    absent), else the Interpreter."""
    if flags.values["use_gpu"] and not gpu_absent():
        return GpuBenchmark(flags)
    return Benchmark(flags)


class GpuBenchmark(Benchmark):
    """benchmark_model --use_gpu=true on LiteRT's CompiledModel with the GPU accelerator (see the module)."""

    RUNTIME_MODULE = "ai_edge_litert.compiled_model"

    def __init__(self, flags: ParsedFlags):
        super().__init__(flags)
        self.model: Any = None
        self.capture: Any = None
        self.decision: Any = None
        self.in_buffers: list[Any] = []
        self.out_buffers: list[Any] = []
        self.outputs: list[tuple[int, Any, tuple[int, ...]]] = []  # (elements, dtype, shape)
        self.last_outputs: list[Any] = []

    def run(self) -> None:
        try:
            super().run()
        finally:
            # The capture stays in place until the process ends: LiteRT's teardown chatter is not the run's.
            self._pass_native()

    # -- native output -------------------------------------------------------------------------------------------

    def _pass_native(self) -> None:
        """The accelerator's lines since the last call, as it printed them (start-up chatter dropped)."""
        from mai_bench.gpu.accelerator import useful_lines

        if self.capture is not None:
            for line in useful_lines(self.capture.drain()):
                _emit(sys.stderr, line)

    # -- init ----------------------------------------------------------------------------------------------------

    def _init(self) -> int:
        from mai_bench.errors import MaiBenchError
        from mai_bench.gpu.accelerator import NativeCapture, gpu_options, read_decision
        from mai_bench.gpu.vulkan import prepare_this_process
        from mai_bench.model.reader import read_model

        v = self.values
        graph = v["graph"]
        started = _now_us()
        try:
            model_file = read_model(graph)
        except MaiBenchError as problem:
            raise Failure(problem.message, f"Failed to load model {graph}") from None
        info(f"Loaded model {graph}")
        if v["num_threads"] < -1:
            raise Failure("num_threads should be >= 0 or just -1 to let TFLite runtime set the value.",
                          "Failed to set thread number")
        runtime_log("INFO", "Initialized TensorFlow Lite runtime.")
        if v["use_hexagon"]:
            warn("Could not create Hexagon delegate: platform may not support delegate or required libraries are "
                 "missing")
        if v["gpu_backend"]:
            runtime_log("INFO", "Created TensorFlow Lite delegate for GPU.")
            info("GPU delegate created.")
            error(f"--gpu_backend={v['gpu_backend']} cannot be honoured: LiteRT's GPU accelerator on this host runs "
                  "WebGPU on Vulkan, not OpenCL or OpenGL.")
            raise Failure("Failed to apply GPU delegate.")
        host_gpu = prepare_this_process()
        if host_gpu.device is None:
            warn(f"No Vulkan device for the GPU accelerator on this host ({host_gpu.describe()}); fix: "
                 f"{host_gpu.fix}")
        threads = v["num_threads"] if v["num_threads"] >= 1 else None
        precision = None if v["gpu_precision_loss_allowed"] else "fp32"
        self.capture = NativeCapture().__enter__()
        from ai_edge_litert.compiled_model import CompiledModel

        segments: list[str] = []
        try:
            self.model = CompiledModel.from_file(graph, options=gpu_options(precision, threads))
        except (RuntimeError, ValueError) as failure:
            segments.append(self.capture.drain())
            self._report_failure(read_decision(segments), str(failure))
        segments.append(self.capture.drain())
        self._choose_gpu_signature()
        try:
            self._resize_gpu_inputs()
            self.in_buffers = self.model.create_input_buffers(0)
            self.out_buffers = self.model.create_output_buffers(0)
        except (RuntimeError, ValueError) as failure:
            segments.append(self.capture.drain())
            self._report_failure(read_decision(segments), str(failure))
        segments.append(self.capture.drain())
        self.decision = read_decision(segments, fully_accelerated=self.model.is_fully_accelerated())
        self._report_delegation(self.decision, len(model_file.primary.ops))
        key = self._signature_key()
        import numpy as np

        self.outputs = [(int(np.prod(d["shape"])), np.dtype(d["dtype"]), tuple(d["shape"]))
                        for d in self.model.get_output_tensor_details(key).values()]
        return _now_us() - started

    def _report_failure(self, decision: Any, message: str) -> None:
        """The accelerator could not be applied: its lines, what LiteRT raised, then the tool's failure."""
        for line in decision.lines:
            _emit(sys.stderr, line)
        for text in _litert_error_lines(message):
            error(text)
        raise Failure("Failed to apply GPU delegate.")

    def _report_delegation(self, decision: Any, model_nodes: int) -> None:
        """The tool's and the runtime's delegate lines, from the accelerator's decision."""
        if decision.created:
            runtime_log("INFO", "Created TensorFlow Lite delegate for GPU.")
            info("GPU delegate created.")
        for line in decision.lines:
            _emit(sys.stderr, line)
        if decision.fully_accelerated:
            replaced, total = model_nodes, model_nodes
        elif decision.gpu_ops is not None and decision.cpu_ops is not None:
            replaced, total = decision.gpu_ops, decision.gpu_ops + decision.cpu_ops
        else:
            replaced, total = 0, model_nodes
        kernels = decision.kernels if replaced else 0
        if replaced and kernels:
            runtime_log("VERBOSE", f"Replacing {replaced} out of {total} node(s) with delegate "
                                   f"({decision.accelerator}) node, yielding {kernels} partitions for subgraph 0.")
        full = bool(decision.fully_accelerated)
        if self.values["require_full_delegation"] and not full:
            raise Failure("Disallowed CPU fallback detected.")
        if full:
            info("Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.")
        elif replaced:
            kernel_count = f" w/ {kernels} delegate kernels" if kernels else ""
            info(f"Explicitly applied GPU delegate, and the model graph will be partially executed by the delegate"
                 f"{kernel_count}.")
        else:
            info("Though GPU delegate is explicitly applied, the model graph will not be executed by the delegate.")
        if self.values["use_nnapi"]:
            info("Though NNAPI delegate is explicitly applied, the model graph will not be executed by the "
                 "delegate.")

    def _signature_key(self) -> str:
        return next(iter(self.model.get_signature_list()))

    def _choose_gpu_signature(self) -> None:
        keys = [key for key in self.model.get_signature_list() if key != _NO_SIGNATURE]
        if len(keys) == 1:
            info(f"Using signature: {keys[0]}")
        elif len(keys) > 1:
            raise Failure('Signature not specified or incorrect. Pass one of the following to the flag '
                          '"--signature_to_run_for"', *(f" #> Signature key: {key}" for key in keys))

    def _resize_gpu_inputs(self) -> None:
        if not self.layers:
            return
        details = self._input_details()
        if len(self.layers) != len(details):
            raise Fatal(f"Inputs mismatch: Model inputs #:{len(self.layers)} expected: {len(details)}")
        for layer, detail in zip(self.layers, details):
            if layer.name != detail["name"]:
                warn(f"Tensor # {detail['index']} is named {detail['name']} but flags call it {layer.name}")
            if len(layer.shape) != len(detail["shape"]):
                raise Failure(f"Input tensor #{detail['index']} should have {len(detail['shape'])} dimensions!")
        for layer, detail in zip(self.layers, details):
            if tuple(layer.shape) != tuple(detail["shape"]):
                self.model.resize_input_tensor(detail["index"], list(layer.shape))

    # -- the runtime's hooks -------------------------------------------------------------------------------------

    def _input_details(self) -> list[Mapping[str, Any]]:
        import numpy as np

        details = self.model.get_input_tensor_details(self._signature_key()).values()
        return [{"index": position, "name": d["name"], "dtype": np.dtype(d["dtype"]).type,
                 "shape": tuple(d["shape"])} for position, d in enumerate(details)]

    def _set_inputs(self) -> None:
        self._pass_native()  # between runs, outside the timed part
        for position, data in self.input_data:
            self.in_buffers[position].write(data)

    def _invoke(self) -> None:
        # The run is asynchronous: it is done when the outputs have been read back.
        self.model.run_by_index(0, self.in_buffers, self.out_buffers)
        self.last_outputs = [buffer.read(count, dtype) for buffer, (count, dtype, _) in
                             zip(self.out_buffers, self.outputs)]

    def _output_arrays(self) -> list[Any]:
        return [array.reshape(shape) for array, (_, _, shape) in zip(self.last_outputs, self.outputs)]

    def _report_op_profile(self, timed: list[int]) -> None:
        if self.decision is not None and self.decision.fully_accelerated:
            plan = (self.decision.accelerator,) * max(self.decision.kernels, 1)
            info("Operator-wise Profiling Info for Regular Benchmark Runs:\n"
                 + node_type_summary(plan, timed) + "\n")
        else:
            warn("Op profiling: LiteRT's CompiledModel gives no per-op times and does not say which ops the CPU ran; "
                 "no profile for a partly delegated graph.")
