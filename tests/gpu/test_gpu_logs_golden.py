"""Golden: the host runner's GPU accelerator logs (tests/fixtures/gpu_logs) through the parser and the
classification `mai-bench run` and `mai-bench parse` share."""

from __future__ import annotations

from pathlib import Path

import pytest

from mai_bench.gpu.labels import adapter_properties
from mai_bench.parse import parse_log
from mai_bench.results.build import classify_run, requested_delegate

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "gpu_logs"

GOLDEN = [
    # file, status, (delegated, total), timed runs, unsupported ops
    ("swiftshader-full-tiny_isp.txt", "ok", (12, 12), 3, ()),
    ("swiftshader-partial-lrn-timed.txt", "delegate-fallback", (4, 7), 3, ("LOCAL_RESPONSE_NORMALIZATION",)),
    ("swiftshader-partial-lrn-refused.txt", "delegate-fallback", (4, 7), None, ("LOCAL_RESPONSE_NORMALIZATION",)),
    ("no-vulkan-device-failed.txt", "delegate-failed", (None, None), None, ()),
]


@pytest.mark.parametrize("name, status, counts, runs, unsupported", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_gpu_accelerator_logs_classify(name, status, counts, runs, unsupported):
    text = (LOGS / name).read_text()
    parsed = parse_log(text)
    exit_code = 1 if "Benchmarking failed." in text else 0
    assert requested_delegate(parsed) == "gpu"  # what `mai-bench parse` infers from the log alone
    got, delegation = classify_run("gpu", parsed, exit_code=exit_code)
    assert got == status
    assert (delegation.nodes_delegated, delegation.nodes_total) == counts
    assert parsed.count == runs
    assert parsed.unsupported_ops == unsupported
    if counts[0] is not None:
        assert delegation.names == ("GPU WebGPU",)
        assert adapter_properties(text)["gpu.software"] == "true"
    else:
        assert adapter_properties(text) == {}
        assert any("No adapters found" in reason for reason in delegation.reasons)
