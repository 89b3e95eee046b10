"""Thresholds, verdicts and exit codes; the JUnit XML (validated against a JUnit XSD) and the Markdown summary.
Results are built here, so every outcome can be set up exactly."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import xmlschema

from mai_bench.errors import EXIT_CHECK_FAILED, EXIT_INFRA, EXIT_OK
from mai_bench.farm.junit import junit_xml
from mai_bench.farm.summary import append_step_summary, markdown, table
from mai_bench.farm.thresholds import (
    RatioLimit,
    Thresholds,
    evaluate,
    exit_code,
    load_fidelity,
)
from mai_bench.results.schema import BinaryRef, Delegation, DeviceRef, Latency, Memory, ModelRef, Result

XSD = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "junit" / "jenkins-junit.xsd"
CANDIDATE_SHA, REFERENCE_SHA = "c" * 64, "e" * 64


def result(*, model: str = "candidate", sha: str = CANDIDATE_SHA, serial: str = "dev1", delegate: str = "gpu",
           status: str = "ok", median: float | None = 20.0, avg: float | None = 21.0, full: bool | None = True,
           role: str = "candidate", log: str = "INFO: STARTING!\nINFO: done", reasons: tuple[str, ...] = ()) -> Result:
    return Result(
        status=status, model=ModelRef(f"/m/{model}.tflite", model, sha, 100, (1, 544, 960, 4), None),
        device=DeviceRef(serial=serial, backend="adb", server="127.0.0.1:5037"), delegate=delegate, settings={},
        argv=("benchmark_model",), binary=BinaryRef("benchmark_model", None),
        latency_ms=Latency(median=median, avg=avg, count=5 if avg is not None else None), memory_mb=Memory(),
        delegation=Delegation(requested=delegate, full=full, nodes_delegated=None, reasons=reasons),
        raw_log=log, tool_version="0", created_at="2026-01-01T00:00:00+00:00", duration_s=1.5,
        extra={"job_id": f"{model}/{delegate}@{serial}", "job_role": role})


def outcome_of(verdicts, model="candidate", serial="dev1", delegate="gpu"):
    return next(v for v in verdicts if v.result.model.name == model and v.result.device.serial == serial
                and v.result.delegate == delegate)


def check(verdict, name):
    return next(c for c in verdict.checks if c.name == name)


def test_max_latency_passes_at_the_limit_and_fails_above_it() -> None:
    limit = Thresholds(max_latency_ms=20.0)
    ok, slow = evaluate([result(median=20.0), result(serial="dev2", median=20.5)], limit)
    assert ok.outcome == "passed" and check(ok, "max_latency_ms").outcome == "pass"
    assert slow.outcome == "failed" and "20.500 ms > 20 ms" in check(slow, "max_latency_ms").detail
    assert exit_code([ok]) == EXIT_OK and exit_code([ok, slow]) == EXIT_CHECK_FAILED


def test_a_log_without_median_is_judged_by_its_average_and_says_so() -> None:
    (verdict,) = evaluate([result(median=None, avg=30.0)], Thresholds(max_latency_ms=25.0))
    detail = check(verdict, "max_latency_ms").detail
    assert verdict.outcome == "failed" and "avg (the log has no median) 30.000 ms" in detail
    (nothing,) = evaluate([result(median=None, avg=None)], Thresholds(max_latency_ms=25.0))
    assert nothing.outcome == "failed", "a limit that cannot be checked on a measured run is not a pass"


def test_ratio_compares_with_the_reference_on_the_same_device_and_delegate() -> None:
    limit = Thresholds(max_ratio_vs=(RatioLimit("microisp-1.0", 1.5, REFERENCE_SHA),))
    records = [
        result(median=30.0),  # dev1: 30 vs 25 -> 1.2x
        result(model="microisp_1_0", sha=REFERENCE_SHA, median=25.0, role="reference"),
        result(serial="dev2", median=30.0),  # dev2: 30 vs 10 -> 3x
        result(model="microisp_1_0", sha=REFERENCE_SHA, serial="dev2", median=10.0, role="reference"),
        result(serial="dev1", delegate="xnnpack", median=30.0),  # no reference with xnnpack on dev1
    ]
    verdicts = evaluate(records, limit)
    near, far = outcome_of(verdicts), outcome_of(verdicts, serial="dev2")
    assert near.outcome == "passed" and check(near, "max_ratio_vs microisp-1.0").detail.startswith("1.200x")
    assert far.outcome == "failed" and check(far, "max_ratio_vs microisp-1.0").detail.startswith("3.000x")
    alone = outcome_of(verdicts, delegate="xnnpack")
    assert alone.outcome == "failed" and "no result on this device with xnnpack" in alone.reasons[0]
    reference = outcome_of(verdicts, model="microisp_1_0")
    assert [c.name for c in reference.checks] == ["status"], "a reference job is judged by its status alone"


def test_a_reference_that_hit_an_infrastructure_error_makes_the_comparison_an_error() -> None:
    limit = Thresholds(max_ratio_vs=(RatioLimit("microisp-1.0", 1.5, REFERENCE_SHA),))
    verdicts = evaluate([result(), result(model="microisp_1_0", sha=REFERENCE_SHA, status="infra-error",
                                          median=None, avg=None, role="reference", reasons=("device lost",))],
                        limit)
    assert {v.outcome for v in verdicts} == {"error"}
    assert exit_code(verdicts) == EXIT_INFRA


def test_full_delegation_is_required_of_accelerators_not_of_xnnpack_or_plain_cpu() -> None:
    need = Thresholds(require_full_delegation=True)
    verdicts = evaluate([result(full=True), result(serial="dev2", full=False), result(serial="dev3", full=None),
                         result(delegate="cpu", full=None)], need)
    assert [v.outcome for v in verdicts] == ["passed", "failed", "failed", "passed"]
    assert check(verdicts[3], "require_full_delegation").outcome == "n/a"
    assert "does not say" in check(verdicts[2], "require_full_delegation").detail
    assert "gpu delegate took only part" in check(verdicts[1], "require_full_delegation").detail


def partial(delegate: str, serial: str = "dev1") -> Result:
    """A run whose delegate took 179 of 209 nodes, the rest on the CPU kernels."""
    r = result(delegate=delegate, serial=serial, full=False)
    return replace(r, delegation=replace(r.delegation, nodes_delegated=179, nodes_total=209))


def test_xnnpack_taking_part_of_the_graph_by_design_never_fails_require_full_delegation() -> None:
    need = Thresholds(require_full_delegation=True)
    xnnpack, gpu, nnapi, hexagon = evaluate([partial("xnnpack"), partial("gpu", "dev2"), partial("nnapi", "dev3"),
                                             partial("hexagon", "dev4")], need)
    judged = check(xnnpack, "require_full_delegation")
    assert xnnpack.outcome == "passed" and judged.outcome == "n/a"
    assert "CPU delegate" in judged.detail and "gpu, nnapi, hexagon" in judged.detail, "it says what it judges"
    for verdict in (gpu, nnapi, hexagon):
        assert verdict.outcome == "failed"
        assert "179 of 209 nodes" in check(verdict, "require_full_delegation").detail
    assert exit_code([xnnpack]) == EXIT_OK


def test_thresholds_are_not_judged_for_a_job_that_never_ran(tmp_path: Path) -> None:
    limits = Thresholds(max_latency_ms=10.0, min_psnr=30.0, require_full_delegation=True)
    never_ran = result(status="infra-error", median=None, avg=None, full=None, reasons=("device lost",))
    (verdict,) = evaluate([never_ran], limits, fidelity={"candidate": 20.0}, fidelity_source="psnr.yaml")
    assert verdict.outcome == "error" and exit_code([verdict]) == EXIT_INFRA
    assert [c.name for c in verdict.checks if c.outcome == "fail"] == [], "no threshold failure for it"
    assert {check(verdict, name).outcome for name in ("max_latency_ms", "min_psnr", "require_full_delegation")} \
        == {"not-checked"}
    assert verdict.reasons == ("status: infra-error: device lost",)
    text = markdown([verdict], limits, name="farm", code=exit_code([verdict]))
    assert "PSNR" not in text and "min_psnr" not in text
    # The same model measured: its PSNR is judged.
    (measured,) = evaluate([result()], limits, fidelity={"candidate": 20.0}, fidelity_source="psnr.yaml")
    assert measured.outcome == "failed" and check(measured, "min_psnr").outcome == "fail"


def test_statuses_give_failures_errors_and_allowed_fallback() -> None:
    records = [result(status="crashed", median=None, avg=None, reasons=("Segmentation fault",)),
               result(serial="dev2", status="infra-error", median=None, avg=None, reasons=("device lost",)),
               result(serial="dev3", status="delegate-fallback", full=False, reasons=("took 3 of 5 nodes",))]
    crashed, lost, fallback = evaluate(records, Thresholds(max_latency_ms=100))
    assert crashed.outcome == "failed" and crashed.reasons == ("status: crashed: Segmentation fault",)
    assert check(crashed, "max_latency_ms").outcome == "not-checked"
    assert lost.outcome == "error" and fallback.outcome == "failed"
    assert exit_code([crashed, lost]) == EXIT_INFRA, "infrastructure errors win: CI retries them"
    (allowed,) = evaluate(records[2:], Thresholds(max_latency_ms=100), allow_fallback=True)
    assert allowed.outcome == "passed"


def test_min_psnr_is_not_checked_without_a_fidelity_document(tmp_path: Path) -> None:
    (verdict,) = evaluate([result()], Thresholds(min_psnr=23.0))
    assert verdict.outcome == "passed" and check(verdict, "min_psnr").outcome == "not-checked"
    text = markdown([verdict], Thresholds(min_psnr=23.0), name="farm", code=0)
    assert "min_psnr: not checked" in text


def test_min_psnr_from_eval_documents_a_folder_and_a_plain_mapping(tmp_path: Path) -> None:
    folder = tmp_path / "fidelity"
    folder.mkdir()
    (folder / "fidelity_candidate.json").write_text(json.dumps(
        {"schema": "mai-bench/fidelity/1", "model": {"path": "/m/candidate.tflite", "name": "candidate",
                                                     "sha256": CANDIDATE_SHA}, "psnr": 23.5, "ssim": 0.85,
         "created_at": "2025-06-01T00:00:00+00:00"}))
    (folder / "fidelity_perfect.json").write_text(json.dumps({"model": {"name": "perfect"}, "psnr": None}))
    (folder / "a_newer.json").write_text(json.dumps({"model": {"sha256": CANDIDATE_SHA}, "psnr": 23.5,
                                                     "created_at": "2026-01-01T00:00:00+00:00"}))
    (folder / "z_older.json").write_text(json.dumps({"model": {"sha256": CANDIDATE_SHA}, "psnr": 30.0,
                                                     "created_at": "2025-01-01T00:00:00+00:00"}))
    table_ = load_fidelity(folder)
    assert table_[CANDIDATE_SHA] == 23.5 and math.isinf(table_["perfect"]), "the latest document counts"
    limit = Thresholds(min_psnr=23.7)
    (low,) = evaluate([result()], limit, fidelity=table_, fidelity_source=str(folder))
    assert low.outcome == "failed" and "PSNR 23.50 dB < 23.7 dB" in low.reasons[0]
    plain = tmp_path / "psnr.yaml"
    plain.write_text("candidate: 24.1\n")
    (good,) = evaluate([result()], limit, fidelity=load_fidelity(plain), fidelity_source=str(plain))
    assert good.outcome == "passed"
    (unknown,) = evaluate([result(model="other", sha="d" * 64)], limit, fidelity=load_fidelity(plain),
                          fidelity_source=str(plain))
    assert unknown.outcome == "failed" and "has no PSNR for other" in unknown.reasons[0]


def mixed_verdicts():
    records = [result(), result(serial="dev2", median=90.0),
               result(serial="dev3", status="crashed", median=None, avg=None, reasons=("Segmentation fault",),
                      log="INFO: STARTING!\n" + "\n".join(f"line {i}" for i in range(100))
                      + "\nSegmentation fault\x1b[0m"),
               result(serial="dev4", status="infra-error", median=None, avg=None,
                      reasons=("device dev4 on adb server 127.0.0.1:5037: the connection dropped",),
                      log="device dev4 on adb server 127.0.0.1:5037: the connection dropped")]
    return evaluate(records, Thresholds(max_latency_ms=50.0))


def test_junit_validates_against_the_schema_with_failures_errors_and_log_tails() -> None:
    verdicts = mixed_verdicts()
    document = junit_xml(verdicts, name="farm", timestamp="2026-01-01T12:00:00", hostname="ci-7")
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(document)
    tree = schema.to_dict(document)
    suites = tree["testsuite"]
    assert [s["@name"] for s in suites] == [f"127.0.0.1:5037/dev{i}" for i in range(1, 5)]
    cases = {s["@name"]: s["testcase"][0] for s in suites}
    slow = cases["127.0.0.1:5037/dev2"]
    assert slow["@classname"] == "127.0.0.1:5037/dev2" and slow["@name"] == "candidate/gpu"
    assert "90.000 ms > 50 ms" in slow["failure"][0]["@message"]
    crash = cases["127.0.0.1:5037/dev3"]["failure"][0]
    assert crash["@type"] == "crashed" and "Segmentation fault" in crash["$"] and "line 99" in crash["$"]
    assert "line 10\n" not in crash["$"], "only the tail of a long log"
    error = cases["127.0.0.1:5037/dev4"]["error"][0]
    assert error["@type"] == "infrastructure" and "connection dropped" in error["@message"]
    assert "failure" not in cases["127.0.0.1:5037/dev1"] and "error" not in cases["127.0.0.1:5037/dev1"]
    assert tree["@tests"] == 4 and tree["@failures"] == 2 and tree["@errors"] == 1


def test_the_schema_is_strict_enough_to_catch_a_broken_report() -> None:
    schema = xmlschema.XMLSchema(str(XSD))
    document = junit_xml(mixed_verdicts(), name="farm", timestamp="2026-01-01T12:00:00", hostname="ci")
    assert not schema.is_valid(document.replace('tests="4"', 'tests="four"', 1))
    assert not schema.is_valid(document.replace("system-out", "stdout"))
    assert not schema.is_valid(document.replace('classname="127.0.0.1:5037/dev1" ', "", 1))


def test_markdown_summary_lists_every_job_and_the_reasons_and_reaches_the_step_summary(tmp_path: Path) -> None:
    verdicts = mixed_verdicts()
    code = exit_code(verdicts)
    text = markdown(verdicts, Thresholds(max_latency_ms=50.0), name="nightly", code=code, wall_s=12.0)
    assert text.startswith("## mai-bench farm `nightly`: INFRASTRUCTURE ERROR (exit 3)")
    assert "4 job(s) on 4 device(s): 1 passed, 2 failed, 1 infrastructure error(s)" in text
    assert text.count("| `127.0.0.1:5037/dev") == 4
    assert "max_latency_ms: median 90.000 ms > 50 ms" in text and "Segmentation fault" in text
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    assert append_step_summary(text, {"GITHUB_STEP_SUMMARY": str(step)}) == step
    assert step.read_text().startswith("earlier step\n## mai-bench farm")
    assert append_step_summary(text, {}) is None


def test_terminal_table_has_one_row_per_job() -> None:
    from rich.console import Console

    verdicts = mixed_verdicts()
    console = Console(width=160, record=True)
    console.print(table(verdicts, Thresholds(), name="nightly"))
    text = console.export_text()
    assert all(f"dev{i}" in text for i in range(1, 5)) and "crashed" in text and "infra-error" in text


def test_only_the_latest_result_of_a_job_counts() -> None:
    from mai_bench.farm.runner import done_ids, latest_results

    lost = result(status="infra-error", median=None, avg=None, reasons=("lost",))
    rerun = replace(result(), created_at="2026-01-02T00:00:00+00:00")
    other = result(serial="elsewhere")

    class Job:
        id = "candidate/gpu@dev1"

    assert latest_results([lost, other, rerun], [Job()]) == (rerun,), "other plans' results are left out"
    assert done_ids([lost]) == set() and done_ids([lost, rerun]) == {"candidate/gpu@dev1"}
