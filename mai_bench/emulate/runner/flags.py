"""benchmark_model's flags: declaration, parsing as tflite::Flags does, the parameter echo and the usage text."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mai_bench.emulate.runner.stats import cpp_g

_MEMORY_CHECK_INTERVAL_MS = 50
_INT32 = (-(2**31), 2**31 - 1)


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
