"""A folder of real inputs for the report tests, made once per session: host runs of tiny models (two rounds of
one configuration), phone results built from captured benchmark_model logs (a GPU run that worked and one
whose delegate failed), a result whose model name and device carry markup and terminal escape sequences,
and fidelity documents."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mai_bench.measure import measure_on_host
from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import BinaryRef, DeviceRef, ModelRef
from mai_bench.results.store import save_result
from mai_bench.session import RawRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVIL = "<script>alert(1)</script>\x1b[31m[bold red]$x$|pwn"
PHONE_SHA = "ab" * 32
FAILED_SHA = "cd" * 32
EVIL_SHA = "ef" * 32
ORPHAN_SHA = "12" * 32


def phone_result(log_name: str, sha: str, name: str, created: str):
    log = (FIXTURES / "logs" / log_name).read_text(encoding="utf-8", errors="replace")
    result = build_result(
        plan=RunPlan(delegate="gpu"), raw=RawRun(("benchmark_model", "--use_gpu=true"), log, 0, 9.0),
        parsed=parse_log(log),
        model=ModelRef(path=f"/data/local/tmp/{name}.tflite", name=name, sha256=sha, size_bytes=160_000,
                       input_shape=(1, 544, 960, 4), output_shape=(1, 1088, 1920, 3)),
        device=DeviceRef(serial="R5CT30ABCDE", backend="adb", soc="SM8450", profile="sm8450",
                         properties={"ro.product.model": "SM-S901B"}),
        binary=BinaryRef(name="benchmark_model", sha256="9" * 64, version="2.16"))
    return replace(result, created_at=created)


def fidelity(sha: str, name: str, psnr: float, ssim: float) -> dict:
    return {"schema": "mai-bench/fidelity/1", "model": {"path": f"/models/{name}.tflite", "name": name,
                                                       "sha256": sha},
            "psnr": psnr, "ssim": ssim, "count": 8, "data": {"dir": "/data"}, "per_image": [],
            "created_at": "2025-06-01T00:00:00+00:00", "tool_version": "0.1.0"}


@dataclass(frozen=True)
class ReportInputs:
    """The folder and what the tests need to know about its contents."""

    dir: Path
    evil: str = EVIL
    phone_sha: str = PHONE_SHA
    failed_sha: str = FAILED_SHA
    evil_sha: str = EVIL_SHA
    orphan_sha: str = ORPHAN_SHA
    result_count: int = 6


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory) -> ReportInputs:
    out = tmp_path_factory.mktemp("report-inputs")
    models = FIXTURES / "models"
    fast = dict(threads=1, runs=5, warmup=1, min_secs=0)
    host = [measure_on_host(models / "tiny_isp.tflite", RunPlan(input_shape=(1, 128, 128, 4), **fast))
            for _ in range(2)]
    host.append(measure_on_host(models / "tiny_isp_static.tflite", RunPlan(input_shape=(1, 32, 32, 4), **fast)))
    # Runs this fast share a second, and a result file is named by the second it was made in.
    host = [replace(r, created_at=f"2025-06-01T09:00:0{i}+00:00") for i, r in enumerate(host)]
    evil = replace(host[0], model=replace(host[0].model, name=EVIL, sha256=EVIL_SHA),
                   device=replace(host[0].device, serial=EVIL, soc="cpu " + EVIL, properties={"x": EVIL}),
                   created_at="2030-01-01T00:00:00+00:00")
    results = [*host, evil,
               phone_result("017_pocox3-gpu-full-opprofile.txt", PHONE_SHA, "phone_isp", "2025-06-01T10:00:00+00:00"),
               phone_result("011_android-xnnpack-full-fp32-p5median-count1000.txt", FAILED_SHA, "cpu_only_isp",
                            "2025-06-01T11:00:00+00:00")]
    for result in results:
        save_result(result, out)
    docs = [fidelity(host[0].model.sha256, "tiny_isp", 22.5, 0.81), fidelity(PHONE_SHA, "phone_isp", 23.9, 0.86),
            fidelity(EVIL_SHA, EVIL, 21.0, 0.7), fidelity(ORPHAN_SHA, "never_run", 24.0, 0.87)]
    for i, doc in enumerate(docs):
        (out / f"fidelity_{i}.json").write_text(json.dumps(doc))
    assert len(results) == ReportInputs.result_count
    return ReportInputs(dir=out)
