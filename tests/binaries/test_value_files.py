"""--input_layer_value_files with an input name holding ':' (TensorFlow's converter writes `serving_default_input_1:0`):
both escapes benchmark_model builds have used, read back the way each build splits an item, and a clear error
before anything runs where the build's escape is not known or cannot express the name."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from mai_bench.android.measure import DeviceRunOptions, _FidelityRun, value_files_escape
from mai_bench.binaries.value_files import BACKSLASH, CURRENT, DOUBLE_COLON, split_item, value_files_item
from mai_bench.device.profiles import get_profile
from mai_bench.errors import UsageError
from mai_bench.fidelity.images import write_png
from mai_bench.fidelity.on_device import with_fidelity
from mai_bench.plan import RunPlan

NAME = "serving_default_input_1:0"
PATH = "/data/local/tmp/mai-bench/inputs/ab12/fidelity_input.f32"


def test_current_sources_take_a_double_colon() -> None:
    item = value_files_item(NAME, PATH, DOUBLE_COLON)
    assert item == "serving_default_input_1::0:" + PATH
    assert split_item(item, DOUBLE_COLON) == (NAME, PATH)


def test_the_2022_sources_take_a_backslash() -> None:
    item = value_files_item(NAME, PATH, BACKSLASH)
    assert item == "serving_default_input_1\\:0:" + PATH
    assert split_item(item, BACKSLASH) == (NAME, PATH)


@pytest.mark.parametrize("item, escape, expected", [
    # The cases of the current sources' own unit test (tflite/tools/benchmark/benchmark_test.cc).
    ("input:/tmp/input", DOUBLE_COLON, ("input", "/tmp/input")),
    ("input::0:/tmp/input", DOUBLE_COLON, ("input:0", "/tmp/input")),
    ("input::0::0:/tmp/input", DOUBLE_COLON, ("input:0:0", "/tmp/input")),
    ("input::::0:/tmp::input", DOUBLE_COLON, ("input::0", "/tmp:input")),
    ("a:b:c", DOUBLE_COLON, None),  # more than one delimiter
    ("abc", DOUBLE_COLON, None),  # no delimiter
    ("input\\:0:/tmp/input", BACKSLASH, ("input:0", "/tmp/input")),
    ("a:b:c", BACKSLASH, None),
    # What broke the whole run: the unescaped name, read by a current build.
    (f"{NAME}:{PATH}", DOUBLE_COLON, None),
])
def test_split_reads_items_as_the_build_does(item, escape, expected) -> None:
    assert split_item(item, escape) == expected


@pytest.mark.parametrize("name", ["x:", ":x", "a::b", "in:0:1", "plain", "a\\:b", ""])
@pytest.mark.parametrize("escape", [DOUBLE_COLON, BACKSLASH])
def test_every_expressible_name_reads_back(name, escape) -> None:
    try:
        item = value_files_item(name, PATH, escape)
    except UsageError:
        assert escape == BACKSLASH  # only the backslash escape has names it cannot carry
        return
    assert split_item(item, escape) == (name, PATH)


@pytest.mark.parametrize("name, escape", [
    ("trailing\\", BACKSLASH),  # "trailing\\:path": the backslash escapes the delimiter itself
    ("", BACKSLASH),  # that build never takes the first character as the delimiter
    ("a,b", DOUBLE_COLON),  # ',' separates items in every build
])
def test_names_a_build_cannot_be_given_fail_with_the_fix(name, escape) -> None:
    with pytest.raises(UsageError) as caught:
        value_files_item(name, PATH, escape)
    assert "rename the model's input" in caught.value.fix


def test_unknown_escape_fails_only_for_a_name_with_a_colon() -> None:
    assert value_files_item("raw", PATH, None) == f"raw:{PATH}"
    with pytest.raises(UsageError) as caught:
        value_files_item(NAME, PATH, None)
    assert NAME in caught.value.message and "'::'" in caught.value.message and "'\\:'" in caught.value.message
    assert "--value-files-escape" in caught.value.fix and "drop --benchmark-binary" in caught.value.fix


def test_with_fidelity_passes_the_escaped_item() -> None:
    plan = with_fidelity(RunPlan(), NAME, PATH, "/data/local/tmp/o.out", DOUBLE_COLON)
    flags = plan.benchmark_flags("/data/local/tmp/m.tflite")
    assert f"--input_layer_value_files=serving_default_input_1::0:{PATH}" in flags
    assert f"--input_layer={NAME}" in flags
    assert "--input_layer_value_files=serving_default_input_1\\:0:" + PATH in with_fidelity(
        RunPlan(), NAME, PATH, "/o", BACKSLASH).extra_flags


def test_which_escape_each_binary_takes() -> None:
    loopback, phone = get_profile("loopback-sm8450"), get_profile("sm8450")
    assert value_files_escape(DeviceRunOptions(), phone) == CURRENT  # the nightly build
    assert value_files_escape(DeviceRunOptions(), loopback) == CURRENT  # its preinstalled runner
    custom = DeviceRunOptions(benchmark_binary=Path("/tmp/bm"))
    assert value_files_escape(custom, phone) is None
    assert value_files_escape(DeviceRunOptions(benchmark_binary=Path("/tmp/bm"), value_files_escape=BACKSLASH),
                              phone) == BACKSLASH


def test_a_device_run_fails_before_the_reference_or_the_run(tmp_path, monkeypatch) -> None:
    raw = tmp_path / "raw.png"
    write_png(raw, np.full((8, 12), 512, dtype=np.uint16))
    model = types.SimpleNamespace(inputs=[types.SimpleNamespace(name=NAME)])

    def never(*args, **kwargs):
        raise AssertionError("the host reference was computed for a run that cannot be started")

    monkeypatch.setattr("mai_bench.fidelity.on_device.host_reference", never)
    plan = RunPlan(input_shape=(1, 4, 6, 4))
    with pytest.raises(UsageError, match="--input_layer_value_files"):
        _FidelityRun.prepare(raw, model, plan, tmp_path / "work", lambda _: None, None)
    monkeypatch.undo()
