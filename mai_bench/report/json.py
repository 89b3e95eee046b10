"""The report as JSON (`"schema": "mai-bench/report/1"`): the merged results, each a full result document
(raw log included) with its fidelity, score and warnings, plus the configurations' summaries and the notes."""

from __future__ import annotations

from mai_bench.report.escape import json_dumps
from mai_bench.report.merge import Report


def render(report: Report) -> str:
    return json_dumps(report.to_dict()) + "\n"
