"""Golden tests: every captured benchmark_model log against the hand-read values in INDEX.tsv, plus
per-log checks of what INDEX.tsv has no column for (percentiles, delegate names, verdicts, profiles)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mai_bench.parse import REPORT_KEYS, parse_log
from mai_bench.parse.timings import LITERT_EXACT_NOTE, LITERT_UNITS_NOTE

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"

# INDEX.tsv column -> ParsedRun field, for the plain numeric columns.
NUMERIC_COLUMNS = {
    "init_us": "init_us",
    "first_us": "first_us",
    "warmup_avg_us": "warmup_avg_us",
    "inference_avg_us": "inference_avg_us",
    "count": "count",
    "std_us": "std_us",
    "min_us": "min_us",
    "max_us": "max_us",
    "memory_init_mb": "memory_init_mb",
    "memory_overall_mb": "memory_overall_mb",
    "peak_mb": "peak_mb",
}
# INDEX.tsv says "fragment" for pasted pieces with no summary; the parser's word for an incomplete log is
# "truncated" (the status set has no "fragment").
STATUS_OF_INDEX = {"fragment": "truncated"}


def _index_rows() -> list[dict[str, str]]:
    with (LOGS / "INDEX.tsv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _index_rows()


def _parse(name: str):
    return parse_log((LOGS / name).read_bytes().decode("utf-8", errors="replace"))


def test_index_covers_every_log():
    assert sorted(row["file"] for row in ROWS) == sorted(p.name for p in LOGS.glob("*.txt"))


@pytest.mark.parametrize("row", ROWS, ids=[row["file"][:3] for row in ROWS])
def test_index_values(row):
    run = _parse(row["file"])
    assert run.status == STATUS_OF_INDEX.get(row["run_status"], row["run_status"])
    for column, attribute in NUMERIC_COLUMNS.items():
        expected = row[column].strip()
        if expected:
            # Exact: the parser keeps the printed value; INDEX.tsv copies it (ms values times 1000).
            assert getattr(run, attribute) == float(expected), column
    if row["delegate_nodes_replaced"].strip():
        delegated, total = (int(part) for part in row["delegate_nodes_replaced"].split("/"))
        assert (run.nodes_delegated, run.nodes_total) == (delegated, total)
    assert run.delegate_failed is {"yes": True, "no": False}[row["delegate_failed"]]


@pytest.mark.parametrize("row", ROWS, ids=[row["file"][:3] for row in ROWS])
def test_report_dict_is_exact_and_json_ready(row):
    report = _parse(row["file"]).to_dict()
    assert tuple(report) == REPORT_KEYS
    assert json.loads(json.dumps(report, allow_nan=False)) == report


# What each log shows beyond INDEX.tsv's columns, read off the log by hand.
EXTRA = {
    "001": dict(warmup_count=None, p5_us=None, median_us=None, p95_us=None, delegate_names=(),
                nodes_delegated=None, fallback_verdict=None),
    # 002 and 004: tail-only pastes, like 001 (the NNAPI lines of 002 were not pasted).
    "002": dict(warmup_count=None, p5_us=None, delegate_names=(), nodes_delegated=None),
    "004": dict(warmup_count=None, p5_us=None, delegate_names=(), nodes_delegated=None),
    "003": dict(inference_avg_us=None, count=None, std_us=None),  # only op-profiler Timings lines
    "005": dict(fallback_verdict="none", inference_avg_us=None, count=None, delegate_names=(),
                accelerators_available=("qti-default", "qti-dsp", "qti-gpu", "nnapi-reference")),
    "006": dict(fallback_verdict="none", inference_avg_us=None,
                accelerators_available=("qti-default", "qti-dsp", "qti-gpu", "nnapi-reference")),
    "007": dict(warmup_count=1, p5_us=None, median_us=None),
    "008": dict(warmup_count=30),
    "009": dict(delegate_names=("TfLiteNnapiDelegate",), fallback_verdict="full", warmup_count=1,
                accelerators_available=("synap-npu", "nnapi-reference")),
    "010": dict(delegate_names=("Vx Delegate",), fallback_verdict="full", warmup_count=277),
    "011": dict(p5_us=49620.0, median_us=51891.0, p95_us=68628.0, warmup_count=9,
                delegate_names=("TfLiteXNNPackDelegate",), fallback_verdict="full"),
    "013": dict(p5_us=42133.0, median_us=42419.0, p95_us=42671.0, warmup_count=11,
                delegate_names=("TfLiteXNNPackDelegate",), fallback_verdict="partial"),
    "015": dict(p5_us=502674.0, median_us=576856.0, p95_us=1373207.0, warmup_count=1,
                delegate_names=("TfLiteXNNPackDelegate",), fallback_verdict="full"),
    "017": dict(delegate_names=("GPU",), fallback_verdict="full", warmup_count=56, nodes_delegated=None),
    "018": dict(warmup_count=27, delegate_names=(), fallback_verdict=None),
    "019": dict(delegate_names=("TfLiteHexagonDelegate",), fallback_verdict="none", inference_avg_us=None),
    "021": dict(failure_reasons=("Segmentation fault",), inference_avg_us=None, count=None, warmup_count=None,
                init_us=16374.0),  # init from "Initialized session in 16.374ms." (no summary)
    # No "First inference" in the old summary: the first warm-up run comes from the warm-up stat line.
    "022": dict(first_us=271332.0, warmup_count=4, memory_init_mb=None, delegate_failed=False),
    "025": dict(delegate_names=("NNAPI",), fallback_verdict="partial", delegate_kernels=44, warmup_count=40,
                memory_init_mb=None),
    "027": dict(warmup_count=1, p5_us=None, peak_mb=None),
    "029": dict(inference_avg_us=None, count=None),
    "031": dict(p5_us=898333.0, median_us=899281.0, p95_us=904305.0, delegate_names=("XNNPACK",),
                fallback_verdict="partial", delegate_kernels=1, warmup_count=1),
    # LiteRT 2.x with stat lines: the percentiles and counts come from the exact lines, as in older logs; the
    # profiler's tables have no "Profiling Info for" header, so no op profile is claimed.
    "033": dict(p5_us=460.0, median_us=462.0, p95_us=478.0, warmup_count=1055,
                delegate_names=("TfLiteXNNPackDelegate",), fallback_verdict="full", unconsumed_flags=(),
                num_threads=None, op_profile=(), failed_delegates=()),
    "034": dict(p5_us=1365.0, median_us=1373.0, p95_us=1409.0, warmup_count=358, fallback_verdict="full"),
    "035": dict(unconsumed_flags=("--allow_fp16",), num_threads=4, delegates_enabled=("gpu", "xnnpack"),
                failed_delegates=("gpu",), fallback_verdict="partial", delegate_kernels=22, delegate_names=("XNNPACK",),
                warmup_count=6, p5_us=None, failure_reasons=("GPU acceleration is unsupported on this platform.",)),
    "036": dict(failed_delegates=("gpu",), fallback_verdict="none", delegates_enabled=("gpu",), count=None,
                failure_reasons=("Failed to build program executable - Build program failure(97:0) : error : "
                                 "conversion between different vector types not allowed",)),
    "037": dict(delegates_disabled=("gpu",), delegates_enabled=(), delegate_names=(), fallback_verdict=None,
                p5_us=105485.0, median_us=105718.0, p95_us=106281.0, warmup_count=5),
    "038": dict(delegate_names=("GPU",), fallback_verdict="full", delegates_enabled=("gpu",), nodes_delegated=None,
                warmup_count=5, p5_us=112107.0, median_us=115350.0, p95_us=116620.0, failed_delegates=()),
    "039": dict(delegate_names=("TfLiteGpuDelegateV2",), failed_delegates=("nnapi",), fallback_verdict="full",
                num_threads=2, delegates_enabled=("gpu", "nnapi"), accelerators_available=("nnapi-reference",),
                warmup_count=2, p5_us=306372.0, median_us=307968.0, p95_us=315711.0),
    "040": dict(warmup_count=957, p5_us=None, memory_init_mb=None, delegate_names=(), fallback_verdict=None),
    "041": dict(warmup_count=51, median_us=None),
    "042": dict(num_threads=4, warmup_count=526, p5_us=915.0, median_us=942.0, p95_us=991.0, delegate_names=()),
}


@pytest.mark.parametrize("row", ROWS, ids=[row["file"][:3] for row in ROWS])
def test_extra_fields(row):
    expected = EXTRA[row["file"][:3]]
    run = _parse(row["file"])
    assert {name: getattr(run, name) for name in expected} == expected


def test_units_note_only_for_the_litert_ms_block():
    notes = {row["file"][:3]: _parse(row["file"]).units_note for row in ROWS}
    # Block only: every timing is the block's milliseconds; with stat lines: the exact microseconds.
    assert {notes.pop(k) for k in ("027", "040", "041")} == {LITERT_UNITS_NOTE}
    assert {notes.pop(k) for k in ("033", "034", "042")} == {LITERT_EXACT_NOTE}
    assert set(notes.values()) == {None}


# LiteRT 2.x logs print each timing twice: exactly (us) in the stat lines and rounded to 0.01 ms in the block.
# (block value in us, the exact value the parser must report instead), read off each log.
LITERT_ROUNDED = {
    "033": dict(init_us=(4480.0, 4478.0), first_us=(1030.0, 1033.0), warmup_avg_us=(470.0, 465.319),
                inference_avg_us=(460.0, 464.545), std_us=(10.0, 13.0), min_us=(440.0, 442.0)),
    "034": dict(init_us=(4490.0, 4488.0), first_us=(1930.0, 1927.0), warmup_avg_us=(1390.0, 1386.31),
                inference_avg_us=(1380.0, 1379.64)),
    "042": dict(init_us=(5760.0, 5757.0), first_us=(2120.0, 2125.0), warmup_avg_us=(950.0, 949.861),
                inference_avg_us=(950.0, 947.132), max_us=(1100.0, 1102.0)),
}


@pytest.mark.parametrize("prefix", sorted(LITERT_ROUNDED))
def test_litert2_timings_are_the_exact_microseconds_not_the_rounded_block(prefix):
    (path,) = LOGS.glob(prefix + "_*.txt")
    run = _parse(path.name)
    for field, (rounded, exact) in LITERT_ROUNDED[prefix].items():
        assert getattr(run, field) == exact != rounded, field


def test_litert2_init_keeps_the_block_where_the_session_line_is_coarser():
    # "Initialized session in 23744.7ms." prints 100 us steps, the block 23744.73 ms: the block is finer.
    block = (LOGS / "027_litert2-compiledmodel-gpu-llm-ms-units-truncated.txt").read_text("utf-8")
    log = "INFO: Initialized session in 23744.7ms.\n" + block
    assert parse_log(log).init_us == 23744730.0
    finer = log.replace("23744.7ms", "2374.473ms").replace("Model initialization: 23744.73 ms",
                                                            "Model initialization: 2374.47 ms")
    assert parse_log(finer).init_us == 2374473.0


def test_delegate_applications_keep_partitions_and_subgraph():
    (xnnpack,) = _parse("013_android-xnnpack-partial-int4.txt").delegates_applied
    assert (xnnpack.name, xnnpack.nodes_replaced, xnnpack.nodes_total, xnnpack.partitions, xnnpack.subgraph) == (
        "TfLiteXNNPackDelegate", 2136, 2168, 65, 0)
    (nnapi,) = _parse("009_synaptics-synapnpu-nnapi-full-tf215.txt").delegates_applied
    assert (nnapi.partitions, nnapi.subgraph) == (1, None)  # "for the whole graph"
    (hexagon,) = _parse("019_umi-sd865-hexagon-125of125-then-failed.txt").delegates_applied
    assert (hexagon.nodes_replaced, hexagon.nodes_total, hexagon.partitions) == (125, 125, 1)


def test_failure_reasons_name_the_failing_lines():
    reasons = _parse("005_mi11-sd888-nnapi-qtidefault-failed.txt").failure_reasons
    assert reasons == (
        "NN API returned error ANEURALNETWORKS_OP_FAILED at line 3779 while completing NNAPI compilation.",
        "Node number 248 (TfLiteNnapiDelegate) failed to prepare.",
        "Restored original execution plan after delegate application failure.",
        "Failed to apply NNAPI delegate.",
        "Benchmarking failed.",
    )
    hexagon = _parse("019_umi-sd865-hexagon-125of125-then-failed.txt")
    assert "Failed to apply Hexagon delegate." in hexagon.failure_reasons
    assert _parse("015_android-xnnpack-full-p5median.txt").failure_reasons == ()


def test_op_profile_is_the_timed_runs_summary_table():
    rows = _parse("018_pocox3-cpu-2thr-fp32-opprofile.txt").op_profile
    assert [(r.node_type, r.count, r.avg_ms) for r in rows] == [
        ("CONV_2D", 36, 8.695), ("RESIZE_BILINEAR", 5, 4.809), ("DEPTHWISE_CONV_2D", 19, 2.646),
        ("ADD", 13, 0.517), ("PAD", 4, 0.396)]
    assert (rows[0].percent, rows[0].cdf_percent, rows[0].mem_kb, rows[0].times_called) == (50.958, 50.958, 0.0, 36)
    (gpu,) = _parse("017_pocox3-gpu-full-opprofile.txt").op_profile
    assert gpu.to_dict() == dict(node_type="TfLiteGpuDelegateV2", count=1, avg_ms=8.671, percent=100.0,
                                 cdf_percent=100.0, mem_kb=0.0, times_called=1)
    # The initialisation profile (ModifyGraphWithDelegate, AllocateTensors) is not the timed runs'.
    nnapi = _parse("003_mi11-sd888-nnapi-qtigpu-fp16-opprofile.txt").op_profile
    assert [(r.node_type, r.count, r.avg_ms) for r in nnapi] == [
        ("TfLiteNnapiDelegate", 3, 149.483), ("STRIDED_SLICE", 6, 8.347), ("RESIZE_NEAREST_NEIGHBOR", 2, 0.879)]
    mobilenet = _parse("007_qemu-riscv64-cpu-opprofile-sci-notation.txt").op_profile
    assert [(r.node_type, r.count, r.avg_ms) for r in mobilenet] == [
        ("CONV_2D", 15, 2651.853), ("DEPTHWISE_CONV_2D", 13, 296.919), ("AVERAGE_POOL_2D", 1, 0.869),
        ("SOFTMAX", 1, 0.232), ("SQUEEZE", 1, 0.016)]
    assert _parse("008_plusflex-cpu-mobilenetv2-edgevit.txt").op_profile == ()
    gpu_log = (LOGS / "017_pocox3-gpu-full-opprofile.txt").read_text(encoding="utf-8")
    init_only = gpu_log[:gpu_log.index("Operator-wise Profiling Info")]
    assert parse_log(init_only).op_profile == ()
