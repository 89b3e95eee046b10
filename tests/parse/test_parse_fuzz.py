"""Property tests: parse_log is total. Arbitrary text, binary garbage, mutations and splices of the captured
logs, and every truncation of them give a ParsedRun with an allowed status and exactly the report keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mai_bench.parse import REPORT_KEYS, STATUSES, parse_log

LOGS = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "logs").glob("*.txt"))
TEXTS = [path.read_bytes().decode("utf-8", errors="replace") for path in LOGS]
LINES = sorted({line for text in TEXTS for line in text.splitlines()})

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str):
    run = parse_log(text)
    assert run.status in STATUSES
    report = run.to_dict()
    assert tuple(report) == REPORT_KEYS
    json.dumps(report, allow_nan=False)
    if run.status == "ok":
        assert run.inference_avg_us is not None
    if run.status == "unparsed":
        assert report == {**dict.fromkeys(REPORT_KEYS), "status": "unparsed", "delegate_failed": False,
                          "delegate_names": []}
    return run


# Pieces the parser looks for, to reach its branches far more often than uniform random text does.
KEYWORDS = st.sampled_from([
    "count=", " first=", " curr=", " min=", " max=", " avg=", " std=", " p5=", " median=", " p95=", "(all same)",
    "Running benchmark for at least 1 iterations", "Inference timings in us: ", "Init: ", ", Inference (avg): ",
    "Average inference timings in us: ", "no stats: ", "Warmup: ", "INFO: ", "ERROR: ", "VERBOSE: ", "FO: ",
    "STARTING!", "Benchmarking failed.", "Segmentation fault", "Aborted", "Fatal signal 6", "Replacing ",
    " out of ", " node(s) with delegate (", ") node, yielding ", " partitions for subgraph ", " nodes delegated ",
    "will be completely executed", "will be partially executed by the delegate w/ ", " delegate kernels",
    "will not be executed by the delegate", "Could not create Hexagon delegate", "Failed to apply GPU delegate",
    "Following operations are not supported by GPU delegate:", "TOPK_V2: ", "Memory footprint delta from the "
    "start of the tool (MB): init=", " overall=", "Peak memory footprint (MB): init=",
    "Overall peak memory footprint (MB) via periodic monitoring: ", "Timings (microseconds): ",
    "Operator-wise Profiling Info for Regular Benchmark Runs:", "==== Summary by node type ====",
    "\tCONV_2D\t", "%", "========== BENCHMARK RESULTS ==========", "Inference (avg): ", " ms (", " runs)",
    "Model initialization: ", "Init footprint: ", " MB", "======================================",
    "Initialized session in ", "ms.", "NNAPI accelerators available: [", "]", "the following is only APPROXIMATE",
    "05-30 15:16:44.857  3380  3380 I tflite  : ", "I/tflite: ", "\n", "\t", " ",
])
NUMBERS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e999", "-0", "1.24027e+06", "9" * 5000, "0.", ".5", "1e", "+3", "nan", "inf"]),
)
TOOLISH = st.lists(st.one_of(KEYWORDS, NUMBERS, st.text(max_size=8)), max_size=80).map("".join)


@FUZZ
@given(st.text(alphabet=st.characters(codec=None, blacklist_categories=())))
def test_arbitrary_text(text):
    check(text)


@FUZZ
@given(st.binary(max_size=4000), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_binary_garbage_decoded(data, encoding):
    check(data.decode(encoding, errors="replace"))


@FUZZ
@given(TOOLISH)
def test_tool_vocabulary_soup(text):
    check(text)


@st.composite
def mutated_log(draw):
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert", "cut", "noise"]))
        if not lines:
            lines = [draw(st.sampled_from(LINES))]
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        if op == "drop":
            del lines[at]
        elif op == "dup":
            lines.insert(at, lines[at])
        elif op == "swap":
            other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "insert":
            lines.insert(at, draw(st.sampled_from(LINES)))
        elif op == "cut":
            lines[at] = lines[at][:draw(st.integers(min_value=0, max_value=len(lines[at])))]
        else:
            position = draw(st.integers(min_value=0, max_value=len(lines[at])))
            lines[at] = lines[at][:position] + draw(TOOLISH) + lines[at][position:]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


@FUZZ
@given(mutated_log())
def test_mutated_real_logs(text):
    check(text)


@FUZZ
@given(st.sampled_from(TEXTS), st.sampled_from(TEXTS), st.floats(0, 1), st.floats(0, 1))
def test_spliced_real_logs(first, second, head, tail):
    check(first[:int(len(first) * head)] + second[int(len(second) * tail):])


@FUZZ
@given(st.sampled_from(TEXTS), st.integers(min_value=0))
def test_truncated_at_any_character(text, at):
    check(text[:at % (len(text) + 1)])


@pytest.mark.parametrize("path", LOGS, ids=[path.name[:3] for path in LOGS])
def test_truncated_at_every_line(path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    full = check(text)
    summary_at = next((i for i, line in enumerate(lines) if "timings in us:" in line or "Inference (avg):" in line),
                      None)
    for cut in range(len(lines) + 1):
        run = check("".join(lines[:cut]))
        if summary_at is not None and cut <= summary_at:
            # Cut before the summary: never a complete run, and never a timed average from the warm-up.
            assert run.status != "ok"
            if full.status == "ok" and run.inference_avg_us is not None:
                assert run.inference_avg_us == full.inference_avg_us
