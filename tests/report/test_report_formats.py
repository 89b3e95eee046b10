"""Every report format from one set of real results (see conftest.py), through the real CLI: merging with
fidelity documents, the score and its comparability, CSV round trip, and escaping of hostile text."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mai_bench.report import FORMATS, render
from mai_bench.report.csv import COLUMNS, row_values
from mai_bench.report.escape import csv_text, json_dumps, md_text, safe_text
from mai_bench.report.inputs import load_inputs
from mai_bench.report.merge import build_report
from mai_bench.results.schema import result_from_dict
from mai_bench.score import challenge_score


def mai_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def report(report_inputs):
    inputs = load_inputs([report_inputs.dir])
    return build_report(inputs.results, inputs.fidelity)


@pytest.fixture(scope="module")
def outputs(report_inputs, tmp_path_factory) -> dict[str, str]:
    """Each format written by `mai-bench report DIR --format F -o FILE`."""
    out = tmp_path_factory.mktemp("reports")
    texts = {}
    for fmt in FORMATS:
        path = out / f"report{FORMATS[fmt][1]}"
        proc = mai_bench("report", str(report_inputs.dir), "--format", fmt, "-o", str(path))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "" and str(path) in proc.stderr
        texts[fmt] = path.read_text(encoding="utf-8")
    return texts


def test_inputs_are_merged_by_model_sha256(report, report_inputs) -> None:
    ri = report_inputs
    assert len(report.rows) == ri.result_count
    by_sha = {row.result.model.sha256: row for row in report.rows}
    assert by_sha[ri.phone_sha].fidelity.psnr == 23.9 and by_sha[ri.evil_sha].fidelity.model_name == ri.evil
    assert by_sha[ri.failed_sha].fidelity is None
    assert [doc.model_sha256 for doc in report.unmatched_fidelity] == [ri.orphan_sha]
    tiny = [c for c in report.configs if c.first.model.name == "tiny_isp"]
    assert len(tiny) == 1 and len(tiny[0].rounds) == 2 and tiny[0].summary.method == "bootstrap-rounds"
    assert len(report.configs) == 5


def test_score_is_comparable_only_for_an_sm8450_phone_gpu(report, report_inputs) -> None:
    configs = {c.first.model.sha256: c for c in report.configs}
    phone = configs[report_inputs.phone_sha]
    assert phone.first.status == "ok" and phone.scored.not_comparable is None
    assert phone.scored.basis == "avg"  # this log predates the median: the mean is used, and labelled
    assert phone.scored.score == pytest.approx(challenge_score(23.9, phone.first.latency_ms.avg))
    tiny = next(c for c in report.configs if c.first.model.name == "tiny_isp")
    assert tiny.scored.score is not None and "host CPU" in tiny.scored.not_comparable
    assert tiny.scored.basis.startswith("median of 2 rounds")
    failed = configs[report_inputs.failed_sha]
    assert failed.status == "delegate-failed" and failed.scored.score is None


def test_markdown(outputs, report, report_inputs) -> None:
    md = outputs["md"]
    assert md.startswith("## mai-bench report")
    assert "| | model | device | delegate | runtime | median ms (95% CI) |" in md
    assert "✅ ok" in md and "❌ delegate-failed" in md
    assert "tiny\\_isp" in md and "phone\\_isp" in md
    assert re.search(r"score not comparable with Table 1: host CPU runtime", md)
    assert "never\\_run" in md  # fidelity without a runtime result
    phone = next(c for c in report.configs if c.first.model.sha256 == report_inputs.phone_sha)
    assert f"{phone.scored.score:.2f} |" in md  # comparable: no footnote mark
    assert "fix" in md.lower() and "--warmup" in md


def test_table(outputs) -> None:
    text = outputs["table"]
    for expected in ("Summary", "Latency (ms)", "tiny_isp", "phone_isp", "delegate-failed", "bootstrap-rounds",
                     "note: Score = "):
        assert expected in text
    proc = mai_bench("report", "--help")
    assert proc.returncode == 0 and "--format" in proc.stdout


def test_json_holds_the_merged_results(outputs, report_inputs) -> None:
    data = json.loads(outputs["json"])
    assert data["schema"] == "mai-bench/report/1" and len(data["results"]) == report_inputs.result_count
    originals = {r.created_at + r.model.sha256: r for r in load_inputs([report_inputs.dir]).results}
    for entry in data["results"]:
        original = originals[entry["created_at"] + entry["model"]["sha256"]]
        assert result_from_dict(entry).to_dict() == original.to_dict()  # a complete result, raw log included
        assert set(entry) >= {"fidelity", "score", "advice", "runtime_kind"}
    evil = next(e for e in data["results"] if e["model"]["sha256"] == report_inputs.evil_sha)
    assert evil["model"]["name"] == report_inputs.evil and evil["fidelity"]["psnr"] == 21.0
    assert [f["model_sha256"] for f in data["fidelity_without_results"]] == [report_inputs.orphan_sha]
    assert {c["summary"]["method"] for c in data["configs"]} >= {"bootstrap-rounds", "normal-median"}


def test_csv_loads_with_pandas_and_round_trips(outputs, report, report_inputs) -> None:
    frame = pd.read_csv(io.StringIO(outputs["csv"]))
    assert list(frame.columns) == list(COLUMNS) and len(frame) == report_inputs.result_count
    for (_, got), row in zip(frame.iterrows(), report.rows):
        for column, value in row_values(row).items():
            cell = got[column]
            if value is None:
                assert pd.isna(cell), column
            elif isinstance(value, bool):
                assert bool(cell) is value, column
            elif isinstance(value, (int, float)):
                assert float(cell) == float(value), column  # full precision, no rounding
            else:
                assert cell == csv_text(value), column
    again = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    pd.testing.assert_frame_equal(frame, again)
    phone = frame[frame.model_sha256 == report_inputs.phone_sha].iloc[0]
    assert bool(phone.score_comparable) and phone.score_runtime == "avg" and phone.psnr == 23.9
    host = frame[frame.model == "tiny_isp"]
    assert len(host) == 2 and not host.score_comparable.astype(bool).any()
    assert math.isnan(frame[frame.model_sha256 == report_inputs.failed_sha].iloc[0].score)


def test_html_is_one_self_contained_file(outputs) -> None:
    page = outputs["html"]
    assert page.startswith("<!DOCTYPE html>") and 'http-equiv="Content-Security-Policy"' in page
    for chart in ("chart-psnr-runtime", "chart-latency", "chart-devices"):
        assert f'id="{chart}"' in page
    assert page.count("<svg") >= 3
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)  # nothing from the network
    assert "<script" not in page.lower()
    assert "MicroISP 1.0" in page and "arXiv:2211.03885" in page  # Table 1 with its source


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_hostile_text_never_survives_unescaped(outputs, report_inputs, fmt) -> None:
    """Each format by its own rules: no raw control characters anywhere; markup escaped where text is markup
    (HTML, Markdown; JSON too, so it stays inert if pasted into a page); the terminal and CSV are not markup,
    there `<script>` is plain text and only the control characters and rich markup matter."""
    text = outputs[fmt]
    assert "\x1b" not in text, "a raw terminal escape sequence reached the output"
    visible = {"html": "\\x1b[31m", "md": "\\\\x1b\\[31m", "json": "\\u001b[31m", "csv": "\\x1b[31m",
               "table": "\\x1b[31m"}
    assert visible[fmt] in text, "the escape sequence is shown, not dropped"
    if fmt in ("html", "md", "json"):
        assert "<script" not in text.lower()
    if fmt == "md":
        cell = md_text(report_inputs.evil, 48)  # as the table shows it: cut to 48 characters
        assert cell in text and "\\|" in cell  # opens no tag, splits no cell
    if fmt == "html":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    if fmt == "json":
        assert "\\u003cscript\\u003e" in text
        assert any(r["model"]["name"] == report_inputs.evil for r in json.loads(text)["results"])
    if fmt == "table":
        assert "[bold" in text and "red]" in text  # shown as text, not taken as rich markup


def test_terminal_report_on_stdout_escapes_too(report_inputs) -> None:
    proc = mai_bench("report", str(report_inputs.dir))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[31m" not in proc.stdout and safe_text(report_inputs.evil)[:20] in proc.stdout
    as_json = mai_bench("report", str(report_inputs.dir), "--json")
    assert json.loads(as_json.stdout)["schema"] == "mai-bench/report/1"


def test_render_by_suffix_and_errors(report_inputs, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    assert mai_bench("report", str(report_inputs.dir), "-o", str(out)).returncode == 0
    assert out.read_text().startswith("## mai-bench report")
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"schema": "something/else"}))
    proc = mai_bench("report", str(bogus))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "something/else" in proc.stderr
    clash = mai_bench("report", str(report_inputs.dir), "--json", "--format", "md")
    assert clash.returncode == 2 and "Traceback" not in clash.stderr
    with pytest.raises(ValueError):
        render(build_report([]), "pdf")


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("a\x1bb\nc", "a\\x1bb\\x0ac"), ("plain", "plain"),
])
def test_csv_text(value, expected) -> None:
    assert csv_text(value) == expected


def test_escapes() -> None:
    assert safe_text("a\u202eb\x07") == "a\\u202eb\\x07"  # bidi override and bell made visible
    assert safe_text("x" * 10, limit=5) == "xxxx\u2026"
    assert md_text("a|b*c_[d](e)<f>&") == "a\\|b\\*c\\_\\[d\\](e)&lt;f&gt;&amp;"
    assert json.loads(json_dumps({"k": "<a & b>\x1b"})) == {"k": "<a & b>\x1b"}
    assert "<" not in json_dumps({"k": "<"}) and "\x1b" not in json_dumps({"k": "\x1b"})
