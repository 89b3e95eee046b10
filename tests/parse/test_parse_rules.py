"""Parser rules on small synthetic logs built from the wordings in the benchmark_model reference, for the
cases no captured log shows (older/newer wordings, failures, crashes, two delegates, damaged prefixes)."""

from __future__ import annotations

import pytest

from mai_bench.parse import REPORT_KEYS, ParsedRun, parse_log

TERMINATE = "but terminate if exceeding 150 seconds."
H1 = f"INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds {TERMINATE}"
H2 = f"INFO: Running benchmark for at least 50 iterations and at least 1 seconds {TERMINATE}"
NOTE = ("INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to "
        "the actual memory footprint of the model at runtime. Take the information at your discretion.")
MEMORY = "INFO: Memory footprint delta from the start of the tool (MB): init=6.36328 overall=109.832"
NEWEST = [
    "INFO: STARTING!",
    "INFO: Initialized session in 5.579ms.",
    H1,
    "INFO: count=1 curr=1357602",
    H2,
    "INFO: count=50 first=1249964 curr=1240143 min=1238588 max=1252566 avg=1.24027e+06 std=2565 "
    "p5=1238753 median=1239807 p95=1247415",
    "INFO: Inference timings in us: Init: 5579, First inference: 1357602, Warmup (avg): 1.3576e+06, "
    "Inference (avg): 1.24027e+06",
    NOTE,
    MEMORY,
]


def log(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_newest_summary_and_percentiles():
    run = parse_log(log(*NEWEST))
    assert run.status == "ok"
    assert (run.init_us, run.first_us, run.warmup_avg_us, run.inference_avg_us) == (5579, 1357602, 1357600, 1240270)
    assert (run.count, run.min_us, run.max_us, run.std_us) == (50, 1238588, 1252566, 2565)
    assert (run.p5_us, run.median_us, run.p95_us) == (1238753, 1239807, 1247415)
    assert (run.memory_init_mb, run.memory_overall_mb, run.warmup_count) == (6.36328, 109.832, 1)


def test_old_summary_orders_warmup_first():
    run = parse_log(log("count=4 first=83240 curr=83230 min=83230 max=83240 avg=83235 std=4",
                        "count=10 first=79000 curr=79500 min=79000 max=80500 avg=79760.9 std=400",
                        "Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9"))
    assert run.status == "ok"
    assert (run.init_us, run.warmup_avg_us, run.inference_avg_us, run.count) == (38467, 83235, 79760.9, 10)
    # No headers: the stat line matching the summary is the timed one, the one before it the warm-up.
    assert (run.warmup_count, run.first_us) == (4, 83240)


def test_timed_stat_line_is_the_one_after_the_second_header_even_with_a_smaller_count():
    run = parse_log(log("STARTING!", H1, "count=56 first=11147 curr=8146 min=7055 max=12036 avg=8779.68 std=1115",
                        H2, "count=50 first=8325 curr=10016 min=7863 max=10688 avg=8680.33 std=591"))
    assert run.status == "truncated"  # no summary
    assert (run.count, run.inference_avg_us, run.warmup_count, run.warmup_avg_us) == (50, 8680.33, 56, 8779.68)


def test_log_cut_during_the_timed_phase_keeps_the_warmup_only():
    run = parse_log(log("STARTING!", H1, "count=3 first=300 curr=100 min=100 max=300 avg=166.667 std=94", H2))
    assert run.status == "truncated"
    assert (run.count, run.inference_avg_us, run.warmup_avg_us, run.first_us) == (None, None, 166.667, 300)


def test_all_same_stat_line():
    run = parse_log(log(H1, "count=1 curr=700", H2, "count=5 curr=600(all same)",
                        "Inference timings in us: Init: 10, First inference: 700, Warmup (avg): 700, "
                        "Inference (avg): 600"))
    assert (run.count, run.min_us, run.max_us, run.std_us, run.median_us) == (5, 600, 600, 0.0, 600)


def test_single_run_has_no_spread():
    run = parse_log(log(H1, "count=1 curr=700", H2, "count=1 curr=650"))
    assert (run.count, run.inference_avg_us, run.min_us, run.std_us) == (1, 650, 650, None)


PROFILE_STATS = "count=50 first=164033 curr=158560 min=146535 max=166638 avg=158715 std=2931"


@pytest.mark.parametrize("lines", [
    # The timed stat line is lost; the profiler's own stat line that follows is known by its section ...
    ("Operator-wise Profiling Info for Regular Benchmark Runs:", "ngs (microseconds): " + PROFILE_STATS),
    # ... or by its wording when the section header is lost too.
    ("Timings (microseconds): " + PROFILE_STATS, "Memory (bytes): count=0"),
])
def test_op_profile_timings_line_is_never_the_run(lines):
    run = parse_log(log(H1, "count=1 curr=700", H2, *lines))
    assert run.status == "truncated"
    assert (run.count, run.inference_avg_us, run.warmup_avg_us) == (None, None, 700)


def test_litert_block_in_milliseconds():
    run = parse_log(log("========== BENCHMARK RESULTS ==========",
                        "INFO: [benchmark_litert_model.h:94] Model initialization: 1.50 ms",
                        "INFO: [benchmark_litert_model.h:96] Warmup (first):       3.25 ms",
                        "INFO: [benchmark_litert_model.h:98] Warmup (avg):         3.10 ms (5 runs)",
                        "INFO: [benchmark_litert_model.h:100] Inference (avg):      2.05 ms (50 runs)",
                        "INFO: [benchmark_litert_model.h:108] Inference (std):      0.01",
                        "Memory Usage:",
                        "INFO: [benchmark_litert_model.h:130] Peak memory:          93.24 MB",
                        "INFO: [benchmark_litert_model.h:137] ======================================"))
    assert run.status == "ok"  # closed by the "=====" rule
    assert (run.init_us, run.first_us, run.warmup_avg_us, run.inference_avg_us, run.std_us) == (
        1500, 3250, 3100, 2050, 10)
    assert (run.count, run.warmup_count, run.peak_mb) == (50, 5, 93.24)
    assert run.units_note is not None


def test_litert_block_without_runs_has_no_average():
    run = parse_log(log("========== BENCHMARK RESULTS ==========",
                        "INFO: [benchmark_litert_model.h:94] Model initialization: 1.50 ms",
                        "INFO: [benchmark_litert_model.h:100] Inference (avg):      0.00 ms (0 runs)",
                        "INFO: [benchmark_litert_model.h:110] No inference runs were performed.",
                        "INFO: [benchmark_litert_model.h:137] ======================================"))
    assert (run.status, run.inference_avg_us, run.count) == ("failed", None, None)
    assert run.failure_reasons == ("No inference runs were performed.",)


@pytest.mark.parametrize("cut", [NOTE, None])
def test_summary_cut_before_its_memory_line_is_truncated(cut):
    lines = NEWEST[:NEWEST.index(NOTE)] + ([cut] if cut else [])
    run = parse_log(log(*lines))
    # The tool prints the memory line right after the note: stopping at the note means the log was cut;
    # with no note at all the build simply does not measure memory.
    assert run.status == ("truncated" if cut else "ok")
    assert run.inference_avg_us == 1240270


def test_replacing_without_total_and_gpu_unsupported_ops():
    run = parse_log(log(
        "INFO: Created TensorFlow Lite delegate for GPU.",
        "ERROR: Following operations are not supported by GPU delegate:",
        "CUSTOM TFLite_Detection_PostProcess: TFLite_Detection_PostProcess",
        "TOPK_V2: Operation is not supported.",
        "63 operations will run on the GPU, and the remaining 1 operations will run on the CPU.",
        "INFO: Replacing 3 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions.",
        *NEWEST[2:]))
    assert run.status == "ok"
    assert run.unsupported_ops == ("CUSTOM TFLite_Detection_PostProcess", "TOPK_V2")
    assert (run.nodes_delegated, run.nodes_total, run.delegate_names) == (3, None, ("TfLiteGpuDelegateV2",))
    assert run.delegate_failed is False  # unsupported ops mean CPU fallback, not a failed delegate
    assert run.failure_reasons == ()


def test_gpu_takes_everything_nnapi_nothing():
    run = parse_log(log(
        "VERBOSE: Replacing 49 out of 49 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions "
        "for subgraph 0.",
        "INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.",
        "INFO: Though NNAPI delegate is explicitly applied, the model graph will not be executed by the delegate.",
        *NEWEST[2:]))
    assert run.status == "ok"
    assert (run.nodes_delegated, run.nodes_total, run.fallback_verdict) == (49, 49, "full")
    assert run.delegate_names == ("TfLiteGpuDelegateV2",)
    assert run.delegate_failed is True
    assert run.failure_reasons == (
        "Though NNAPI delegate is explicitly applied, the model graph will not be executed by the delegate.",)


def test_second_delegate_on_a_subgraph_does_not_change_the_counts():
    run = parse_log(log(
        "Replacing 60 out of 64 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for "
        "subgraph 0.",
        "Replacing 4 out of 6 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for "
        "subgraph 0."))
    # The second delegate saw the graph the first left (2 GPU nodes + 4 CPU nodes), not the original one.
    assert (run.nodes_delegated, run.nodes_total) == (60, 64)
    assert run.delegate_names == ("TfLiteGpuDelegateV2", "TfLiteXNNPackDelegate")
    assert [a.nodes_total for a in run.delegates_applied] == [64, 6]


def test_names_from_verdict_lines_leave_out_unused_delegates():
    run = parse_log(log(
        "INFO: Explicitly applied XNNPACK delegate, and the model graph will be completely executed by the delegate.",
        "INFO: Though NNAPI delegate is explicitly applied, the model graph will not be executed by the delegate."))
    assert (run.delegate_names, run.fallback_verdict) == (("XNNPACK",), "full")


def test_counts_sum_over_subgraphs():
    run = parse_log(log(
        "Replacing 10 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 2 partitions for "
        "subgraph 0.",
        "Replacing 3 out of 3 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for "
        "subgraph 1."))
    assert (run.nodes_delegated, run.nodes_total, run.fallback_verdict) == (13, 15, "partial")


def test_hexagon_unavailable_run_continues_on_cpu():
    run = parse_log(log("STARTING!", "Use Hexagon: [1]",
                        "Could not create Hexagon delegate: platform may not support delegate or required libraries "
                        "are missing", *NEWEST[1:]))
    assert (run.status, run.delegate_failed, run.fallback_verdict) == ("ok", True, "none")
    assert run.inference_avg_us == 1240270


def test_disallowed_cpu_fallback_fails():
    run = parse_log(log("STARTING!",
                        "INFO: Explicitly applied GPU delegate, and the model graph will be partially executed by the "
                        "delegate w/ 11 delegate kernels.",
                        "ERROR: Disallowed CPU fallback detected.",
                        "ERROR: Benchmarking failed."))
    assert (run.status, run.delegate_failed, run.fallback_verdict, run.delegate_kernels) == (
        "failed", True, "partial", 11)
    assert run.failure_reasons == ("Disallowed CPU fallback detected.", "Benchmarking failed.")


@pytest.mark.parametrize("prefix", ["ERROR: ", "RROR: ", "E/tflite: ", "05-30 15:16:44.857  3380  3380 E tflite  : "])
def test_error_without_timings_is_a_failure(prefix):
    run = parse_log(log("STARTING!", "Graph: [/data/local/tmp/m.tflite]", prefix + "Failed to allocate tensors."))
    assert run.status == "failed"
    assert run.failure_reasons == ("Failed to allocate tensors.",)


def test_damaged_prefix_before_an_anchored_line():
    run = parse_log(log("FO: [benchmark_litert_model.h:100] Inference (avg):      2.05 ms (50 runs)",
                        "NFO: [benchmark_litert_model.h:137] ======================================"))
    assert (run.status, run.inference_avg_us, run.count) == ("ok", 2050, 50)


@pytest.mark.parametrize("marker", [
    "Segmentation fault",
    "bash: line 1: 4242 Aborted                 (core dumped) ./benchmark_model --graph=m.tflite",
    "Aborted",
    "05-30 15:16:46.366  3380  3380 F libc    : Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR)",
])
def test_crash_markers(marker):
    run = parse_log(log("STARTING!", H1, marker))
    assert run.status == "crashed"
    assert len(run.failure_reasons) == 1


def test_the_word_aborted_inside_a_message_is_no_crash():
    assert parse_log(log(*NEWEST, "INFO: the user never Aborted anything")).status == "ok"


def test_prefixes_logcat_glog_damaged_and_indented():
    run = parse_log(log(
        "I/tflite  ( 3380): " + H1[6:],
        "I0530 15:16:45.362000  3380 benchmark_model.cc:189] count=40 first=32942 curr=12594 min=11340 "
        "max=32942 avg=12581.9 std=3331",
        "   FO: " + H2[6:],
        "type 54 str SoftmaxAxis0",
        "\tRROR: nothing",
        "FO: count=75 first=12840 curr=11853 min=11787 max=13649 avg=12167.6 std=325",
        "E tflite  : Inference timings in us: Init: 126059, First inference: 32942, Warmup (avg): 12581.9, "
        "Inference (avg): 12167.6"))
    assert run.status == "ok"
    assert (run.count, run.warmup_count, run.inference_avg_us, run.init_us) == (75, 40, 12167.6, 126059)


def test_several_runs_in_one_log_read_the_last():
    failed = ["STARTING!", "Failed to apply NNAPI delegate.", "Benchmarking failed."]
    run = parse_log(log(*failed, *NEWEST))
    assert (run.status, run.delegate_failed, run.inference_avg_us) == ("ok", False, 1240270)


@pytest.mark.parametrize("text", ["", "\n\n", "hello world\nthis is not a benchmark\n", "\x00\x01\ufffd" * 50])
def test_unrecognised_text_is_unparsed(text):
    run = parse_log(text)
    assert run.status == "unparsed"
    assert run.to_dict() == {key: (False if key == "delegate_failed" else [] if key == "delegate_names"
                                   else "unparsed" if key == "status" else None) for key in REPORT_KEYS}


def test_memory_fragment_is_recognised():
    run = parse_log(log("INFO: Overall peak memory footprint (MB) via periodic monitoring: 93.2383"))
    assert (run.status, run.peak_mb) == ("truncated", 93.2383)


@pytest.mark.parametrize("bad", [
    dict(status="fragment"),
    dict(status="ok", init_us=-1.0),
    dict(status="ok", init_us=float("nan")),
    dict(status="ok", count=True),
    dict(status="ok", nodes_delegated=5, nodes_total=4),
    dict(status="ok", fallback_verdict="mostly"),
    dict(status="ok", delegate_names=["GPU"]),
])
def test_parsed_run_rejects_impossible_values(bad):
    with pytest.raises(ValueError):
        ParsedRun(**bad)


def test_gpu_unsupported_on_this_platform_is_a_delegate_failure() -> None:
    from mai_bench.parse import parse_log

    log = ("INFO: STARTING!\nINFO: Use gpu: [1]\nWARN: GPU acceleration is unsupported on this platform.\n"
           "INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding "
           "150 seconds.\nINFO: count=1 curr=100\n"
           "INFO: Running benchmark for at least 1 iterations and at least 1 seconds but terminate if exceeding "
           "150 seconds.\nINFO: count=2 first=100 curr=100 min=100 max=100 avg=100 std=0\n"
           "INFO: Inference timings in us: Init: 5, First inference: 100, Warmup (avg): 100, Inference (avg): 100\n")
    parsed = parse_log(log)
    assert parsed.delegate_failed is True
    assert any("unsupported on this platform" in r for r in parsed.failure_reasons)


ZERO_OF = ("VERBOSE: Replacing 0 out of 64 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 0 partitions "
           "for subgraph 0.")


@pytest.mark.parametrize("after", [
    (),  # the log is cut right after the line
    ("INFO: Initialized OpenCL-based API.",),
    tuple(NEWEST[2:]),  # the run went on, on the CPU, to a complete summary
])
def test_a_delegate_that_replaced_no_node_failed(after):
    run = parse_log(log("INFO: STARTING!", "INFO: Use gpu: [1]", ZERO_OF, *after))
    assert run.delegate_failed is True
    assert run.failed_delegates == ("gpu",)
    assert (run.nodes_delegated, run.nodes_total, run.fallback_verdict) == (0, 64, "none")
    assert ZERO_OF.removeprefix("VERBOSE: ") in run.failure_reasons
    assert run.status == ("ok" if after == tuple(NEWEST[2:]) else "truncated")  # no error printed: not "failed"


def test_failures_name_their_delegate_and_an_unnamed_one_the_delegate_before_it():
    run = parse_log(log(
        "ERROR: Node number 12 (TfLiteNnapiDelegate) failed to prepare.",
        "ERROR: Restored original execution plan after delegate application failure.",
        "ERROR: Failed to apply NNAPI delegate.",
        "ERROR: Disallowed CPU fallback detected."))
    assert run.failed_delegates == ("nnapi",)
    assert parse_log(log("ERROR: Disallowed CPU fallback detected.")).failed_delegates == ("",)


BUILD_FAILURE = ("ERROR: Failed to build program executable - Build program failure<source>:35:26: error: OpenCL "
                 "extension 'cl_khr_3d_image_writes' is not supported")


def test_a_gpu_program_that_does_not_build_is_a_failed_gpu_delegate():
    run = parse_log(log("INFO: Created TensorFlow Lite delegate for GPU.", BUILD_FAILURE,
                        "ERROR: Falling back to OpenGL", "ERROR: TfLiteGpuDelegate Init: OpenGL-based API disabled",
                        *NEWEST[2:]))
    assert run.delegate_failed is True and run.failed_delegates == ("gpu",)
    assert run.fallback_verdict == "none"
    assert BUILD_FAILURE.removeprefix("ERROR: ") in run.failure_reasons


def test_a_gpu_delegate_that_recovers_on_opengl_did_not_fail():
    run = parse_log(log("INFO: Created TensorFlow Lite delegate for GPU.", BUILD_FAILURE,
                        "ERROR: Falling back to OpenGL", "INFO: Initialized OpenGL-based API.",
                        "INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the "
                        "delegate.", *NEWEST[2:]))
    assert (run.delegate_failed, run.failed_delegates, run.fallback_verdict) == (False, (), "full")


@pytest.mark.parametrize("line, flags", [
    ("WARN: Unconsumed cmdline flags: --output_filepath=/data/local/tmp/o.bin",
     ("--output_filepath=/data/local/tmp/o.bin",)),
    ("Unconsumed cmdline flags: --graph test", ("--graph", "test")),  # argv items joined by spaces
    ("05-30 15:16:44.857  3380  3380 W tflite  : Unconsumed cmdline flags: --use_nnapi=true --nnapi_allow_fp16=true",
     ("--use_nnapi=true", "--nnapi_allow_fp16=true")),
    ("WARNING: unrecognized commandline flag: --graph", ("--graph",)),
])
def test_unconsumed_flags_are_kept_as_printed(line, flags):
    run = parse_log(log("INFO: STARTING!", line, *NEWEST[2:]))
    assert run.unconsumed_flags == flags
    assert run.status == "ok"  # the tool carries on without them


def test_params_echo_threads_and_delegates():
    run = parse_log(log("INFO: STARTING!", "INFO: Num threads: [4]", "INFO: Use gpu : [1]", "INFO: Use xnnpack: [0]",
                        *NEWEST[2:]))
    assert (run.num_threads, run.delegates_enabled, run.delegates_disabled) == (4, ("gpu",), ("xnnpack",))
    assert parse_log(log("INFO: Num threads: [-1]", *NEWEST[2:])).num_threads is None  # -1: the runtime decides
    assert parse_log(log(*NEWEST)).num_threads is None
