"""The host runner: TFLite's `benchmark_model` contract, running real LiteRT on this machine's CPU.

Same flags (`--name=value` only; anything else is echoed as "Unconsumed cmdline flags" and ignored), same lines
(INFO/WARN on stdout; ERROR, FATAL and the runtime's own lines on stderr, each line flushed), same exit codes
(0; 1 after "Benchmarking failed."; SIGABRT after a FATAL check). It runs `mai-bench run --device local`, and it
is the `benchmark_model` a loopback device carries, so it plays a phone with no accelerator:

- GPU: the delegate cannot be created ("GPU acceleration is unsupported on this platform.") and the run goes on
  on the CPU, as the tool does whenever a delegate provider returns no delegate.
- Hexagon: "Could not create Hexagon delegate: ..." and the run goes on on the CPU.
- NNAPI: an NNAPI with no device. The delegate is created and takes no node ("Though NNAPI delegate is explicitly
  applied, ..."), the graph runs on the plain CPU kernels; naming an accelerator fails as it does on a phone that
  lacks it ("Could not find the specified NNAPI accelerator: ...").
- XNNPACK is LiteRT's own. LiteRT's Python API does not say what the delegate took, so the
  "Replacing N out of M node(s)" line is read back from the interpreter's nodes (see `read_delegation`).
- `--enable_op_profiling`: LiteRT's Python API has no op profiler. The "Summary by node type" table lists the
  node types of the execution plan with their real counts; its time columns print `nan` (never measured), and
  its "Timings" line holds the measured per-invoke wall times.

Memory figures follow the tool: the peak resident set size (getrusage ru_maxrss, i.e. VmHWM) as a delta from the
start of the tool; the periodic monitor samples the same counter. Random inputs follow the tool too: one
std::mt19937 with its default seed, floats uniform in [-0.5, 0.5) unless --input_layer_value_range says otherwise.
"""

from __future__ import annotations

import math
import os
import re
import resource
import signal
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_DELEGATE_NODE_TYPE = "TfLiteXNNPackDelegate"
_TOOL_RNG_SEED = 5489  # std::mt19937's default seed; the tool never reseeds its input generator
_MEMORY_CHECK_INTERVAL_MS = 50
_INT32 = (-(2**31), 2**31 - 1)


# ---------------------------------------------------------------------------------------------------------------
# Flags


@dataclass(frozen=True)
class Flag:
    """One command-line flag as benchmark_model declares it: `--name=value`, typed, with a default."""

    name: str
    kind: str  # int32 | float | bool | string
    default: Any
    usage: str

    def __post_init__(self) -> None:
        if self.kind not in ("int32", "float", "bool", "string"):
            raise ValueError(f"unknown flag type {self.kind!r}")


# In benchmark_model's order: BenchmarkModel, BenchmarkTfLiteModel, then the delegate providers as registered.
FLAGS: tuple[Flag, ...] = (
    Flag("num_runs", "int32", 50, "expected number of runs, see also min_secs, max_secs"),
    Flag("min_secs", "float", 1.0, "minimum number of seconds to rerun for, potentially making the actual number "
         "of runs to be greater than num_runs"),
    Flag("max_secs", "float", 150.0, "maximum number of seconds to rerun for, potentially making the actual number "
         "of runs to be less than num_runs. Note if --max-secs is exceeded in the middle of a run, the benchmark "
         "will continue to the end of the run but will not start the next run."),
    Flag("run_delay", "float", -1.0, "delay between runs in seconds"),
    Flag("num_threads", "int32", -1, "number of threads"),
    Flag("warmup_runs", "int32", 1, "minimum number of runs performed on initialization, to allow performance "
         "characteristics to settle, see also warmup_min_secs"),
    Flag("warmup_min_secs", "float", 0.5, "minimum number of seconds to rerun for, potentially making the actual "
         "number of warm-up runs to be greater than warmup_runs"),
    Flag("verbose", "bool", False, "Whether to log parameters whose values are not set. By default, only log "
         "those parameters that are set by parsing their values from the commandline flags."),
    Flag("report_peak_memory_footprint", "bool", False, "Report the peak memory footprint by periodically "
         "checking the memory footprint. Internally, a separate thread will be spawned for this periodic check. "
         "Therefore, the performance benchmark result could be affected."),
    Flag("memory_footprint_check_interval_ms", "int32", _MEMORY_CHECK_INTERVAL_MS, "The interval in millisecond "
         "between two consecutive memory footprint checks. This is only used when "
         "--report_peak_memory_footprint is set to true."),
    Flag("graph", "string", "", "graph file name"),
    Flag("input_layer", "string", "", "input layer names"),
    Flag("input_layer_shape", "string", "", "input layer shape"),
    Flag("input_layer_value_range", "string", "", "A map-like string representing value range for *integer* "
         "input layers. Each item is separated by ':', and the item value consists of input layer name and "
         "integer-only range values (both low and high are inclusive) separated by ',', e.g. "
         "input1,1,2:input2,0,254"),
    Flag("input_layer_value_files", "string", "", "A map-like string representing value file. Each item is "
         "separated by ',', and the item value consists of input layer name and value file path separated by "
         "':', e.g. input1:file_path1,input2:file_path2. In case the input layer name contains ':' e.g. "
         "\"input:0\", escape it with \"\\:\". The file format is binary and it should be array format."),
    Flag("require_full_delegation", "bool", False, "require delegate to run the entire graph"),
    Flag("enable_op_profiling", "bool", False, "enable op profiling"),
    Flag("output_filepath", "string", "", "File path to export outputs layer as binary data."),
    Flag("help", "bool", False, "Print out all supported flags if true."),
    Flag("use_gpu", "bool", False, "use gpu"),
    Flag("gpu_precision_loss_allowed", "bool", True, "Allow to process computation in lower precision than FP32 "
         "in GPU. By default, it's enabled."),
    Flag("gpu_experimental_enable_quant", "bool", True, "Whether to enable the GPU delegate to run quantized "
         "models or not. By default, it's enabled."),
    Flag("gpu_inference_for_sustained_speed", "bool", False, "Whether to prefer maximizing the throughput. This "
         "mode will help when the same delegate will be used repeatedly on multiple inputs. This is supported on "
         "non-iOS platforms. By default, it's disabled."),
    Flag("gpu_backend", "string", "", "Force the GPU delegate to use a particular backend for execution, and fail "
         "if unsuccessful. Should be one of: cl, gl"),
    Flag("use_hexagon", "bool", False, "Use Hexagon delegate"),
    Flag("hexagon_lib_path", "string", "/data/local/tmp", "The library path for the underlying Hexagon "
         "libraries."),
    Flag("hexagon_profiling", "bool", False, "Enables Hexagon profiling"),
    Flag("use_nnapi", "bool", False, "use nnapi delegate api"),
    Flag("nnapi_execution_preference", "string", "", "execution preference for nnapi delegate. Should be one of "
         "the following: fast_single_answer, sustained_speed, low_power, undefined"),
    Flag("nnapi_accelerator_name", "string", "", "the name of the nnapi accelerator to use (requires Android Q+)"),
    Flag("nnapi_allow_fp16", "bool", False, "Allow fp32 computation to be run in fp16"),
    Flag("use_xnnpack", "bool", False, "explicitly apply the XNNPACK delegate. Note the XNNPACK delegate could be "
         "implicitly applied by the TF Lite runtime regardless the value of this parameter. To disable this "
         "implicit application, set the value to false explicitly."),
)
_FLAG_BY_NAME = {flag.name: flag for flag in FLAGS}

# LogParams order: (flag, label, echoed even when not given). "signature_to_run_for" is not a flag here (the
# runner takes no signature choice) but the tool always echoes it.
_LOGGED_PARAMS = (
    ("num_runs", "Min num runs", False), ("min_secs", "Min runs duration (seconds)", False),
    ("max_secs", "Max runs duration (seconds)", False), ("run_delay", "Inter-run delay (seconds)", False),
    ("num_threads", "Num threads", False), ("warmup_runs", "Min warmup runs", False),
    ("warmup_min_secs", "Min warmup runs duration (seconds)", False),
    ("report_peak_memory_footprint", "Report the peak memory footprint", False),
    ("memory_footprint_check_interval_ms", "Memory footprint check interval (ms)", False),
    ("graph", "Graph", True), ("signature_to_run_for", "Signature to run", True),
    ("input_layer", "Input layers", False), ("input_layer_shape", "Input shapes", False),
    ("input_layer_value_range", "Input value ranges", False), ("input_layer_value_files", "Input value files", False),
    ("require_full_delegation", "Require full delegation", False),
    ("enable_op_profiling", "Enable op profiling", False),
    ("output_filepath", "File path to export outputs layer to", False),
    ("help", "print out all supported flags", False), ("num_threads", "#threads used for CPU inference", False),
    ("use_gpu", "Use gpu", False), ("gpu_precision_loss_allowed", "Allow lower precision in gpu", False),
    ("gpu_experimental_enable_quant", "Enable running quant models in gpu", False),
    ("gpu_inference_for_sustained_speed", "Prefer maximizing the throughput in gpu", False),
    ("gpu_backend", "GPU backend", False),
    ("use_hexagon", "Use Hexagon", False), ("hexagon_lib_path", "Hexagon lib path", False),
    ("hexagon_profiling", "Hexagon profiling", False),
    ("use_nnapi", "Use NNAPI", False),
)
# Echoed only when --use_nnapi is true (the provider returns early otherwise).
_NNAPI_PARAMS = (
    ("nnapi_execution_preference", "NNAPI execution preference", False),
    ("nnapi_accelerator_name", "NNAPI accelerator name", False),
    ("nnapi_allow_fp16", "Allow fp16 in NNAPI", False),
)
_XNNPACK_PARAMS = (("use_xnnpack", "Use xnnpack", False),)


@dataclass(frozen=True)
class ParsedFlags:
    """What benchmark_model's flag parser makes of an argv."""

    values: Mapping[str, Any]  # every flag, its default when not given
    positions: Mapping[str, int]  # argv index of each flag given; the tool ranks delegates by it
    unconsumed: tuple[str, ...]
    errors: tuple[str, ...]
    wants_help: bool

    def given(self, name: str) -> bool:
        return name in self.positions


def _f32(value: float) -> float:
    """`value` rounded to a C float, as the tool stores float flags."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


_INT_PREFIX = re.compile(r"\s*([+-]?[0-9]+)")
_FLOAT_PREFIX = re.compile(r"\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")


def parse_value(kind: str, text: str) -> tuple[bool, Any]:
    """Parse a flag value the way the tool's istream-based parser does: (ok, value).

    Like `istream >> value`, a number may carry trailing junk ("5x" is 5), an empty value reads as 0 and an
    out-of-range integer saturates; booleans are exactly true/false/1/0.
    """
    if kind == "string":
        return True, text
    if kind == "bool":
        if text in ("true", "1", "false", "0"):
            return True, text in ("true", "1")
        return False, None
    if not text.strip():
        return True, 0 if kind == "int32" else 0.0
    if kind == "int32":
        match = _INT_PREFIX.match(text)
        if match is None:
            return False, None
        return True, min(max(int(match.group(1)), _INT32[0]), _INT32[1])
    match = _FLOAT_PREFIX.match(text)
    if match is None:
        return False, None
    return True, _f32(float(match.group(1)))


def parse_flags(argv: Sequence[str]) -> ParsedFlags:
    """Match each flag against the first unconsumed `--name=...` argument, as tflite::Flags::Parse does."""
    values: dict[str, Any] = {flag.name: flag.default for flag in FLAGS}
    values["signature_to_run_for"] = ""
    positions: dict[str, int] = {}
    consumed = [False] * len(argv)
    errors: list[str] = []
    for flag in FLAGS:
        prefix = f"--{flag.name}="
        for index, arg in enumerate(argv):
            if consumed[index] or not arg.startswith(prefix):
                continue
            consumed[index] = True
            ok, value = parse_value(flag.kind, arg[len(prefix):])
            if ok:
                values[flag.name] = value
                positions[flag.name] = index + 1  # argv[0] is the program
            else:
                errors.append(f"Failed to parse flag '{flag.name}' against argv '{arg}'")
            break
    unconsumed = tuple(arg for index, arg in enumerate(argv) if not consumed[index])
    wants_help = bool(values["help"]) or (bool(unconsumed) and unconsumed[0] == "--help")
    return ParsedFlags(values=values, positions=positions, unconsumed=unconsumed, errors=tuple(errors),
                       wants_help=wants_help)


def _display(kind: str, value: Any) -> str:
    if kind == "bool":
        return "1" if value else "0"
    if kind == "float":
        return cpp_g(value)
    return str(value)


def param_lines(flags: ParsedFlags) -> list[str]:
    """The parameter echo of LogParams: the flags given (all of them with --verbose=true), in the tool's order."""
    verbose = bool(flags.values["verbose"])
    lines = [f"Log parameter values verbosely: [{1 if verbose else 0}]"]
    table = list(_LOGGED_PARAMS)
    if flags.values["use_nnapi"]:
        table += _NNAPI_PARAMS
    table += _XNNPACK_PARAMS
    for name, label, always in table:
        if always or verbose or flags.given(name):
            kind = _FLAG_BY_NAME[name].kind if name in _FLAG_BY_NAME else "string"
            lines.append(f"{label}: [{_display(kind, flags.values[name])}]")
    return lines


def usage_text(program: str) -> str:
    """Flags::Usage: one tab-separated line per flag, the name column padded to the widest."""
    names = [f"--{flag.name}=" + ({True: "true", False: "false"}[flag.default] if flag.kind == "bool"
                                  else _display(flag.kind, flag.default)) for flag in FLAGS]
    width = max(len(name) for name in names)
    rows = [f"\t{name.ljust(width)}\t{flag.kind}\toptional\t{flag.usage}" for name, flag in zip(names, FLAGS)]
    return f"usage: {program} <flags>\nFlags:\n" + "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Statistics, as tsl::Stat / tsl::StatWithPercentiles print them


def cpp_g(value: float) -> str:
    """A double as a C++ ostream prints it by default (six significant digits, %g)."""
    return f"{value:g}"


def stat_avg(samples: Sequence[int]) -> float:
    """Stat::avg(); an empty stat's avg is int64's quiet_NaN(), which is 0."""
    return sum(samples) / len(samples) if samples else 0.0


def stat_std(samples: Sequence[int]) -> int:
    """Stat::std_deviation(): population variance truncated to int64, then its square root truncated."""
    if not samples or min(samples) == max(samples):
        return 0
    squared_sum = 0.0
    for value in samples:
        squared_sum += float(value) * value
    avg = stat_avg(samples)
    variance = int(squared_sum / len(samples) - avg * avg)
    return int(math.sqrt(variance)) if variance > 0 else 0


def stat_percentile(samples: Sequence[int], percent: int) -> int:
    """StatWithPercentiles::percentile(): the nth_element at size*p/100; p=100 takes the last sample as stored."""
    if not samples or not 0 <= percent <= 100:
        return 0
    if percent == 100:
        return samples[-1]
    return sorted(samples)[len(samples) * percent // 100]


def stat_line(samples: Sequence[int], percentiles: bool = True) -> str:
    """The `count=... first=... curr=...` line for `samples` (microseconds, in run order)."""
    if not samples:
        text = "count=0"
    elif min(samples) == max(samples):
        text = f"count={len(samples)} curr={samples[-1]}" + ("(all same)" if len(samples) > 1 else "")
    else:
        text = (f"count={len(samples)} first={samples[0]} curr={samples[-1]} min={min(samples)} "
                f"max={max(samples)} avg={cpp_g(stat_avg(samples))} std={stat_std(samples)}")
    if percentiles:
        text += (f" p5={stat_percentile(samples, 5)} median={stat_percentile(samples, 50)}"
                 f" p95={stat_percentile(samples, 95)}")
    return text


def node_type_summary(plan_types: Sequence[str], samples: Sequence[int]) -> str:
    """The op profiler's "Summary by node type" report for the execution plan, without per-node times.

    Counts and times-called are real; the time columns print nan because nothing measured them, and rows
    come in the profiler's order for equal times (node type, descending). "Timings" holds the per-invoke times.
    """
    def field(text: str, width: int) -> str:
        return "\t" + text.rjust(width)

    counts = Counter(plan_types)
    header = "".join(field(text, width) for text, width in (
        ("[Node type]", 24), ("[count]", 9), ("[avg ms]", 10), ("[avg %]", 11), ("[cdf %]", 11), ("[mem KB]", 10),
        ("[times called]", 10)))
    rows = [field(kind, 24) + field(str(count), 9) + field("nan", 10) + field("nan", 10) + "%" + field("nan", 10)
            + "%" + field("0.000", 10) + field(str(count), 9)
            for kind, count in sorted(counts.items(), reverse=True)]
    nodes = len(plan_types)
    return (f"Number of nodes executed: {nodes}\n"
            "============================== Summary by node type ==============================\n"
            + header + "\n" + "".join(row + "\n" for row in rows) + "\n"
            + f"Timings (microseconds): {stat_line(samples, percentiles=False)}\n"
            + "Memory (bytes): count=0\n"
            + f"{nodes} nodes observed\n\n")


# ---------------------------------------------------------------------------------------------------------------
# Input layers


@dataclass(frozen=True)
class InputLayer:
    """One --input_layer entry with its shape, and optionally an integer value range or a raw value file."""

    name: str
    shape: tuple[int, ...]
    value_range: tuple[int, int] | None = None
    value_file: str | None = None

    def __post_init__(self) -> None:
        if self.value_range is not None and self.value_range[0] > self.value_range[1]:
            raise ValueError(f"value range {self.value_range} has low > high")


class Failure(Exception):
    """The tool's error path: these ERROR lines, then "Benchmarking failed." and exit status 1."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = lines


class Fatal(Exception):
    """A failed TFLITE_TOOLS_CHECK or FATAL log: one FATAL line, then abort()."""


def _split(text: str, delimiter: str) -> list[str]:
    return text.split(delimiter) if text else []


def _split_name_and_file(item: str) -> tuple[str, str]:
    """"name:path" where "::" stands for a ':' inside either part."""
    delimiter = -1
    index = 0
    while index < len(item) - 1:
        if item[index] == ":":
            if item[index + 1] == ":":
                index += 1
            elif delimiter == -1:
                delimiter = index
            else:  # the tool then logs the status code itself, kTfLiteError being 1
                raise Failure(f"{item} contains more than one delimiter.",
                              f"Wrong input value file item specified: {item}", "1")
        index += 1
    if delimiter == -1:
        raise Failure(f"{item} doesn't contain any delimiter.", f"Wrong input value file item specified: {item}", "1")
    return item[:delimiter].replace("::", ":"), item[delimiter + 1:].replace("::", ":")


def parse_input_layers(names_text: str, shapes_text: str, ranges_text: str, files_text: str,
                       on_warning: Any = None) -> tuple[InputLayer, ...]:
    """PopulateInputLayerInfo: the --input_layer* flags as InputLayers; raises Failure or Fatal like the tool."""
    names = _split(names_text, ",")
    shapes = _split(shapes_text, ":")
    if len(names) != len(shapes):
        raise Failure(f"The number of items in --input_layer_shape ({shapes_text}, with {len(shapes)} items) must "
                      f"match the number of items in --input_layer ({names_text}, with {len(names)} items). For "
                      "example --input_layer=input1,input2 --input_layer_shape=1,224,224,4:1,20")
    layers: dict[str, dict[str, Any]] = {}
    for name, shape_text in zip(names, shapes):
        dims = []
        for piece in shape_text.split(","):
            ok, value = parse_value("int32", piece)
            if not ok:
                raise Fatal(f"Incorrect size string specified: {shape_text}")
            dims.append(value)
        if -1 in dims:
            raise Failure("Any unknown sizes in the shapes (-1's) must be replaced with the size you want to "
                          "benchmark with.")
        layers.setdefault(name, {"name": name, "shape": tuple(dims)})

    def find(name: str) -> dict[str, Any]:
        if name not in layers:
            raise Fatal(f"Cannot find the corresponding input_layer name({name}) in --input_layer as {names_text}")
        return layers[name]

    for item in _split(ranges_text, ":"):
        parts = item.split(",")
        if len(parts) != 3:
            raise Failure(f"Wrong input value range item specified: {item}")
        layer = find(parts[0])
        low, high = (parts[1].strip(), parts[2].strip())
        if not (re.fullmatch(r"[+-]?[0-9]+", low) and re.fullmatch(r"[+-]?[0-9]+", high)) or int(low) > int(high):
            raise Failure(f"Wrong low and high value of the input value range specified: {item}")
        layer["value_range"] = (int(low), int(high))
    for item in _split(files_text, ","):
        name, path = _split_name_and_file(item)
        layer = find(name)
        if "value_range" in layer and on_warning is not None:
            on_warning(f"The input_name:{name} appears both in input_layer_value_files and "
                       "input_layer_value_range. The input_layer_value_range of the input_name will be ignored.")
        layer["value_file"] = path
    return tuple(InputLayer(**layers[name]) for name in names if name in layers)


# ---------------------------------------------------------------------------------------------------------------
# What the XNNPACK delegate did to the graph


@dataclass(frozen=True)
class Delegation:
    """How the XNNPACK delegate split subgraph 0: N of M nodes replaced by K delegate kernels."""

    replaced: int
    total: int
    partitions: int
    plan_types: tuple[str, ...]  # node types of the execution plan that runs

    def __post_init__(self) -> None:
        consistent = 0 <= self.replaced <= self.total and (self.partitions == 0) == (self.replaced == 0)
        if not consistent or self.partitions < 0:
            raise ValueError(f"impossible delegation {self.replaced}/{self.total} in {self.partitions} partitions")

    @property
    def fully_delegated(self) -> bool:
        """The tool's test: the execution plan is one delegate kernel."""
        return self.partitions == 1 and len(self.plan_types) == 1


def read_delegation(nodes: Sequence[tuple[str, Sequence[int], Sequence[int]]], model_nodes: int) -> Delegation:
    """Recover the delegate's partitions from the interpreter's nodes (name, inputs, outputs) after allocation.

    Nodes past `model_nodes` are the delegate kernels LiteRT appended. A kernel's inputs and outputs are its
    partition's boundary tensors, so walking producers back from its outputs, stopping at its inputs, visits
    exactly the model nodes it replaced (a replaced node whose outputs nothing reads would be missed).
    """
    model, kernels = nodes[:model_nodes], nodes[model_nodes:]
    producer = {tensor: index for index, (_, _, outputs) in enumerate(model) for tensor in outputs}
    replaced: set[int] = set()
    for _, inputs, outputs in kernels:
        boundary = set(inputs)
        pending = list(outputs)
        while pending:
            node = producer.get(pending.pop())
            if node is None or node in replaced:
                continue
            replaced.add(node)
            pending.extend(tensor for tensor in model[node][1] if tensor >= 0 and tensor not in boundary)
    plan = tuple(name for index, (name, _, _) in enumerate(model) if index not in replaced)
    return Delegation(replaced=len(replaced), total=len(model), partitions=len(kernels),
                      plan_types=plan + (_DELEGATE_NODE_TYPE,) * len(kernels))


def _nodes(binding: Any) -> list[tuple[str, list[int], list[int]]]:
    """(type, input tensors, output tensors) of every node of subgraph 0, delegate kernels included."""
    return [(binding.NodeName(i), [int(t) for t in binding.NodeInputs(i)], [int(t) for t in binding.NodeOutputs(i)])
            for i in range(binding.NumNodes())]


# The Python binding joins the runtime's error reports with no separator; these are where reports begin.
_REPORT_STARTS = re.compile(r"(?=Node number \d)|(?=Restored original execution plan)|(?=The model allocation is)"
                            r"|(?=The model is not a valid)|(?=Registration failed)|(?=Encountered unresolved)")


def runtime_messages(error: BaseException) -> list[str]:
    """The runtime's error reports inside a LiteRT exception, one per line, as the runtime prints them."""
    return [part.strip() for line in str(error).splitlines() for part in _REPORT_STARTS.split(line) if part.strip()]


_LOAD_FAILURES = ("The model allocation is", "The model is not a valid", "Failed to open ")


# ---------------------------------------------------------------------------------------------------------------
# Memory, as the tool measures it


def max_rss_kb() -> int:
    """The peak resident set size so far (KB): what the tool's GetMemoryUsage() reads."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakMemoryMonitor:
    """The --report_peak_memory_footprint thread: samples the footprint every interval until stopped."""

    def __init__(self, interval_ms: int):
        self._interval_s = interval_ms / 1000.0
        self._stop = threading.Event()
        self._peak_kb = 0
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            self._peak_kb = max(self._peak_kb, max_rss_kb())
            if self._stop.is_set():
                return
            self._stop.wait(self._interval_s)

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self._peak_kb / 1024.0


def statm_mb() -> tuple[int, int, int] | None:
    """(rss, anonymous, file+shmem) in whole MB from /proc/self/statm, as the tool's end-of-run status."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    rss, shared = (int(fields[1]) * page) >> 20, (int(fields[2]) * page) >> 20
    return rss, rss - shared, shared


# ---------------------------------------------------------------------------------------------------------------
# Output


def _emit(stream: Any, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def info(text: str) -> None:
    _emit(sys.stdout, "INFO: " + text)


def warn(text: str) -> None:
    _emit(sys.stdout, "WARN: " + text)


def error(text: str) -> None:
    _emit(sys.stderr, "ERROR: " + text)


def runtime_log(severity: str, text: str) -> None:
    """A line the LiteRT runtime itself logs (TFLITE_LOG_PROD): always stderr."""
    _emit(sys.stderr, f"{severity}: {text}")


def _now_us() -> int:
    return time.perf_counter_ns() // 1000


def _secs_to_us(secs: float) -> int:
    """static_cast<int64_t>(secs * 1e6f), saturating where C++ leaves an infinite product undefined."""
    product = _f32(secs * 1e6)
    return int(product) if math.isfinite(product) else int(math.copysign(2**62, product))


# ---------------------------------------------------------------------------------------------------------------
# The benchmark


class Benchmark:
    """One benchmark_model run: init, warm-up, timed runs, report. Raises Failure or Fatal like the tool fails."""

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
        import numpy.random  # noqa: F401  (its extension modules would otherwise land in the memory delta)
        import ai_edge_litert.interpreter  # noqa: F401

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
            assert self.delegation is not None  # set by _init
            info("Operator-wise Profiling Info for Regular Benchmark Runs:\n"
                 + node_type_summary(self.delegation.plan_types, timed) + "\n")
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
        for position, detail in enumerate(self.interpreter.get_input_details()):
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
            for index, data in self.input_data:  # the tool refills the inputs before every run
                self.interpreter.set_tensor(index, data)
            started = _now_us()
            try:
                self.interpreter.invoke()
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
                for detail in self.interpreter.get_output_details():
                    handle.write(self.interpreter.get_tensor(detail["index"]).tobytes())
        except OSError:
            pass  # the tool writes only when it can open the file, and says nothing otherwise


def random_tensor(rng: Any, name: str, dtype: Any, shape: tuple[int, ...],
                  value_range: tuple[int, int] | None) -> Any:
    """utils::CreateRandomTensorData: uniform values from the tool's mt19937 stream, in the tool's ranges.

    Floats use libc++'s mapping (one 32-bit draw per float, two per double) so they follow the tool's stream;
    integers are uniform in the same inclusive range but not drawn bit for bit as libc++ does.
    """
    import numpy as np

    count = int(np.prod(shape))
    kind = dtype.kind
    if dtype == np.float16:
        raise Fatal(f"Populating the tensor {name} of type FLOAT16 is disabled.")
    if dtype == np.bool_:
        return rng.randint(0, 2, size=count).astype(np.bool_).reshape(shape)
    if kind in "fc":
        low, high = value_range if value_range is not None else (-0.5, 0.5)
        if dtype == np.float64:
            draws = rng.randint(0, 2**32, size=(count, 2), dtype=np.uint32).astype(np.float64)
            unit = (draws[:, 0] + draws[:, 1] * 2.0**32) / 2.0**64
            return (unit * (high - low) + low).reshape(shape)
        draws = rng.randint(0, 2**32, size=count * (2 if kind == "c" else 1), dtype=np.uint32)
        unit = draws.astype(np.float32) / np.float32(2.0**32)
        values = unit * np.float32(_f32(high) - _f32(low)) + np.float32(low)
        return (values.view(np.complex64) if kind == "c" else values).reshape(shape)
    if kind in "iu":
        defaults = {np.dtype(np.uint8): (0, 254), np.dtype(np.int8): (-127, 127)}
        low, high = value_range if value_range is not None else defaults.get(
            dtype, (0, 99) if dtype.itemsize >= 4 else (0, 0))
        return rng.randint(low, high + 1, size=count).astype(dtype).reshape(shape)
    raise Fatal(f"Don't know how to populate tensor {name} of type {dtype}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run benchmark_model's contract on `argv` (default: the command line); the process exit status."""
    # A killed benchmark_model dies at once; Python would otherwise wait for invoke() to return.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = list(sys.argv[1:] if argv is None else argv)
    info("STARTING!")
    try:
        flags = parse_flags(args)
        for line in flags.errors:
            error(line)
        if flags.errors or flags.wants_help:
            raise Failure(usage_text(sys.argv[0] if sys.argv and sys.argv[0] else "benchmark_model"))
        if flags.unconsumed:
            warn("Unconsumed cmdline flags: " + " ".join(flags.unconsumed))
        Benchmark(flags).run()
    except Failure as failure:
        for line in failure.lines:
            error(line)
        error("Benchmarking failed.")
        return 1
    except Fatal as fatal:
        _emit(sys.stderr, f"FATAL: {fatal}")
        os.abort()
    return 0


if __name__ == "__main__":
    sys.exit(main())
