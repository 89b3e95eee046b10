"""The report as GitHub-flavoured Markdown, compact enough for a pull-request comment or a CI step summary:
one table line per configuration, then warnings with their fixes, then notes. Text from files and devices goes
through `md_text`, so it can never open a tag, a link or a table cell."""

from __future__ import annotations

from mai_bench.report.escape import md_text
from mai_bench.report.merge import Config, Report, runtime_kind
from mai_bench.report.numbers import fmt_interval, fmt_psnr, fmt_score, fmt_ssim, status_mark
from mai_bench.stats.config import device_id

NAME_LIMIT = 48  # characters of a model name or device in a table cell


def _label(config: Config) -> str:
    first = config.first
    return f"{md_text(first.model.name, NAME_LIMIT)} / {md_text(first.delegate)} / " \
           f"{md_text(device_id(first.device), NAME_LIMIT)}"


def render(report: Report) -> str:
    lines = ["## mai-bench report", ""]
    footnotes: list[str] = []
    if report.configs:
        lines += ["| | model | device | delegate | runtime | median ms (95% CI) | rounds | PSNR | SSIM | score |",
                  "|---|---|---|---|---|--:|--:|--:|--:|--:|"]
        for c in report.configs:
            first, s = c.first, c.summary
            score = fmt_score(c.scored.score)
            if c.scored.score is not None and c.scored.not_comparable:
                footnotes.append(f"{_label(c)}: score not comparable with Table 1: "
                                 f"{md_text(c.scored.not_comparable)}")
                score += f" [{len(footnotes)}]"
            lines.append(" | ".join([
                f"| {status_mark(c.status)} {md_text(c.status)}", md_text(first.model.name, NAME_LIMIT),
                md_text(device_id(first.device), NAME_LIMIT), md_text(first.delegate),
                md_text(runtime_kind(c.typical)),
                fmt_interval(s), str(s.rounds), fmt_psnr(c.fidelity.psnr if c.fidelity else None),
                fmt_ssim(c.fidelity.ssim if c.fidelity else None), score]) + " |")
        lines.append("")
    else:
        lines += ["No runtime results.", ""]
    for i, text in enumerate(footnotes, 1):
        lines.append(f"[{i}] {text}  ")
    if footnotes:
        lines.append("")
    warnings = [(c, a) for c in report.configs for a in c.summary.warnings]
    failures = [row for row in report.rows if row.result.status != "ok"]
    if warnings or failures:
        lines += ["**Warnings**", ""]
        for row in failures:
            r = row.result
            reasons = "; ".join(r.delegation.reasons) or "see the raw log"
            lines.append(f"- ❌ {md_text(r.model.name, NAME_LIMIT)} / {md_text(r.delegate)}: status "
                         f"{md_text(r.status)}: {md_text(reasons, 300)}")
        for config, advice in warnings:
            lines.append(f"- ⚠️ {_label(config)}: {md_text(advice.message)}. Fix: {md_text(advice.fix)}")
        lines.append("")
    if report.unmatched_fidelity:
        lines += ["**Fidelity without a runtime result**", ""]
        for doc in report.unmatched_fidelity:
            name = md_text(doc.model_name or doc.model_sha256[:12], NAME_LIMIT)
            lines.append(f"- {name}: PSNR {fmt_psnr(doc.psnr)}, SSIM {fmt_ssim(doc.ssim)}")
        lines.append("")
    lines += ["<details><summary>Notes</summary>", ""]
    lines += [f"- {md_text(note)}" for note in report.notes]
    lines += ["- Interval methods: bootstrap-rounds (2+ results of one configuration), normal-median or normal-mean "
              "(one result: its stat line; within-run noise only).", "", "</details>", ""]
    return "\n".join(lines)
