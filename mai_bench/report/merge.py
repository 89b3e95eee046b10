"""Results and fidelity documents merged into one report: rows (one per result), configurations (rounds
summarized, see `mai_bench.stats`), PSNR/SSIM joined by model sha256, and the challenge score where both a
PSNR and a runtime are known, with the reason whenever that score is not comparable with Table 1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from mai_bench import __version__
from mai_bench.clock import utc_now
from mai_bench.baselines import DELEGATE as CHALLENGE_DELEGATE
from mai_bench.baselines import PROFILE as CHALLENGE_PROFILE
from mai_bench.baselines import REFERENCE_MODELS, SOURCE
from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.gpu.labels import gpu_cost_note
from mai_bench.report.inputs import Fidelity
from mai_bench.results.label import timings_label
from mai_bench.results.schema import Result
from mai_bench.score import FORMULA, PSNR_RANGE_DB, challenge_score, plausible_psnr
from mai_bench.stats.advice import Advice, result_advice
from mai_bench.stats.config import ConfigKey, device_id, group_by_config
from mai_bench.stats.summary import Summary, summarize

REPORT_SCHEMA = "mai-bench/report/1"
SCORE_NOTE = (f"Score = {FORMULA}, the challenge's Final Score. It is meaningful only for a runtime measured "
              f"with the GPU delegate on an SM8450 (Snapdragon 8 Gen 1) phone at the challenge's input "
              f"{'x'.join(map(str, FULL_HD_INPUT))}; any other score is marked with the reason and is for "
              "orientation only. Host CPU and emulated-device runtimes are not comparable with a phone's GPU. "
              "The score uses the runtime in the summary: the median, or the mean (marked) for a log without one.")


@dataclass(frozen=True)
class Scored:
    """The score of a runtime: `basis` says which statistic it used; `not_comparable` why it cannot be set
    beside Table 1 (None when it can)."""

    score: float | None
    runtime_ms: float | None
    basis: str | None
    not_comparable: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "runtime_ms": self.runtime_ms, "basis": self.basis,
                "comparable": self.score is not None and self.not_comparable is None,
                "not_comparable": self.not_comparable}


def _software_gpu(result: Result) -> str | None:
    from mai_bench.gpu.labels import host_gpu_label, software_gpu

    if result.delegate != "gpu" or timings_label(result) != result.delegate:
        return None  # not the GPU's numbers: a CPU fallback's
    return software_gpu(result.device) or host_gpu_label(result.device)


def runtime_kind(result: Result) -> str:
    """Where a runtime comes from, in words a report can show."""
    device = result.device
    software = _software_gpu(result)
    if device.backend == "host":
        return f"host {software}" if software else "host CPU"
    if device.emulated:
        return f"emulated device ({software} on the host CPU)" if software else "emulated device (host CPU)"
    label = timings_label(result)
    if label != result.delegate:
        return f"phone, {label}"
    return f"phone {result.delegate.upper() if result.delegate == 'gpu' else result.delegate}"


def comparability(result: Result) -> str | None:
    """Why `result`'s runtime cannot stand beside Table 1's GPU runtimes; None when it can."""
    device = result.device
    software = _software_gpu(result)
    if device.backend == "host":
        return f"host {software} runtime, not a phone GPU's" if software else "host CPU runtime, not a phone GPU's"
    if device.emulated:
        return (f"emulated device: a {software} on the host CPU, not a phone GPU's" if software
                else "emulated device: a host CPU runtime, not a phone GPU's")
    if result.status != "ok":
        return f"status {result.status}: not the {result.delegate} delegate's full runtime"
    if result.delegate != CHALLENGE_DELEGATE:
        return f"{result.delegate} delegate, not the GPU delegate the challenge timed"
    if device.profile != CHALLENGE_PROFILE:
        return f"GPU of {device.profile or 'an unknown SoC'}, not the SM8450 the challenge timed"
    if result.model.input_shape is not None and tuple(result.model.input_shape) != FULL_HD_INPUT:
        shape = "x".join(map(str, result.model.input_shape))
        return f"input {shape}, not the challenge's {'x'.join(map(str, FULL_HD_INPUT))}"
    return None


def _scored(result: Result, fidelity: Fidelity | None, runtime_ms: float | None, basis: str | None) -> Scored:
    psnr = fidelity.psnr if fidelity is not None else None
    if psnr is None or not runtime_ms:
        return Scored(None, runtime_ms, basis, None)
    if not plausible_psnr(psnr):
        low, high = PSNR_RANGE_DB
        return Scored(None, runtime_ms, basis, f"PSNR {psnr:g} dB is outside {low:g}-{high:g} dB: no score")
    return Scored(challenge_score(psnr, runtime_ms), runtime_ms, basis, comparability(result))


@dataclass(frozen=True)
class Row:
    """One result with its fidelity, score and warnings."""

    result: Result
    fidelity: Fidelity | None
    scored: Scored
    advice: tuple[Advice, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "fidelity": None if self.fidelity is None else self.fidelity.to_dict(),
                "score": self.scored.to_dict(), "runtime_kind": runtime_kind(self.result),
                "timings_from": timings_label(self.result),
                "advice": [a.to_dict() for a in self.advice]}


@dataclass(frozen=True)
class Config:
    """The rounds of one configuration, summarized."""

    key: ConfigKey
    rounds: tuple[Result, ...]
    summary: Summary
    fidelity: Fidelity | None
    scored: Scored

    @property
    def first(self) -> Result:
        return self.rounds[0]

    @property
    def typical(self) -> Result:
        """A round whose numbers the summary holds (the first measured one), else the first round."""
        return next((r for r in self.rounds if r.measured), self.rounds[0])

    @property
    def status(self) -> str:
        """"ok" when every round measured, else the other statuses seen."""
        bad = sorted({r.status for r in self.rounds if r.status != "ok"})
        return ", ".join(bad) if bad else "ok"

    @property
    def reference_model(self) -> str | None:
        return REFERENCE_MODELS.get(self.first.model.name)

    def to_dict(self) -> dict[str, Any]:
        first = self.first
        return {"model": first.model.name, "model_sha256": first.model.sha256, "delegate": first.delegate,
                "device": device_id(first.device), "binary_sha256": first.binary.sha256,
                "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.key.workload},
                "status": self.status, "runtime_kind": runtime_kind(self.typical),
                "summary": self.summary.to_dict(),
                "fidelity": None if self.fidelity is None else self.fidelity.to_dict(),
                "score": self.scored.to_dict(), "reference_model": self.reference_model}


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    configs: tuple[Config, ...]
    unmatched_fidelity: tuple[Fidelity, ...]  # quality numbers of models with no runtime result here
    notes: tuple[str, ...]
    created_at: str

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(device_id(row.result.device) for row in self.rows))

    def to_dict(self) -> dict[str, Any]:
        return {"schema": REPORT_SCHEMA, "created_at": self.created_at, "tool_version": __version__,
                "configs": [c.to_dict() for c in self.configs], "results": [r.to_dict() for r in self.rows],
                "fidelity_without_results": [f.to_dict() for f in self.unmatched_fidelity],
                "notes": list(self.notes), "baselines_source": SOURCE}


def _latest_by_model(fidelity: Sequence[Fidelity]) -> dict[str, Fidelity]:
    latest: dict[str, Fidelity] = {}
    for doc in sorted(fidelity, key=lambda f: f.created_at or ""):
        latest[doc.model_sha256] = doc  # a later evaluation of the same file replaces an earlier one
    return latest


def build_report(results: Sequence[Result], fidelity: Sequence[Fidelity] = ()) -> Report:
    """Merge results with fidelity documents (by model sha256) and summarize each configuration."""
    by_model = _latest_by_model(fidelity)
    rows = []
    for result in results:
        doc = by_model.get(result.model.sha256)
        lat = result.latency_ms
        runtime, basis = (lat.median, "median") if lat.median is not None else (lat.avg, "avg")
        rows.append(Row(result=result, fidelity=doc, advice=result_advice(result),
                        scored=_scored(result, doc, runtime, basis if runtime is not None else None)))
    configs = []
    for key, rounds in group_by_config(results).items():
        summary = summarize(rounds)
        doc = by_model.get(key.identity.model_sha256)
        basis = None
        if summary.center_ms is not None:
            basis = summary.statistic if summary.measured_rounds == 1 else \
                f"median of {summary.measured_rounds} rounds' {summary.statistic}s"
        typical = next((r for r in rounds if r.measured), rounds[0])
        configs.append(Config(key=key, rounds=tuple(rounds), summary=summary, fidelity=doc,
                              scored=_scored(typical, doc, summary.center_ms, basis)))
    measured_models = {r.model.sha256 for r in results}
    unmatched = tuple(doc for sha, doc in by_model.items() if sha not in measured_models)
    return Report(rows=tuple(rows), configs=tuple(configs), unmatched_fidelity=unmatched,
                  notes=_notes(rows, configs, fidelity, by_model),
                  created_at=utc_now())


def _notes(rows: Sequence[Row], configs: Sequence[Config], fidelity: Sequence[Fidelity],
           by_model: dict[str, Fidelity]) -> tuple[str, ...]:
    notes = [SCORE_NOTE]
    if any(c.reference_model for c in configs):
        notes.append("microisp_1_0, microisp_0_5 and pynet_v2_mobile are runtime references (random weights, the "
                     "published structure): their latency is meaningful, their image quality is not.")
    if len(fidelity) > len(by_model):
        notes.append("several fidelity documents for one model: the latest (by created_at) is used.")
    if not any(row.fidelity for row in rows):
        notes.append("no fidelity document matches these results: PSNR, SSIM and the score need one "
                     "(`mai-bench eval MODEL --data DIR --out DIR`, then pass DIR to the report).")
    notes.extend(note for note in (gpu_cost_note(row.result) for row in rows) if note)  # what the GPU path costs
    return tuple(notes)
