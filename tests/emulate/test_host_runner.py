"""The host runner behaves like benchmark_model: its flags, lines, streams, exit codes, delegate fallbacks,
input resizing and output dump, on tiny hand-built models (8x8 packed Bayer in, 16x16 RGB out)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from mai_bench.emulate.runner.delegation import read_delegation
from mai_bench.emulate.runner.errors import Failure, Fatal
from mai_bench.emulate.runner.flags import _f32, param_lines, parse_flags, parse_value
from mai_bench.emulate.runner.gpu import GPU_ABSENT_ENV
from mai_bench.emulate.runner.inputs import InputLayer, parse_input_layers, random_tensor
from mai_bench.emulate.runner.stats import cpp_g, stat_line
from mai_bench.parse import parse_log

RUNNER = [sys.executable, "-m", "mai_bench.emulate.host_runner"]
QUICK = ["--num_runs=3", "--min_secs=0", "--warmup_runs=1", "--warmup_min_secs=0"]

STAT = re.compile(r"INFO: count=(?P<count>\d+)(?: first=(?P<first>\d+) curr=(?P<curr>\d+) min=(?P<min>\d+) "
                  r"max=(?P<max>\d+) avg=(?P<avg>[0-9.e+]+) std=(?P<std>\d+)| curr=(?P<only>\d+)(?:\(all same\))?) "
                  r"p5=(?P<p5>\d+) median=(?P<median>\d+) p95=(?P<p95>\d+)")
PHASE = re.compile(r"INFO: Running benchmark for at least (\d+) iterations and at least ([0-9.]+) seconds but "
                   r"terminate if exceeding ([0-9.]+) seconds\.")
SUMMARY = re.compile(r"INFO: Inference timings in us: Init: (\d+), First inference: (\d+), Warmup \(avg\): "
                     r"([0-9.e+]+), Inference \(avg\): ([0-9.e+]+)")
MEMORY = re.compile(r"INFO: Memory footprint delta from the start of the tool \(MB\): init=([0-9.e+-]+) "
                    r"overall=([0-9.e+-]+)")
REPLACING = re.compile(r"VERBOSE: Replacing (\d+) out of (\d+) node\(s\) with delegate \(TfLiteXNNPackDelegate\) "
                       r"node, yielding (\d+) partitions for subgraph 0\.")


# -- tiny models -------------------------------------------------------------------------------------------------


def tiny_isp(h: int = 8, w: int = 8, cast_output: bool = False) -> bytes:
    """[1,h,w,4] -> CONV_2D 3x3 4->12 -> DEPTH_TO_SPACE 2 -> [1,2h,2w,3], optionally then a CAST to int32,
    an op LiteRT's XNNPACK does not take (so the delegate takes 2 of 3 nodes)."""
    tensors: list[schema.TensorT] = []
    buffers = [schema.BufferT()]

    def tensor(shape, name, data=None, dtype=schema.TensorType.FLOAT32) -> int:
        t = schema.TensorT()
        t.shape, t.name, t.type, t.buffer = list(shape), name, dtype, 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(data.astype(np.float32).tobytes(), dtype=np.uint8)
            buffers.append(buffer)
            t.buffer = len(buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    weights = np.random.default_rng(0).standard_normal((12, 3, 3, 4)) * 0.1
    x = tensor([1, h, w, 4], "input")
    kernel, bias = tensor(weights.shape, "w", weights), tensor([12], "b", np.zeros(12))
    features, rgb = tensor([1, h, w, 12], "features"), tensor([1, 2 * h, 2 * w, 3], "output")
    codes, ops = [], []

    def op(code, inputs, outputs, options_type=0, options=None):
        opcode = schema.OperatorCodeT()
        opcode.builtinCode, opcode.deprecatedBuiltinCode, opcode.version = code, code, 1
        codes.append(opcode)
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = len(codes) - 1, inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        ops.append(o)

    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW = schema.Padding.SAME, 1, 1
    conv.dilationHFactor = conv.dilationWFactor = 1
    op(schema.BuiltinOperator.CONV_2D, [x, kernel, bias], [features], schema.BuiltinOptions.Conv2DOptions, conv)
    d2s = schema.DepthToSpaceOptionsT()
    d2s.blockSize = 2
    op(schema.BuiltinOperator.DEPTH_TO_SPACE, [features], [rgb], schema.BuiltinOptions.DepthToSpaceOptions, d2s)
    out = rgb
    if cast_output:
        out = tensor([1, 2 * h, 2 * w, 3], "cast", dtype=schema.TensorType.INT32)
        op(schema.BuiltinOperator.CAST, [rgb], [out])
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.inputs, subgraph.outputs, subgraph.operators = tensors, [x], [out], ops
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [subgraph], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runner-models")
    paths = {"isp": folder / "tiny_isp.tflite", "cast": folder / "tiny_isp_cast.tflite",
             "garbage": folder / "garbage.tflite"}
    paths["isp"].write_bytes(tiny_isp())
    paths["cast"].write_bytes(tiny_isp(cast_output=True))
    paths["garbage"].write_bytes(b"not a flatbuffer, just bytes" * 4)
    return paths


# -- running it ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: list[str]
    err: list[str]

    def stats(self) -> list[re.Match]:
        return [m for m in map(STAT.fullmatch, self.out) if m]


def run(*args: str, env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run(RUNNER + list(args), capture_output=True, text=True, timeout=120, env=env)
    return Run(proc.returncode, proc.stdout.splitlines(), proc.stderr.splitlines())


# What a loopback device whose spec says `gpu: false` gives the runner: a phone without a GPU delegate. (With a
# GPU, --use_gpu=true runs LiteRT's real GPU accelerator: tests/gpu.)
NO_GPU = {**os.environ, GPU_ABSENT_ENV: "1"}


def combined(*args: str) -> tuple[int, str]:
    """stdout and stderr interleaved in one pipe, as a harness captures them."""
    proc = subprocess.run(RUNNER + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    return proc.returncode, proc.stdout


# -- a plain run ---------------------------------------------------------------------------------------------------


def test_a_plain_run_prints_the_tools_lines_on_the_tools_streams(models):
    r = run(f"--graph={models['isp']}", "--num_threads=2", *QUICK)
    assert r.code == 0
    assert r.out[0] == "INFO: STARTING!"
    assert all(line == "" or line.startswith(("INFO: ", "WARN: ")) for line in r.out)
    for line in ("INFO: Log parameter values verbosely: [0]", "INFO: Num threads: [2]", "INFO: Min num runs: [3]",
                 f"INFO: Graph: [{models['isp']}]", "INFO: Signature to run: []",
                 "INFO: #threads used for CPU inference: [2]", f"INFO: Loaded model {models['isp']}",
                 "INFO: The input model file size (MB): " + cpp_g(models["isp"].stat().st_size / 1e6)):
        assert line in r.out
    # The runtime's own lines go to stderr, as LiteRT logs them.
    assert r.err[:2] == ["INFO: Initialized TensorFlow Lite runtime.",
                         "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."]
    assert [m.groups() for m in map(REPLACING.fullmatch, r.err) if m] == [("2", "2", "1")]
    assert not any(line.startswith("ERROR") for line in r.err)
    phases = [m.groups() for m in map(PHASE.fullmatch, r.out) if m]
    assert phases == [("1", "0", "150"), ("3", "0", "150")]
    warmup, timed = r.stats()
    assert int(warmup["count"]) == 1 and int(timed["count"]) == 3
    for stat in (warmup, timed):  # each stat line is followed by an empty line, as the tool's endl makes
        assert r.out[r.out.index(stat.group(0)) + 1] == ""
    init, first, warm_avg, avg = SUMMARY.fullmatch(next(line for line in r.out if SUMMARY.fullmatch(line))).groups()
    assert int(init) > 0 and int(first) == int(warmup["only"]) and float(warm_avg) == float(first)
    if timed["avg"] is not None:
        assert int(timed["min"]) <= float(avg) <= int(timed["max"]) and float(avg) == float(timed["avg"])
        assert int(timed["min"]) <= int(timed["p5"]) <= int(timed["median"]) <= int(timed["p95"]) <= int(timed["max"])
    session = next(line for line in r.out if line.startswith("INFO: Initialized session in "))
    assert re.fullmatch(r"INFO: Initialized session in [0-9.]+ms\.", session)
    assert any(MEMORY.fullmatch(line) for line in r.out)


def test_the_real_parser_reads_the_runners_output(models):
    code, text = combined(f"--graph={models['cast']}", "--use_xnnpack=true", "--report_peak_memory_footprint=true",
                          *QUICK)
    assert code == 0
    parsed = parse_log(text)
    assert parsed.status == "ok"
    assert parsed.count == 3 and parsed.warmup_count == 1
    assert (parsed.nodes_delegated, parsed.nodes_total) == (2, 3)
    assert parsed.fallback_verdict == "partial" and parsed.delegate_kernels == 1
    assert parsed.peak_mb is not None and parsed.peak_mb > 0


def test_runs_follow_num_runs_min_secs_and_max_secs(models):
    counted = run(f"--graph={models['isp']}", "--num_runs=2", "--min_secs=0.3", "--warmup_runs=4",
                  "--warmup_min_secs=0")
    warmup, timed = counted.stats()
    assert int(warmup["count"]) == 4  # warm-up: exactly warmup_runs when warmup_min_secs is 0
    assert int(timed["count"]) > 2  # min_secs keeps a microsecond model running well past num_runs
    capped = run(f"--graph={models['isp']}", "--num_runs=100000000", "--min_secs=0", "--max_secs=0.2",
                 "--warmup_min_secs=0")
    assert capped.code == 0
    assert 0 < int(capped.stats()[1]["count"]) < 100000000
    assert PHASE.fullmatch(capped.out[capped.out.index(capped.stats()[1].group(0)) - 1]).group(3) == "0.2"


# -- delegates the host does not have --------------------------------------------------------------------------


def test_gpu_cannot_be_created_and_the_run_goes_on_on_the_cpu(models):
    r = run(f"--graph={models['isp']}", "--use_gpu=true", "--gpu_backend=cl", *QUICK, env=NO_GPU)
    assert r.code == 0
    assert "INFO: Use gpu: [1]" in r.out and "INFO: GPU backend: [cl]" in r.out
    assert "WARN: GPU acceleration is unsupported on this platform." in r.out
    assert not any("GPU delegate" in line for line in r.out + r.err)
    assert any(REPLACING.fullmatch(line) for line in r.err)  # LiteRT's default XNNPACK ran it instead
    assert int(r.stats()[1]["count"]) == 3


def test_require_full_delegation_turns_the_fallback_into_a_failure(models):
    r = run(f"--graph={models['isp']}", "--use_gpu=true", "--require_full_delegation=true", *QUICK, env=NO_GPU)
    assert r.code == 1
    assert r.err[-2:] == ["ERROR: Disallowed CPU fallback detected.", "ERROR: Benchmarking failed."]
    assert not r.stats()


def test_nnapi_without_an_accelerator_takes_no_node(models):
    r = run(f"--graph={models['isp']}", "--use_nnapi=true", *QUICK)
    assert r.code == 0
    assert "INFO: NNAPI delegate created." in r.out
    assert ("INFO: Though NNAPI delegate is explicitly applied, the model graph will not be executed by the "
            "delegate.") in r.out
    assert "INFO: Created TensorFlow Lite delegate for NNAPI." in r.err
    # An explicitly applied delegate drops LiteRT's default XNNPACK: plain CPU kernels run the graph.
    assert not any("XNNPACK" in line or REPLACING.fullmatch(line) for line in r.err)
    assert int(r.stats()[1]["count"]) == 3


def test_naming_an_nnapi_accelerator_the_device_lacks_fails(models):
    r = run(f"--graph={models['isp']}", "--use_nnapi=true", "--nnapi_accelerator_name=qti-dsp", *QUICK)
    assert r.code == 1
    assert r.err[-4:] == ["ERROR: Could not find the specified NNAPI accelerator: qti-dsp. Must be one of: {}.",
                          "ERROR: Restored original execution plan after delegate application failure.",
                          "ERROR: Failed to apply NNAPI delegate.", "ERROR: Benchmarking failed."]


def test_hexagon_cannot_be_created_and_the_run_goes_on(models):
    r = run(f"--graph={models['isp']}", "--use_hexagon=true", *QUICK)
    assert r.code == 0
    assert ("WARN: Could not create Hexagon delegate: platform may not support delegate or required libraries are "
            "missing") in r.out
    assert int(r.stats()[1]["count"]) == 3


def test_explicit_xnnpack_reports_full_and_partial_delegation(models):
    full = run(f"--graph={models['isp']}", "--use_xnnpack=true", *QUICK)
    assert "INFO: XNNPACK delegate created." in full.out
    assert ("INFO: Explicitly applied XNNPACK delegate, and the model graph will be completely executed by the "
            "delegate.") in full.out
    partial = run(f"--graph={models['cast']}", "--use_xnnpack=true", *QUICK)
    assert [m.groups() for m in map(REPLACING.fullmatch, partial.err) if m] == [("2", "3", "1")]
    assert ("INFO: Explicitly applied XNNPACK delegate, and the model graph will be partially executed by the "
            "delegate w/ 1 delegate kernels.") in partial.out
    strict = run(f"--graph={models['cast']}", "--use_xnnpack=true", "--require_full_delegation=true", *QUICK)
    assert strict.code == 1 and strict.err[-2:] == ["ERROR: Disallowed CPU fallback detected.",
                                                    "ERROR: Benchmarking failed."]


def test_use_xnnpack_false_runs_the_plain_cpu_kernels(models):
    r = run(f"--graph={models['isp']}", "--use_xnnpack=false", *QUICK)
    assert r.code == 0 and "INFO: Use xnnpack: [0]" in r.out
    assert r.err == ["INFO: Initialized TensorFlow Lite runtime."]


# -- bad input -----------------------------------------------------------------------------------------------------


def test_a_missing_or_broken_model_fails_with_the_runtimes_words(models, tmp_path):
    missing = tmp_path / "nowhere.tflite"
    r = run(f"--graph={missing}", *QUICK)
    assert r.code == 1
    assert r.err == [f"ERROR: Could not open '{missing}'.", "ERROR: The model allocation is null/empty",
                     f"ERROR: Failed to load model {missing}", "ERROR: Benchmarking failed."]
    r = run(f"--graph={models['garbage']}", *QUICK)
    assert r.code == 1
    assert r.err == ["ERROR: The model is not a valid Flatbuffer buffer",
                     f"ERROR: Failed to load model {models['garbage']}", "ERROR: Benchmarking failed."]
    assert not any(line.startswith("INFO: Loaded model") for line in r.out)


def test_flag_errors_usage_and_unconsumed_flags(models):
    r = run(*QUICK)
    assert r.code == 1 and r.err == ["ERROR: Please specify the name of your TF Lite input file with --graph",
                                     "ERROR: Benchmarking failed."]
    r = run(f"--graph={models['isp']}", "--num_runs=lots")
    assert r.code == 1
    assert r.err[0] == "ERROR: Failed to parse flag 'num_runs' against argv '--num_runs=lots'"
    assert r.err[1].startswith("ERROR: usage: ") and "\t--num_runs=50" in "\n".join(r.err)
    assert r.err[-1] == "ERROR: Benchmarking failed." and not r.stats()
    r = run("--help")
    assert r.code == 1 and any(line.startswith("\t--graph=") for line in r.err)
    # The tool takes only --name=value: the rest is reported and ignored, and the run goes on.
    r = run(f"--graph={models['isp']}", "--num_threads", "2", "--no_such_flag=1", *QUICK)
    assert r.code == 0
    assert "WARN: Unconsumed cmdline flags: --num_threads 2 --no_such_flag=1" in r.out
    assert not any(line.startswith("INFO: Num threads") for line in r.out)


# -- inputs and outputs --------------------------------------------------------------------------------------------


def test_input_resize_and_output_dump_match_litert(models, tmp_path):
    raw = np.random.default_rng(1).uniform(0, 1, (1, 16, 16, 4)).astype(np.float32)
    (tmp_path / "raw.bin").write_bytes(raw.tobytes())
    dump = tmp_path / "out.bin"
    r = run(f"--graph={models['isp']}", "--input_layer=input", "--input_layer_shape=1,16,16,4",
            f"--input_layer_value_files=input:{tmp_path / 'raw.bin'}", f"--output_filepath={dump}", *QUICK)
    assert r.code == 0 and "INFO: Input shapes: [1,16,16,4]" in r.out
    interpreter = Interpreter(model_path=str(models["isp"]))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [1, 16, 16, 4])
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, raw)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert dump.stat().st_size == 1 * 32 * 32 * 3 * 4
    np.testing.assert_allclose(np.frombuffer(dump.read_bytes(), np.float32).reshape(expected.shape), expected,
                               rtol=1e-5, atol=1e-6)


def test_random_input_dump_has_the_model_output_size(models, tmp_path):
    dump = tmp_path / "out.bin"
    assert run(f"--graph={models['isp']}", f"--output_filepath={dump}", *QUICK).code == 0
    assert dump.stat().st_size == 1 * 16 * 16 * 3 * 4


def test_a_shape_that_cannot_be_applied_fails(models):
    r = run(f"--graph={models['isp']}", "--input_layer=input", "--input_layer_shape=1,16,16,5", *QUICK)
    assert r.code == 1
    assert r.err[-2:] == ["ERROR: Failed to allocate tensors!", "ERROR: Benchmarking failed."]
    assert len(r.err) > 3  # LiteRT's own reason comes first


def test_a_shape_without_a_layer_name_is_refused_as_the_tool_refuses_it(models):
    r = run(f"--graph={models['isp']}", "--input_layer_shape=1,16,16,4", *QUICK)
    assert r.code == 1
    assert r.err[0].startswith("ERROR: The number of items in --input_layer_shape (1,16,16,4, with 1 items) must "
                               "match the number of items in --input_layer (, with 0 items).")


def test_a_value_file_of_the_wrong_size_aborts(models, tmp_path):
    (tmp_path / "short.bin").write_bytes(b"\0" * 10)
    r = run(f"--graph={models['isp']}", "--input_layer=input", "--input_layer_shape=1,8,8,4",
            f"--input_layer_value_files=input:{tmp_path / 'short.bin'}", *QUICK)
    assert r.code == -signal.SIGABRT
    assert r.err[-1] == f"FATAL: The size of {tmp_path / 'short.bin'} is 10 bytes. It should be 1024 bytes."


# -- profiling, memory, signals --------------------------------------------------------------------------------------


def test_op_profiling_lists_the_execution_plan_without_made_up_times(models):
    r = run(f"--graph={models['isp']}", "--use_xnnpack=false", "--enable_op_profiling=true", *QUICK)
    assert r.code == 0
    start = r.out.index("INFO: Operator-wise Profiling Info for Regular Benchmark Runs:")
    assert r.out[start + 1:start + 7] == [
        "Number of nodes executed: 2",
        "============================== Summary by node type ==============================",
        "\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]",
        "\t          DEPTH_TO_SPACE\t        1\t       nan\t       nan%\t       nan%\t     0.000\t        1",
        "\t                 CONV_2D\t        1\t       nan\t       nan%\t       nan%\t     0.000\t        1",
        ""]
    assert r.out[start + 7].startswith("Timings (microseconds): count=3 ")
    assert r.out[start + 8:start + 10] == ["Memory (bytes): count=0", "2 nodes observed"]


def test_peak_memory_is_reported_when_asked(models):
    r = run(f"--graph={models['isp']}", "--report_peak_memory_footprint=true",
            "--memory_footprint_check_interval_ms=5", *QUICK)
    peak = [line for line in r.out if line.startswith("INFO: Overall peak memory footprint (MB) via periodic")]
    assert len(peak) == 1 and float(peak[0].rsplit(": ", 1)[1]) > 0
    assert "INFO: Memory status at the end of exeution:" in r.out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_runner_dies_at_once_on_sigterm_and_sigint(models, signum):
    proc = subprocess.Popen(RUNNER + [f"--graph={models['isp']}", "--num_runs=1000000000", "--min_secs=100",
                                      "--max_secs=100", "--warmup_min_secs=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        phases = 0
        for line in proc.stdout:
            phases += line.startswith("INFO: Running benchmark")
            if phases == 2:
                break
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == -signum
    finally:
        proc.kill()
        proc.wait()


# -- the pure pieces -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("samples", "line"), [
    ([1, 2, 3, 4], "count=4 first=1 curr=4 min=1 max=4 avg=2.5 std=1 p5=1 median=3 p95=4"),
    ([670083], "count=1 curr=670083 p5=670083 median=670083 p95=670083"),
    ([5, 5, 5], "count=3 curr=5(all same) p5=5 median=5 p95=5"),
    ([], "count=0 p5=0 median=0 p95=0"),
    ([3, 2, 3], "count=3 first=3 curr=3 min=2 max=3 avg=2.66667 std=0 p5=2 median=3 p95=3"),
    ([1240000, 1238588, 1252566, 1241000], "count=4 first=1240000 curr=1241000 min=1238588 max=1252566 "
                                           "avg=1.24304e+06 std=5567 p5=1238588 median=1241000 p95=1252566"),
])
def test_stat_lines_follow_tsl_stat(samples, line):
    assert stat_line(samples) == line


def test_stat_line_without_percentiles_is_the_profilers_timings_line():
    assert stat_line([2, 9, 4], percentiles=False) == "count=3 first=2 curr=4 min=2 max=9 avg=5 std=2"


@pytest.mark.parametrize(("kind", "text", "parsed"), [
    ("int32", "5", (True, 5)), ("int32", "5x", (True, 5)), ("int32", "", (True, 0)), ("int32", "x5", (False, None)),
    ("int32", "99999999999", (True, 2**31 - 1)), ("float", "0.5", (True, 0.5)),
    ("float", "1e-3x", (True, _f32(1e-3))), ("float", "fast", (False, None)), ("bool", "1", (True, True)),
    ("bool", "false", (True, False)), ("bool", "yes", (False, None)), ("string", "", (True, "")),
])
def test_flag_values_parse_like_the_tools_istreams(kind, text, parsed):
    assert parse_value(kind, text) == parsed


def test_flags_take_the_first_matching_argument_only():
    flags = parse_flags(["--num_runs=4", "--graph=m.tflite", "--num_runs=9", "--use_gpu=true", "-use_gpu=true"])
    assert flags.values["num_runs"] == 4 and flags.values["graph"] == "m.tflite"
    assert flags.unconsumed == ("--num_runs=9", "-use_gpu=true")
    assert flags.positions["use_gpu"] == 4 and not flags.given("use_nnapi")
    assert param_lines(flags) == ["Log parameter values verbosely: [0]", "Min num runs: [4]", "Graph: [m.tflite]",
                                  "Signature to run: []", "Use gpu: [1]"]


def test_delegation_is_read_back_from_the_delegate_kernels_boundaries():
    # conv(0,1,2)->3, d2s(3)->4, cast(4)->5, then one delegate kernel with the partition's boundary tensors.
    nodes = [("CONV_2D", [0, 1, 2], [3]), ("DEPTH_TO_SPACE", [3], [4]), ("CAST", [4], [5]),
             ("DELEGATE", [0, 1, 2], [4])]
    d = read_delegation(nodes, model_nodes=3)
    assert (d.replaced, d.total, d.partitions) == (2, 3, 1)
    assert d.plan_types == ("CAST", "TfLiteXNNPackDelegate") and not d.fully_delegated
    none = read_delegation(nodes[:3], model_nodes=3)
    assert (none.replaced, none.partitions, none.plan_types) == (0, 0, ("CONV_2D", "DEPTH_TO_SPACE", "CAST"))


def test_input_layer_flags_are_checked_like_the_tool():
    layers = parse_input_layers("raw", "1,544,960,4", "raw,0,255", "raw:/tmp/raw.bin")
    assert layers == (InputLayer("raw", (1, 544, 960, 4), (0, 255), "/tmp/raw.bin"),)
    with pytest.raises(Failure, match="Any unknown sizes"):
        parse_input_layers("raw", "1,-1,-1,4", "", "")
    with pytest.raises(Failure, match="Wrong low and high value"):
        parse_input_layers("raw", "1,2", "raw,5,1", "")
    with pytest.raises(Fatal, match=r"Cannot find the corresponding input_layer name\(rgb\)"):
        parse_input_layers("raw", "1,2", "rgb,0,1", "")
    with pytest.raises(Failure, match="doesn't contain any delimiter"):
        parse_input_layers("raw", "1,2", "", "raw.bin")


def test_random_floats_follow_the_tools_mt19937_stream():
    values = random_tensor(np.random.RandomState(5489), "raw", np.dtype(np.float32), (3,), None)
    # std::mt19937's first outputs are 3499211612, 581869302, 3890346734.
    expected = [np.float32(np.float32(d) / np.float32(2**32)) - np.float32(0.5)
                for d in (3499211612, 581869302, 3890346734)]
    assert values.tolist() == pytest.approx(expected, abs=0)
    assert values.min() >= -0.5 and values.max() < 0.5
