"""The farm plan: validation (unknown keys named with the file), model and reference resolution, and the
expansion into jobs with stable ids. Devices come from a fake resolver: no adb here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mai_bench.device.discovery import DeviceInfo
from mai_bench.device.errors import DeviceNotFound, UnknownDevice
from mai_bench.errors import UsageError
from mai_bench.farm.plan import CANDIDATE, REFERENCE, expand, load_plan, reference_models

MODELS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "models"


def write_plan(tmp_path: Path, **data) -> Path:
    base = {"models": [str(MODELS / "tiny_isp_fullhd.tflite"), str(MODELS / "tiny_isp.tflite")],
            "devices": ["sm8450"], "delegates": ["xnnpack", "cpu"], "runs": 2, "warmup": 1}
    base.update(data)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def device(server: str, serial: str) -> DeviceInfo:
    return DeviceInfo(server, serial, "device", profile="loopback-sm8450")


def fake_resolver(table):
    def resolve(spec: str):
        found = table[spec]
        if isinstance(found, Exception):
            raise found
        return found
    return resolve


def no_preflight(model, plan):
    from mai_bench.results.schema import ModelRef

    return plan, ModelRef(str(model), model.stem, "0" * 64, 1, plan.input_shape, None)


def test_unknown_keys_are_refused_naming_the_key_and_the_file(tmp_path: Path) -> None:
    path = write_plan(tmp_path, warmups=3)
    with pytest.raises(UsageError) as top:
        load_plan(path)
    assert "warmups" in top.value.message and str(path) in top.value.message
    path = write_plan(tmp_path, thresholds={"max_latency": 40})
    with pytest.raises(UsageError) as nested:
        load_plan(path)
    assert "max_latency" in nested.value.message and str(path) in nested.value.message
    assert "max_latency_ms" in nested.value.fix
    path = write_plan(tmp_path, thermal={"max_temp": 40})
    with pytest.raises(UsageError, match="max_temp"):
        load_plan(path)


@pytest.mark.parametrize("data, words", [
    ({"delegates": ["gpu", "tpu"]}, "tpu"),
    ({"devices": []}, "devices"),
    ({"devices": ["local"]}, "local"),
    ({"models": ["missing.tflite"]}, "missing.tflite"),
    ({"runs": "many"}, "runs"),
    ({"runs": 0}, "runs"),
    ({"input_shape": [1, 64, 64]}, "input_shape"),
    ({"servers": ["nohost:port"]}, "nohost:port"),
    ({"thresholds": {"max_ratio_vs": {"nonexistent-model": 1.2}}}, "nonexistent-model"),
    ({"thresholds": {"statistic": "mode"}}, "mode"),
    ({"thresholds": {"require_full_delegation": "yes"}}, "require_full_delegation"),
    ({"fidelity": "nowhere.json"}, "nowhere.json"),
])
def test_bad_values_are_usage_errors_that_say_what(tmp_path: Path, data: dict, words: str) -> None:
    with pytest.raises(UsageError) as error:
        load_plan(write_plan(tmp_path, **data))
    assert words in error.value.message


def test_models_resolve_relative_to_the_plan_and_by_reference_key(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "candidate.tflite").write_bytes((MODELS / "tiny_isp.tflite").read_bytes())
    plan = load_plan(write_plan(tmp_path, models=["models/candidate.tflite", "microisp-1.0"]))
    assert [m.path for m in plan.models] == [tmp_path / "models" / "candidate.tflite",
                                             reference_models()["microisp-1.0"]]
    assert all(m.role == CANDIDATE for m in plan.models)


def test_a_ratio_reference_outside_the_models_joins_as_a_reference_job(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, thresholds={"max_ratio_vs": {"microisp-1.0": 1.5, "tiny_isp": 3}}))
    roles = {m.name: m.role for m in plan.models}
    assert roles == {"tiny_isp_fullhd": CANDIDATE, "tiny_isp": CANDIDATE, "microisp_1_0": REFERENCE}
    limits = {limit.reference: limit for limit in plan.thresholds.max_ratio_vs}
    assert limits["microisp-1.0"].sha256 == next(m.sha256 for m in plan.models if m.name == "microisp_1_0")
    assert limits["tiny_isp"].sha256 == next(m.sha256 for m in plan.models if m.name == "tiny_isp")
    assert limits["tiny_isp"].max_ratio == 3.0


def test_servers_from_the_command_line_replace_the_plans(tmp_path: Path) -> None:
    from mai_bench.device.address import parse_server

    path = write_plan(tmp_path, servers=["10.0.0.1:5037", "10.0.0.2:5037"])
    assert [str(s) for s in load_plan(path).servers] == ["10.0.0.1:5037", "10.0.0.2:5037"]
    assert [str(s) for s in load_plan(path, [parse_server("127.0.0.1:6000")]).servers] == ["127.0.0.1:6000"]


def test_expansion_is_models_x_devices_x_delegates_with_stable_unique_ids(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, devices=["sm8450", "127.0.0.1:5038/serial-b"]))
    a, b = device("127.0.0.1:5037", "serial-a"), device("127.0.0.1:5038", "serial-b")
    resolve = fake_resolver({"sm8450": (a, b), "127.0.0.1:5038/serial-b": (b,)})
    jobs = expand(plan, resolve, no_preflight)
    assert len(jobs) == 2 * 2 * 2, "a device listed twice (profile and serial) runs once"
    assert len({j.id for j in jobs}) == len(jobs)
    assert [j.id for j in expand(plan, resolve, no_preflight)] == [j.id for j in jobs]
    first = jobs[0]
    assert first.id.startswith("tiny_isp_fullhd/xnnpack@127.0.0.1:5037/serial-a#")
    assert first.device_key == "127.0.0.1:5037/serial-a" and first.target == a
    changed = load_plan(write_plan(tmp_path, devices=["sm8450", "127.0.0.1:5038/serial-b"], runs=3))
    assert not {j.id for j in expand(changed, resolve, no_preflight)} & {j.id for j in jobs}, \
        "other run settings are another measurement"


def test_a_device_entry_that_finds_nothing_gives_jobs_carrying_the_reason(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, devices=["sm8450", "sm8550", "typo-serial"]))
    resolve = fake_resolver({
        "sm8450": (device("127.0.0.1:5037", "serial-a"),),
        "sm8550": DeviceNotFound("no ready device of profile sm8550", "attach one"),
        "typo-serial": UnknownDevice("--device 'typo-serial' is neither a device profile nor an attached serial"),
    })
    jobs = expand(plan, resolve, no_preflight)
    assert len(jobs) == 3 * 4
    missing = [j for j in jobs if j.target is None]
    assert {j.device_spec for j in missing} == {"sm8550", "typo-serial"} and len(missing) == 8
    assert all("sm8550" in str(j.problem) for j in missing if j.device_spec == "sm8550")


def test_a_device_entry_that_misspells_a_profile_is_a_plan_error_with_did_you_mean(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, devices=["sm8450", "sm845"]))
    resolve = fake_resolver({
        "sm8450": (device("127.0.0.1:5037", "serial-a"),),
        "sm845": UnknownDevice("--device 'sm845' is neither a device profile nor an attached serial"),
    })
    with pytest.raises(UsageError) as error:
        expand(plan, resolve, no_preflight)
    assert error.value.exit_code == 2 and not isinstance(error.value, UnknownDevice)
    assert "'sm845'" in error.value.message and str(plan.source) in error.value.message
    assert error.value.fix.startswith("did you mean sm8450?")


@pytest.mark.parametrize("entry, fix", [
    ("sm8450, sm8550", "devices: [sm8450, sm8550]"),  # a YAML string where a list was meant
    ("my phone", "devices: [my, phone]"),
    ("sm8450/", "a profile name"),
    ("farm-host:port/R5CT1", "HOST:PORT/SERIAL"),
    ("R5CT1*", "a profile name"),
])
def test_a_device_entry_that_cannot_name_any_device_is_refused_when_the_plan_loads(
        tmp_path: Path, entry: str, fix: str) -> None:
    with pytest.raises(UsageError) as error:
        load_plan(write_plan(tmp_path, devices=[entry]))
    assert repr(entry) in error.value.message and fix in error.value.fix


@pytest.mark.parametrize("entry", ["R5CT1234ABC", "emulator-5554", "stf.lab:7401", "127.0.0.1:5037/R5CT1",
                                   "[::1]:5037/emulator-5554", "adb-R5CT-x._adb-tls-connect._tcp", "all"])
def test_serials_and_addresses_load(tmp_path: Path, entry: str) -> None:
    assert load_plan(write_plan(tmp_path, devices=[entry])).devices == (entry,)


def test_preflight_refuses_a_model_that_cannot_take_the_shape_before_any_device(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, models=[str(MODELS / "tiny_isp_static.tflite")],
                                input_shape=[1, 544, 960, 4]))
    touched = []
    with pytest.raises(UsageError):
        expand(plan, lambda spec: touched.append(spec) or ())
    assert touched == []


def test_reconnect_grace_is_a_plan_setting(tmp_path) -> None:
    from mai_bench.errors import UsageError
    from mai_bench.farm.plan import load_plan

    model = tmp_path / "m.tflite"
    model.write_bytes((Path(__file__).resolve().parents[1] / "fixtures" / "models" / "tiny_isp.tflite").read_bytes())
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("models: [m.tflite]\ndevices: [all]\ndelegates: [xnnpack]\nreconnect_grace_s: 12\n")
    assert load_plan(plan_file).reconnect_grace_s == 12.0
    plan_file.write_text("models: [m.tflite]\ndevices: [all]\ndelegates: [xnnpack]\nreconnect_grace_s: -1\n")
    with pytest.raises(UsageError, match="reconnect_grace_s"):
        load_plan(plan_file)


@pytest.mark.parametrize("typed, meant", [("sm845", "sm8450"), ("SM8450x", "sm8450"), ("gs210", "gs201"),
                                          ("R5CT1234ABC", None), ("emulator-5554", None), ("typo-serial", None),
                                          ("127.0.0.1:5555", None)])
def test_did_you_mean_finds_profile_typos_and_leaves_serials_alone(typed: str, meant: str | None) -> None:
    from mai_bench.device.discovery import closest_profile

    assert closest_profile(typed) == meant
