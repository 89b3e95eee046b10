from __future__ import annotations

import pytest

from mai_bench.errors import UsageError
from mai_bench.plan import RunPlan


def test_flags_per_delegate() -> None:
    assert "--use_xnnpack=false" in RunPlan(delegate="cpu").benchmark_flags("m")
    assert "--use_xnnpack=true" in RunPlan(delegate="xnnpack").benchmark_flags("m")
    gpu = RunPlan(delegate="gpu", gpu_backend="cl", precision="fp32").benchmark_flags("m")
    assert {"--use_gpu=true", "--gpu_backend=cl", "--gpu_precision_loss_allowed=false"} <= set(gpu)
    nnapi = RunPlan(delegate="nnapi", nnapi_accelerator="qti-gpu", precision="fp16").benchmark_flags("m")
    assert {"--use_nnapi=true", "--nnapi_accelerator_name=qti-gpu", "--nnapi_allow_fp16=true"} <= set(nnapi)
    hexagon = RunPlan(delegate="hexagon", hexagon_lib_path="/data/local/tmp/h").benchmark_flags("m")
    assert {"--use_hexagon=true", "--hexagon_lib_path=/data/local/tmp/h"} <= set(hexagon)


def test_run_counts_threads_and_shape() -> None:
    flags = RunPlan(threads=2, runs=7, warmup=3, min_secs=0.5, resize_input=True, input_name="raw").benchmark_flags(
        "/x/m.tflite")
    assert flags[0] == "--graph=/x/m.tflite"
    for flag in ("--num_threads=2", "--num_runs=7", "--warmup_runs=3", "--min_secs=0.5", "--input_layer=raw",
                 "--input_layer_shape=1,544,960,4"):
        assert flag in flags
    assert not any(f.startswith("--input_layer") for f in RunPlan().benchmark_flags("m"))


@pytest.mark.parametrize("kwargs", [dict(delegate="tpu"), dict(threads=0), dict(runs=0), dict(warmup=-1),
                                    dict(gpu_backend="vulkan"), dict(precision="int4"), dict(input_shape=(1, 0, 2, 4))])
def test_bad_settings_are_usage_errors(kwargs) -> None:
    with pytest.raises(UsageError):
        RunPlan(**kwargs)


def test_resize_without_input_name_is_refused() -> None:
    with pytest.raises(UsageError):
        RunPlan(resize_input=True).benchmark_flags("m")


def test_an_accelerator_without_allow_fallback_requires_full_delegation() -> None:
    for delegate in ("gpu", "nnapi", "hexagon"):
        strict = RunPlan(delegate=delegate)
        assert strict.stops_on_fallback and "--require_full_delegation=true" in strict.benchmark_flags("m")
        allowed = RunPlan(delegate=delegate, allow_fallback=True)
        assert not allowed.stops_on_fallback
        assert not any(f.startswith("--require_full_delegation") for f in allowed.benchmark_flags("m"))
    for delegate in ("xnnpack", "cpu"):  # the CPU's own kernels: there is nothing to fall back from
        plan = RunPlan(delegate=delegate)
        assert not plan.stops_on_fallback
        assert not any(f.startswith("--require_full_delegation") for f in plan.benchmark_flags("m"))
