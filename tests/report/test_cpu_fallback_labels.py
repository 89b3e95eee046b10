"""Fallback timings in reports: the result built from a real XNNPACK log under a GPU plan (the shared report inputs'
`cpu_only_isp`: CPU numbers, status delegate-failed) is never shown under `gpu`; the latency chart's labels, which
the SVG carries only as paths, come from one function that keeps the "CPU fallback" label whatever the name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mai_bench.report import charts, csv as csv_report, html as html_report, terminal
from mai_bench.report.inputs import load_inputs
from mai_bench.report.merge import build_report
from mai_bench.report.numbers import fmt_ms
from mai_bench.results.label import timings_label


@pytest.fixture(scope="module")
def report(report_inputs):
    inputs = load_inputs([report_inputs.dir])
    return build_report(inputs.results, inputs.fidelity)


def _row(report, name):
    (row,) = [row for row in report.rows if row.result.model.name == name]
    return row


def test_cpu_numbers_of_a_gpu_run_are_labelled_cpu_fallback(report) -> None:
    fallback = _row(report, "cpu_only_isp").result
    assert fallback.delegate == "gpu" and fallback.status == "delegate-failed" and fallback.latency_ms.avg
    assert timings_label(fallback) == "CPU fallback (gpu failed)"
    shown = fmt_ms(fallback.latency_ms.avg)

    text = terminal.render(report)
    (line,) = [line for line in text.splitlines() if "cpu_only_isp" in line and f" {shown} " in line]
    assert "CPU fallback (gpu failed)" in line and " gpu " not in line

    values = csv_report.row_values(_row(report, "cpu_only_isp"))
    assert (values["delegate"], values["requested_delegate"]) == ("CPU fallback (gpu failed)", "gpu")
    assert values["runtime_kind"] == "phone, CPU fallback (gpu failed)"
    assert csv_report.row_values(_row(report, "phone_isp"))["delegate"] == "gpu", "the GPU's own numbers stay gpu"

    page = html_report.render(report)
    (cells,) = [row for row in page.split("<tr") if "cpu_only_isp" in row and f">{shown}<" in row]
    assert "<td>CPU fallback (gpu failed)</td>" in cells and "<td>gpu</td>" not in cells


def test_the_latency_chart_label_keeps_cpu_fallback_whatever_the_model_name(report) -> None:
    fallback = _row(report, "cpu_only_isp").result
    long_name = replace(fallback, model=replace(fallback.model, name="x" * 200))
    label = charts.result_label(3, long_name)
    assert label.startswith("3. x") and " / CPU fallback (gpu failed) / sm8450" in label
    assert charts.result_label(1, _row(report, "phone_isp").result) == "1. phone_isp / gpu / sm8450"
