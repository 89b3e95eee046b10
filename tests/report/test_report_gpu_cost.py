"""What the GPU path costs in fidelity (a local GPU run's output against the CPU FP32 output of the same input)
appears in every report format."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from mai_bench.report import csv as csv_report, html as html_report, json as json_report, markdown, terminal
from mai_bench.report.merge import build_report
from synthetic import host_result

COST = {"max_abs_error": 1.6e-06, "mean_abs_error": 2.5e-07, "psnr_db": 121.3, "elements": 6266880,
        "precision": "fp32 (enforce_f32)"}


def _report(with_cost: bool):
    result = host_result([10.0, 11.0, 12.0], created="2026-12-07T00:00:00+00:00")
    result = replace(result, delegate="gpu", extra={"gpu_vs_cpu": COST} if with_cost else {})
    return build_report([result])


def test_every_format_shows_the_gpu_output_against_the_cpu():
    report = _report(True)
    for text in (terminal.render(report), markdown.render(report), html_report.render(report),
                 json_report.render(report)):
        assert "against the CPU FP32 output of the same input" in text and "1.6e-06" in text
        assert "PSNR 121.3 dB" in text
    (row,) = csv.DictReader(io.StringIO(csv_report.render(report)))
    assert float(row["gpu_vs_cpu_max_abs_error"]) == 1.6e-06 and float(row["gpu_vs_cpu_psnr_db"]) == 121.3


def test_no_comparison_no_note():
    report = _report(False)
    assert "against the CPU FP32 output" not in terminal.render(report)
    (row,) = csv.DictReader(io.StringIO(csv_report.render(report)))
    assert row["gpu_vs_cpu_max_abs_error"] == "" and row["gpu_vs_cpu_psnr_db"] == ""
