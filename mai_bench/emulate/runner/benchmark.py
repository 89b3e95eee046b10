"""The benchmark: one benchmark_model run on real LiteRT, from flags to the report."""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mai_bench.emulate.runner.delegation import (_DELEGATE_NODE_TYPE, _LOAD_FAILURES, Delegation, _nodes,
                                                read_delegation, runtime_messages)
from mai_bench.emulate.runner.errors import Failure, Fatal
from mai_bench.emulate.runner.flags import _MEMORY_CHECK_INTERVAL_MS, ParsedFlags, param_lines
from mai_bench.emulate.runner.inputs import InputLayer, parse_input_layers, random_tensor
from mai_bench.emulate.runner.memory import PeakMemoryMonitor, max_rss_kb, statm_mb
from mai_bench.emulate.runner.output import _now_us, _secs_to_us, error, info, runtime_log, warn
from mai_bench.emulate.runner.stats import cpp_g, node_type_summary, stat_avg, stat_line

_TOOL_RNG_SEED = 5489  # std::mt19937's default seed; the tool never reseeds its input generator


class Benchmark:
    """One benchmark_model run: init, warm-up, timed runs, report. Raises Failure or Fatal like the tool fails.

    This one runs LiteRT's Interpreter (the CPU kernels, XNNPACK); `runner.gpu.GpuBenchmark` overrides the
    runtime hooks (`_init`, `_input_details`, `_set_inputs`, `_invoke`, `_output_arrays`) to run the GPU
    accelerator.
    """

    RUNTIME_MODULE = "ai_edge_litert.interpreter"

    def __init__(self, flags: ParsedFlags):
        self.flags = flags
        self.layers: tuple[InputLayer, ...] = ()
        self.interpreter: Any = None
        self.delegation: Delegation | None = None
        self.input_data: list[tuple[int, Any]] = []

    @property
    def values(self) -> Mapping[str, Any]:
        return self.flags.values

    # -- BenchmarkModel::Run ------------------------------------------------------------------------------------

    def run(self) -> None:
        self._validate()
        for line in param_lines(self.flags):
            info(line)
        # LiteRT loads only once the flags are known good (errors stay fast), and before the tool's memory
        # baseline is taken, as the real binary's libraries are loaded before it starts.
        importlib.import_module("numpy.random")  # its extension modules would otherwise land in the memory delta
        importlib.import_module(self.RUNTIME_MODULE)

        monitor = None
        if self.values["report_peak_memory_footprint"]:
            monitor = PeakMemoryMonitor(self.values["memory_footprint_check_interval_ms"])
        model_size_mb = self._model_file_size() / 1e6
        start_kb = max_rss_kb()
        init_us = self._init()
        init_kb = max_rss_kb() - start_kb
        if model_size_mb > 0:
            info(f"The input model file size (MB): {cpp_g(model_size_mb)}")
        else:
            warn("Failed to get the input model file size.")
        info(f"Initialized session in {cpp_g(init_us / 1e3)}ms.")
        self._prepare_input_data()

        v = self.values
        warmup, warmup_ok = self._run_phase(v["warmup_runs"], v["warmup_min_secs"], v["max_secs"])
        if not warmup_ok:
            raise Failure()
        timed, timed_ok = self._run_phase(v["num_runs"], v["min_secs"], v["max_secs"])
        overall_kb = max_rss_kb() - start_kb
        peak_mb = monitor.stop() if monitor is not None else -1.0

        info(f"Inference timings in us: Init: {init_us}, First inference: {warmup[0] if warmup else 0}, "
             f"Warmup (avg): {cpp_g(stat_avg(warmup))}, Inference (avg): {cpp_g(stat_avg(timed))}")
        info("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to "
             "the actual memory footprint of the model at runtime. Take the information at your discretion.")
        info(f"Memory footprint delta from the start of the tool (MB): init={cpp_g(init_kb / 1024.0)} "
             f"overall={cpp_g(overall_kb / 1024.0)}")
        if peak_mb > 0:
            info(f"Overall peak memory footprint (MB) via periodic monitoring: {cpp_g(peak_mb)}")
            status = statm_mb()
            if status is not None:
                info("Memory status at the end of exeution:")  # sic: the tool's spelling
                info(f"- VmRSS              : {status[0]} MB")
                info(f"+ RssAnnon           : {status[1]} MB")
                info(f"+ RssFile + RssShmem : {status[2]} MB")
        if v["enable_op_profiling"]:
            self._report_op_profile(timed)
        self._save_outputs()
        if not timed_ok:
            raise Failure()

    def _validate(self) -> None:
        v = self.values
        if v["report_peak_memory_footprint"] and v["memory_footprint_check_interval_ms"] <= 0:
            warn(f"--memory_footprint_check_interval_ms is set to {v['memory_footprint_check_interval_ms']} (ms), "
                 f"This value is invalid, and it will be set to the default value {_MEMORY_CHECK_INTERVAL_MS} (ms).")
            fixed = {**v, "memory_footprint_check_interval_ms": _MEMORY_CHECK_INTERVAL_MS}
            self.flags = replace(self.flags, values=fixed)
            v = self.values
        if not v["graph"]:
            raise Failure("Please specify the name of your TF Lite input file with --graph")
        self.layers = parse_input_layers(v["input_layer"], v["input_layer_shape"], v["input_layer_value_range"],
                                         v["input_layer_value_files"], warn)

    def _model_file_size(self) -> int:
        try:
            path = Path(self.values["graph"])
            return path.stat().st_size if path.is_file() else -1
        except OSError:
            return -1

    # -- BenchmarkTfLiteModel::Init ------------------------------------------------------------------------------

    def _init(self) -> int:
        """Load, build, resize, delegate, allocate; the init time in microseconds."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        v = self.values
        graph = v["graph"]
        threads = v["num_threads"] if v["num_threads"] >= 1 else None  # -1: LiteRT decides (one thread)
        resolver = (OpResolverType.AUTO if self._runtime_applies_xnnpack()
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        started = _now_us()
        try:
            self.interpreter = Interpreter(model_path=graph, num_threads=threads,
                                           experimental_op_resolver_type=resolver)
        except ValueError as failure:
            messages = runtime_messages(failure)
            if any(m.startswith(_LOAD_FAILURES) for m in messages):
                raise Failure(*messages, f"Failed to load model {graph}") from None
            info(f"Loaded model {graph}")
            runtime_log("INFO", "Initialized TensorFlow Lite runtime.")
            raise Failure(*messages, "Failed to initialize the interpreter") from None
        info(f"Loaded model {graph}")
        if v["num_threads"] < -1:
            raise Failure("num_threads should be >= 0 or just -1 to let TFLite runtime set the value.",
                          "Failed to set thread number")
        runtime_log("INFO", "Initialized TensorFlow Lite runtime.")
        self._choose_signature()
        self._resize_inputs()
        self._apply_delegates()
        if self.delegation is None:
            self._allocate("Failed to allocate tensors!")
            self._log_replacement()
        return _now_us() - started

    def _runtime_applies_xnnpack(self) -> bool:
        """Whether LiteRT's XNNPACK runs: asked for, or by default unless an explicit delegate was applied."""
        if self.flags.given("use_xnnpack"):
            return bool(self.values["use_xnnpack"])
        return not self.values["use_nnapi"]  # applying a delegate drops LiteRT's default one

    def _choose_signature(self) -> None:
        keys = list(self.interpreter.get_signature_list())
        if len(keys) == 1:
            info(f"Using signature: {keys[0]}")
        elif len(keys) > 1:
            raise Failure('Signature not specified or incorrect. Pass one of the following to the flag '
                          '"--signature_to_run_for"', *(f" #> Signature key: {key}" for key in keys))

    def _resize_inputs(self) -> None:
        import numpy as np

        if not self.layers:
            return
        details = self.interpreter.get_input_details()
        if len(self.layers) != len(details):
            raise Fatal(f"Inputs mismatch: Model inputs #:{len(self.layers)} expected: {len(details)}")
        for layer, detail in zip(self.layers, details):
            if layer.name != detail["name"]:
                warn(f"Tensor # {detail['index']} is named {detail['name']} but flags call it {layer.name}")
            if detail["dtype"] is not np.bytes_ and len(layer.shape) != len(detail["shape"]):
                raise Failure(f"Input tensor #{detail['index']} should have {len(detail['shape'])} dimensions!")
        for layer, detail in zip(self.layers, details):
            if detail["dtype"] is np.bytes_:
                continue
            try:
                self.interpreter.resize_tensor_input(detail["index"], list(layer.shape))
            except (ValueError, RuntimeError) as failure:  # the tool ignores the status; the runtime reports it
                for message in runtime_messages(failure):
                    error(message)

    def _apply_delegates(self) -> None:
        """CreateAllRankedDelegates, then ModifyGraphWithDelegate in rank (argv) order, with the tool's verdicts."""
        v = self.values
        created: list[str] = []
        if v["use_gpu"]:
            warn("GPU acceleration is unsupported on this platform.")
        if v["use_hexagon"]:
            warn("Could not create Hexagon delegate: platform may not support delegate or required libraries are "
                 "missing")
        if v["use_nnapi"]:
            preference = v["nnapi_execution_preference"]
            if preference and preference not in ("low_power", "sustained_speed", "fast_single_answer", "undefined"):
                warn(f"The provided value ({preference}) is not a valid nnapi execution preference.")
            runtime_log("INFO", "Created TensorFlow Lite delegate for NNAPI.")
            created.append("NNAPI")
            info("NNAPI delegate created.")  # the tool names only the first delegate it creates
        elif v["nnapi_accelerator_name"]:
            warn(f"`--use_nnapi=true` must be set for the provided NNAPI accelerator ({v['nnapi_accelerator_name']})"
                 " to be used.")
        elif v["nnapi_execution_preference"]:
            warn("`--use_nnapi=true` must be set for the provided NNAPI execution preference "
                 f"({v['nnapi_execution_preference']}) to be used.")
        if v["use_xnnpack"]:
            self._allocate("Failed to apply XNNPACK delegate.")  # LiteRT creates and applies XNNPACK here
            if not created:
                info("XNNPACK delegate created.")
            created.append("XNNPACK")
        if not created and v["require_full_delegation"]:
            raise Failure("Disallowed CPU fallback detected.")
        rank = {name: self.flags.positions.get(flag, 0) for name, flag in (("NNAPI", "use_nnapi"),
                                                                          ("XNNPACK", "use_xnnpack"))}
        for name in sorted(created, key=rank.__getitem__):
            if name == "NNAPI":
                accelerator = v["nnapi_accelerator_name"]
                if accelerator:
                    # The emulated NNAPI has no device at all, so the list it offers is empty.
                    raise Failure(f"Could not find the specified NNAPI accelerator: {accelerator}. "
                                  "Must be one of: {}.",
                                  "Restored original execution plan after delegate application failure.",
                                  "Failed to apply NNAPI delegate.")
                kernels, fully = 0, False
            else:
                self._log_replacement()
                kernels, fully = self.delegation.partitions, self.delegation.fully_delegated
            if v["require_full_delegation"] and not fully:
                raise Failure("Disallowed CPU fallback detected.")
            if fully:
                info(f"Explicitly applied {name} delegate, and the model graph will be completely executed by the "
                     "delegate.")
            elif kernels > 0:
                info(f"Explicitly applied {name} delegate, and the model graph will be partially executed by the "
                     f"delegate w/ {kernels} delegate kernels.")
            else:
                info(f"Though {name} delegate is explicitly applied, the model graph will not be executed by the "
                     "delegate.")

    def _allocate(self, failure_line: str) -> None:
        # The node list is only reachable on the binding object. Hold no reference to it across calls: the
        # interpreter refuses to allocate or invoke while anything else refers to it.
        model_nodes = self.interpreter._interpreter.NumNodes()
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError as failure:
            raise Failure(*runtime_messages(failure), failure_line) from None
        self.delegation = read_delegation(_nodes(self.interpreter._interpreter), model_nodes)

    def _log_replacement(self) -> None:
        d = self.delegation
        if d is not None and d.partitions:
            runtime_log("VERBOSE", f"Replacing {d.replaced} out of {d.total} node(s) with delegate "
                                   f"({_DELEGATE_NODE_TYPE}) node, yielding {d.partitions} partitions for subgraph 0.")

    # -- inputs, runs, outputs -----------------------------------------------------------------------------------

    def _prepare_input_data(self) -> None:
        import numpy as np

        rng = np.random.RandomState(_TOOL_RNG_SEED)
        for position, detail in enumerate(self._input_details()):
            layer = self.layers[position] if self.layers else None
            if detail["dtype"] is np.bytes_:
                continue  # string inputs keep what the model holds
            if layer is not None and layer.value_file:
                data = self._load_input_file(detail, layer.value_file)
            else:
                data = random_tensor(rng, detail["name"], np.dtype(detail["dtype"]), tuple(detail["shape"]),
                                     layer.value_range if layer is not None else None)
            self.input_data.append((detail["index"], data))

    @staticmethod
    def _load_input_file(detail: Mapping[str, Any], path: str) -> Any:
        import numpy as np

        dtype = np.dtype(detail["dtype"])
        expected = int(np.prod(detail["shape"])) * dtype.itemsize
        try:
            raw = Path(path).read_bytes()
        except OSError:
            raise Fatal(f"Failed to read the input_layer_value_file:{path}") from None
        if len(raw) != expected:
            raise Fatal(f"The size of {path} is {len(raw)} bytes. It should be {expected} bytes.")
        return np.frombuffer(raw, dtype=dtype).reshape(detail["shape"])

    def _run_phase(self, min_runs: int, min_secs: float, max_secs: float) -> tuple[list[int], bool]:
        """BenchmarkModel::Run: at least min_runs and min_secs, stopping once max_secs has passed."""
        info(f"Running benchmark for at least {min_runs} iterations and at least {cpp_g(min_secs)} seconds but "
             f"terminate if exceeding {cpp_g(max_secs)} seconds.")
        delay = self.values["run_delay"]
        now = _now_us()
        min_finish = now + _secs_to_us(min_secs)
        max_finish = now + _secs_to_us(max_secs)
        samples: list[int] = []
        ok = True
        while (len(samples) < min_runs or now < min_finish) and now <= max_finish:
            self._set_inputs()  # the tool refills the inputs before every run
            started = _now_us()
            try:
                self._invoke()
            except RuntimeError as failure:
                ok = False
                for message in runtime_messages(failure):
                    error(message)
            samples.append(_now_us() - started)
            if delay > 0:
                time.sleep(delay)
            now = _now_us()
        info(stat_line(samples) + "\n")
        return samples, ok

    def _save_outputs(self) -> None:
        path = self.values["output_filepath"]
        if not path:
            return
        try:
            with open(path, "wb") as handle:
                for array in self._output_arrays():
                    handle.write(array.tobytes())
        except OSError:
            pass  # the tool writes only when it can open the file, and says nothing otherwise

    # -- the runtime's hooks -------------------------------------------------------------------------------------

    def _input_details(self) -> list[Mapping[str, Any]]:
        """Each input's index, name, dtype and shape, as Interpreter.get_input_details() gives them."""
        return self.interpreter.get_input_details()

    def _set_inputs(self) -> None:
        for index, data in self.input_data:
            self.interpreter.set_tensor(index, data)

    def _invoke(self) -> None:
        self.interpreter.invoke()

    def _output_arrays(self) -> list[Any]:
        return [self.interpreter.get_tensor(detail["index"]) for detail in self.interpreter.get_output_details()]

    def _report_op_profile(self, timed: list[int]) -> None:
        assert self.delegation is not None  # set by _init
        info("Operator-wise Profiling Info for Regular Benchmark Runs:\n"
             + node_type_summary(self.delegation.plan_types, timed) + "\n")
