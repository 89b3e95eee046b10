"""JUnit XML (the Jenkins/Ant flavour CI systems read): one testsuite per device, one testcase per job with
classname = the device (`SERVER/SERIAL`) and name = `model/delegate`. A failed check is a <failure> carrying
every reason and the tail of the raw benchmark log; an infrastructure error is an <error>."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from mai_bench.farm.thresholds import ERROR, FAILED, Verdict, device_key

LOG_TAIL_LINES = 40
# Characters XML 1.0 cannot carry at all (control codes other than tab, newline, carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", value)


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(log.rstrip().splitlines()[-lines:])


def _seconds(verdict: Verdict) -> str:
    return f"{verdict.result.duration_s or 0.0:.3f}"


def _case(parent: ET.Element, verdict: Verdict) -> None:
    r = verdict.result
    case = ET.SubElement(parent, "testcase", name=_text(f"{r.model.name}/{r.delegate}"),
                         classname=_text(device_key(r)), time=_seconds(verdict))
    reasons = verdict.reasons
    if verdict.outcome in (FAILED, ERROR):
        tag = "error" if verdict.outcome == ERROR else "failure"
        kind = "infrastructure" if verdict.outcome == ERROR else "threshold" if r.status == "ok" else r.status
        body = "\n".join(reasons)
        tail = log_tail(r.raw_log)
        if tail:
            body += f"\n\nlog tail ({LOG_TAIL_LINES} lines at most):\n{tail}"
        element = ET.SubElement(case, tag, message=_text(reasons[0] if reasons else r.status), type=kind)
        element.text = _text(body)
    lines = [f"status: {r.status}", f"job: {verdict.job_id}"]
    lines += [f"{c.name}: {c.outcome} ({c.detail})" for c in verdict.checks]
    ET.SubElement(case, "system-out").text = _text("\n".join(lines))


def junit_xml(verdicts: Sequence[Verdict], *, name: str, timestamp: str, hostname: str) -> str:
    """The JUnit document for these verdicts. `timestamp` is ISO 8601 without a time zone, as the format wants."""
    suites: dict[str, list[Verdict]] = {}
    for v in verdicts:
        suites.setdefault(device_key(v.result), []).append(v)

    def counts(items: Sequence[Verdict]) -> dict[str, str]:
        return {"tests": str(len(items)), "failures": str(sum(v.outcome == FAILED for v in items)),
                "errors": str(sum(v.outcome == ERROR for v in items)),
                "time": f"{sum(v.result.duration_s or 0.0 for v in items):.3f}"}

    root = ET.Element("testsuites", name=_text(name), **counts(verdicts))
    for index, (device, items) in enumerate(suites.items()):
        suite = ET.SubElement(root, "testsuite", name=_text(device), id=str(index), package=_text(name),
                              hostname=_text(hostname), timestamp=timestamp, skipped="0", **counts(items))
        for verdict in items:
            _case(suite, verdict)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
