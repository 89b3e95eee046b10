"""The report as ONE self-contained HTML file: tables, and charts drawn by matplotlib as inline SVG. It loads
nothing from the network and runs no script; a Content-Security-Policy forbids both, so even a string that
slipped past escaping could not execute. Every text from results, devices or file names goes through
`html_text`."""

from __future__ import annotations

from mai_bench.baselines import PLATFORM, SOURCE, table1
from mai_bench.report import charts
from mai_bench.report.escape import html_text
from mai_bench.report.merge import Report, runtime_kind
from mai_bench.report.numbers import fmt_interval, fmt_ms, fmt_psnr, fmt_score, fmt_ssim, status_level
from mai_bench.results.label import timings_label
from mai_bench.stats.config import device_id

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
NAME_LIMIT = 80

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; margin: 8px 0; } caption { text-align: left; color: #555; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
th { background: #f4f4f4; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fff3f3; } .muted { color: #666; } .warn { color: #9a5b00; }
figure { margin: 12px 0; } figure svg { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; } ul.footnotes { list-style: none; padding-left: 0; margin: 4px 0; }
.st { font-weight: 600; padding: 0 4px; border-radius: 3px; white-space: nowrap; }
.st.ok { color: #17692c; background: #e3f5e7; } .st.warn { color: #7a4b00; background: #fff1d6; }
.st.bad { color: #a1161b; background: #fde2e2; }
"""


def _cells(values: list[str], numeric: set[int] = frozenset()) -> str:
    return "".join(f'<td class="n">{v}</td>' if i in numeric else f"<td>{v}</td>" for i, v in enumerate(values))


def _status(status: str) -> str:
    return f'<span class="st {status_level(status)}">{html_text(status)}</span>'


def _table(headers: list[str], rows: list[str], caption: str | None = None) -> str:
    head = "".join(f"<th>{html_text(h)}</th>" for h in headers)
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _summary(report: Report) -> str:
    rows, footnotes = [], []
    for c in report.configs:
        first, s = c.first, c.summary
        score = fmt_score(c.scored.score)
        if c.scored.score is not None and c.scored.not_comparable:
            footnotes.append(html_text(c.scored.not_comparable))
            score += f' <sup class="warn">[{len(footnotes)}]</sup>'
        cls = "" if c.status == "ok" else ' class="bad"'
        rows.append(f"<tr{cls}>" + _cells([
            _status(c.status), html_text(first.model.name, NAME_LIMIT),
            html_text(device_id(first.device), NAME_LIMIT), html_text(first.delegate),
            html_text(runtime_kind(c.typical)), str(s.rounds), html_text(fmt_interval(s)), html_text(s.method),
            fmt_psnr(c.fidelity.psnr if c.fidelity else None), fmt_ssim(c.fidelity.ssim if c.fidelity else None),
            score], numeric={5, 6, 8, 9, 10}) + "</tr>")
    table = _table(["status", "model", "device", "delegate", "runtime", "rounds", "median ms (95% CI)",
                    "interval", "PSNR", "SSIM", "score"], rows,
                   "One line per configuration; several results of one configuration are rounds.")
    notes = "".join(f'<li class="warn">[{i}] score not comparable with Table 1: {text}</li>'
                    for i, text in enumerate(footnotes, 1))
    return table + (f'<ul class="footnotes">{notes}</ul>' if notes else "")


def _results(report: Report) -> str:
    rows = []
    for i, row in enumerate(report.rows, 1):
        r, lat = row.result, row.result.latency_ms
        cls = "" if r.measured else ' class="bad"'
        shape = "x".join(map(str, r.model.input_shape)) if r.model.input_shape else "-"
        rows.append(f"<tr{cls}>" + _cells([
            str(i), html_text(r.model.name, NAME_LIMIT), html_text(r.device.serial, NAME_LIMIT),
            html_text(timings_label(r)), _status(r.status), html_text(shape),
            html_text("-" if r.threads is None else r.threads),
            fmt_ms(lat.init), fmt_ms(lat.first), fmt_ms(lat.avg), fmt_ms(lat.std), fmt_ms(lat.median), fmt_ms(lat.p5),
            fmt_ms(lat.p95), "-" if lat.count is None else str(lat.count),
            html_text(r.model.sha256[:12]), html_text(r.created_at)], numeric={0, 7, 8, 9, 10, 11, 12, 13, 14})
            + "</tr>")
    return _table(["#", "model", "device serial", "delegate", "status", "input", "threads", "init", "first", "avg",
                   "std", "median", "p5", "p95", "runs", "model sha256", "created"], rows,
                  "Every result (milliseconds); the numbers match the latency chart. A requested accelerator that "
                  "did not take the whole graph is shown as CPU fallback: its numbers are not the delegate's.")


def _warnings(report: Report) -> str:
    items = []
    for row in report.rows:
        r = row.result
        if r.status != "ok":
            reasons = "; ".join(r.delegation.reasons) or "see the raw log in the result file"
            items.append(f'<li>{_status("failed")} <b>{html_text(r.model.name, NAME_LIMIT)}</b> / '
                         f"{html_text(r.delegate)} on {html_text(device_id(r.device))}: status {html_text(r.status)}: "
                         f"{html_text(reasons)}</li>")
        items += [f'<li class="warn">{html_text(r.model.name, NAME_LIMIT)}: {html_text(w)}</li>' for w in r.warnings]
    for c in report.configs:
        label = f"{c.first.model.name} / {c.first.delegate} / {device_id(c.first.device)}"
        items += [f'<li><span class="st warn">warning</span> <b>{html_text(label, NAME_LIMIT)}</b>: '
                  f"{html_text(a.message)}. <i>Fix:</i> {html_text(a.fix)}</li>" for a in c.summary.warnings]
    if not items:
        return "<p class=\"muted\">No warnings.</p>"
    return f"<ul>{''.join(items)}</ul>"


def _table1() -> str:
    rows = []
    for e in table1():
        rows.append("<tr>" + _cells([
            html_text(e.team), html_text(e.author), html_text(e.framework), f"{e.size_mb:g}", f"{e.psnr:g}",
            f"{e.ssim:g}", f"{e.cpu_ms:g}", f"{e.gpu_ms:g}", f"{e.score:.{e.score_decimals}f}",
            "-" if e.mos is None else f"{e.mos:g}", html_text(e.note or "")], numeric={3, 4, 5, 6, 7, 8, 9}) + "</tr>")
    return _table(["team", "author", "framework", "size MB", "PSNR", "SSIM", "CPU ms", "GPU ms", "score", "MOS",
                   "note"], rows, f"{html_text(PLATFORM)}. Source: {html_text(SOURCE)}.")


def _figure(svg: str | None, ident: str, caption: str) -> str:
    if svg is None:
        return ""
    return (f'<figure class="chart" id="{ident}">{svg}'
            f'<figcaption class="muted">{html_text(caption)}</figcaption></figure>')


def render(report: Report) -> str:
    unmatched = "".join(f"<li>{html_text(d.model_name or d.model_sha256[:12], NAME_LIMIT)}: PSNR "
                        f"{fmt_psnr(d.psnr)}, SSIM {fmt_ssim(d.ssim)} <span class=\"muted\">({html_text(d.source)})"
                        "</span></li>" for d in report.unmatched_fidelity)
    body = [
        "<h1>mai-bench report</h1>",
        f'<p class="muted">{len(report.rows)} results, {len(report.configs)} configurations, '
        f"{len(report.devices)} devices; made {html_text(report.created_at)}.</p>",
        "<h2>Summary</h2>", _summary(report) if report.configs else "<p>No runtime results.</p>",
        "<h2>Charts</h2>",
        _figure(charts.pareto_svg(report), "chart-psnr-runtime",
                "PSNR versus runtime. Your models appear where a fidelity document gives their PSNR."),
        _figure(charts.latency_svg(report.rows), "chart-latency", "Latency distribution per result."),
        _figure(charts.devices_svg(report), "chart-devices", "Median latency per device."),
        "<h2>Warnings</h2>", _warnings(report),
        "<h2>Results</h2>", _results(report) if report.rows else "<p>No runtime results.</p>",
    ]
    if unmatched:
        body += ["<h2>Fidelity without a runtime result</h2>", f"<ul>{unmatched}</ul>"]
    body += ["<h2>Mobile AI 2022 Learned Smartphone ISP challenge, Table 1</h2>", _table1(),
             "<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html_text(n)}</li>" for n in report.notes) + "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>mai-bench report</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(part for part in body if part) + "\n</body></html>\n")
