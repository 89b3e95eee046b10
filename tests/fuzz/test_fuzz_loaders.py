"""Property tests: every loader of user files is total. Arbitrary bytes, arbitrary YAML/JSON documents and
mutations of valid ones (a value replaced by anything YAML can hold, a key dropped or added) either load or
raise the project's own error (a MaiBenchError with a message): device profiles, the binaries manifest, farm
plans, loopback specs, result files. The benchmark_model parser is fuzzed in tests/parse."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mai_bench.binaries.manifest import default_manifest_path, load_manifest
from mai_bench.device.profiles import load_profile
from mai_bench.emulate.adbd.spec import BUILTIN_PROFILES, load_spec
from mai_bench.errors import MaiBenchError
from mai_bench.farm.plan import load_plan
from mai_bench.resources import data_dir
from mai_bench.results.schema import result_from_dict
from mai_bench.results.store import load_results

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Everything yaml.safe_load can produce: scalars (bytes for !!binary, dates for !!timestamp), lists, sets
# (!!set) and mappings with keys of any scalar type.
KEYS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats() | st.text(max_size=30)
           | st.binary(max_size=8) | st.dates() | st.datetimes())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.sets(st.integers(0, 9), max_size=3)
    | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=16)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document: the keys and indexes leading to it."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


@st.composite
def mutated(draw, document: Any) -> Any:
    """`document` with one to three edits: a value replaced, a mapping key or list item dropped, a key added."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            doc = draw(VALUES)
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(KEYS)] = draw(VALUES)
    return doc


def _total(load: Callable[[Path], Any], content: bytes, filename: str = "fuzzed.yaml") -> None:
    """`load` of a file holding `content` returns, or raises a MaiBenchError that says something."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            load(path)
        except MaiBenchError as error:
            assert error.message.strip()


def _yaml(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8")


def _filename(seed: Any) -> str:
    """A device profile must be named after its file: keep the seed's name so mutations get past that check."""
    return f"{seed['name']}.yaml" if isinstance(seed, dict) and isinstance(seed.get("name"), str) else "fuzzed.yaml"


PROFILE_FILES = sorted(data_dir("device_profiles").glob("*.yaml"))
PROFILES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in PROFILE_FILES]
MANIFEST = yaml.safe_load(default_manifest_path().read_text(encoding="utf-8"))
PLAN = {"name": "fuzz", "servers": ["127.0.0.1:5037"], "models": [str(MODELS / "tiny_isp.tflite")],
        "devices": ["sm8450", "all"], "delegates": ["gpu", "xnnpack"], "runs": 5, "warmup": 1, "min_secs": 0.5,
        "input_shape": [1, 544, 960, 4], "thermal": {"max_temp_c": 45, "cooldown_timeout_s": 0},
        "lock_wait_s": 10, "thresholds": {"max_latency_ms": 40, "require_full_delegation": True}}
SPEC = {"emulator": copy.deepcopy(dict(BUILTIN_PROFILES["loopback-sm8450"]))}
LOADERS = {"profile": (load_profile, PROFILES), "manifest": (load_manifest, [MANIFEST]),
           "plan": (load_plan, [PLAN]), "spec": (load_spec, [SPEC, SPEC["emulator"]])}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_the_valid_documents_load(name: str, tmp_path: Path) -> None:
    load, documents = LOADERS[name]
    for index, document in enumerate(documents):
        path = tmp_path / str(index) / _filename(document)
        path.parent.mkdir()
        path.write_bytes(_yaml(document))
        load(path)  # the seeds of the mutations are themselves valid


@pytest.mark.parametrize("name", sorted(LOADERS))
@FUZZ
@given(data=st.data())
def test_a_mutated_document_loads_or_is_refused_clearly(name: str, data) -> None:
    load, documents = LOADERS[name]
    document = data.draw(st.sampled_from(documents))
    _total(load, _yaml(data.draw(mutated(document))), _filename(document))


@pytest.mark.parametrize("name", sorted(LOADERS))
@FUZZ
@given(document=VALUES)
def test_any_yaml_document_loads_or_is_refused_clearly(name: str, document) -> None:
    _total(LOADERS[name][0], _yaml(document))


@pytest.mark.parametrize("name", sorted(LOADERS))
@FUZZ
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8")))
def test_any_bytes_load_or_are_refused_clearly(name: str, content: bytes) -> None:
    _total(LOADERS[name][0], content)


NASTY_YAML = [
    b"a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",  # billion laughs
    b"!!python/object/apply:os.system ['true']\n",
    b"name: !!python/name:os.system\n",
    b"models: !!binary aGVsbG8=\nname: !!timestamp 2001-12-14\n",
    b"? [1, 2]\n: value\n",  # a complex (unhashable) key
    b"\xef\xbb\xbfname: bom\n",
    b"%YAML 1.1\n---\na: 1\n---\nb: 2\n",  # two documents
    b"a: 1\na: 2\n",
    b"\t- tab indented\n",
    b"[" * 5000 + b"]" * 5000,  # deep nesting
]


@pytest.mark.parametrize("name", sorted(LOADERS))
@pytest.mark.parametrize("content", NASTY_YAML, ids=range(len(NASTY_YAML)))
def test_hostile_yaml_is_refused_or_loaded_never_run(name: str, content: bytes) -> None:
    _total(LOADERS[name][0], content)


def _valid_result() -> dict:
    return {
        "schema": "mai-bench/result/2", "status": "ok",
        "model": {"path": "/m/isp.tflite", "name": "isp", "sha256": "ab" * 32, "size_bytes": 1292,
                  "input_shape": [1, 544, 960, 4], "output_shape": [1, 1088, 1920, 3]},
        "device": {"serial": "R5CT", "backend": "adb", "soc": "SM8450", "profile": "sm8450", "server": None,
                   "emulated": False, "properties": {"ro.soc.model": "SM8450"}},
        "delegate": "gpu", "settings": {"runs": 50, "input_shape": [1, 544, 960, 4]},
        "argv": ["/system/bin/benchmark_model", "--graph=/data/local/tmp/isp.tflite", "--use_gpu=true"],
        "binary": {"name": "benchmark_model", "sha256": "cd" * 32, "path": "/system/bin/benchmark_model",
                   "version": "nightly"},
        "latency_ms": {"init": 120.5, "first": 30.1, "warmup_avg": 25.0, "avg": 21.3, "std": 0.4, "min": 20.9,
                       "max": 22.8, "median": 21.2, "p5": 21.0, "p95": 22.1, "count": 50},
        "memory_mb": {"init": 10.0, "overall": 120.0, "peak": 130.0},
        "delegation": {"requested": "gpu", "names": ["TfLiteGpuDelegateV2"], "nodes_delegated": 31,
                       "nodes_total": 31, "full": True, "fallback": False, "failed": False, "reasons": []},
        "raw_log": "INFO: STARTING!\n", "tool_version": "0.1.0", "created_at": "2026-01-01T00:00:00+00:00",
        "exit_code": 0, "duration_s": 3.2, "warnings": [], "threads": 1, "ignored_flags": [], "transfer": {},
        "thermal": {}, "extra": {},
    }


def test_the_valid_result_loads() -> None:
    assert result_from_dict(_valid_result()).to_dict() == _valid_result()


@FUZZ
@given(document=mutated(_valid_result()))
def test_a_mutated_result_loads_or_is_refused_clearly(document) -> None:
    try:
        result = result_from_dict(document)
    except MaiBenchError as error:
        assert error.message.strip()
        return
    # What loads writes back and loads again the same: a result file never turns unreadable on a round trip.
    again = json.loads(json.dumps(result.to_dict(), default=str))
    assert result_from_dict(again).to_dict() == json.loads(json.dumps(result.to_dict(), default=str))


@FUZZ
@given(content=st.binary(max_size=300) | VALUES.map(lambda v: json.dumps(v, default=str).encode("utf-8"))
       | mutated(_valid_result()).map(lambda v: (json.dumps(v, default=str) + "\n").encode("utf-8")))
def test_any_result_file_loads_or_is_refused_clearly(content: bytes) -> None:
    _total(load_results, content, "fuzzed.json")


@pytest.mark.parametrize("content", [b"[" * 100_000, b'{"a":' * 100_000, b"[]\n" + b"[" * 100_000 + b"\n"],
                         ids=["array", "object", "json-lines"])
def test_a_result_file_nested_past_the_decoder_is_refused(content: bytes) -> None:
    _total(load_results, content, "deep.json")


def test_a_result_file_that_is_a_folder_or_missing_is_refused(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.json"):
        with pytest.raises(MaiBenchError):
            load_results(path)
