"""Where a downloaded benchmark_model came from (issue 12, item 9): URL, download time, size and the server's
Last-Modified and ETag, recorded in the cache and carried into every result as `binary.origin`; records and
results written before the field existed still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mai_bench.binaries.cache import BinaryCache, cache_dir, load_record, verify_cache
from mai_bench.binaries.fetch import HEADER_MAX_CHARS, fetch_binary
from mai_bench.binaries.manifest import load_manifest
from mai_bench.binaries.resolve import custom_binary, entry_states, resolve_binary
from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import (BinaryOrigin, BinaryRef, DeviceRef, ModelRef, ResultFormatError,
                                      result_from_dict)
from mai_bench.session import RawRun

ROOT = Path(__file__).resolve().parents[2]
LAST_MODIFIED = "Tue, 04 Jun 2024 03:12:45 GMT"
ETAG = '"9a0364b9e99bb480dd25e1f0284c8555"'


@pytest.fixture
def manifest(tmp_path: Path, bucket, cache_home: Path):
    path = tmp_path / "binaries.yaml"
    path.write_text("base_url: http://127.0.0.1:9/unused/\ndefault: test\nbinaries:\n"
                    "  - {name: test, abi: arm64-v8a, url: good}\n"
                    "  - {name: test, abi: armeabi-v7a, url: android_arm_benchmark_model}\n", encoding="utf-8")
    bucket.headers["good"] = {"Last-Modified": LAST_MODIFIED, "ETag": ETAG}
    return load_manifest(path, base_url=bucket.url)


@pytest.fixture
def cache(cache_home: Path) -> BinaryCache:
    return BinaryCache(cache_dir())


def test_a_download_records_url_date_size_last_modified_and_etag(manifest, cache, cache_home, bucket) -> None:
    outcome = fetch_binary(manifest.entry_for("arm64-v8a"), cache)
    record = json.loads((cache_home / "test_arm64-v8a.json").read_text())
    assert (record["url"], record["size"]) == (bucket.url + "good", len(bucket.files["good"]))
    assert (record["last_modified"], record["etag"]) == (LAST_MODIFIED, ETAG)
    assert record["fetched_at"].endswith("+00:00")
    assert outcome.record.origin() == {"url": bucket.url + "good", "fetched_at": record["fetched_at"],
                                       "size": len(bucket.files["good"]), "last_modified": LAST_MODIFIED,
                                       "etag": ETAG}
    (state,) = [s for s in entry_states(manifest, cache) if s.entry.abi == "arm64-v8a"]
    assert (state.to_dict()["last_modified"], state.to_dict()["etag"]) == (LAST_MODIFIED, ETAG)
    (check,) = verify_cache(cache)
    assert check.to_dict()["etag"] == ETAG


def test_a_server_without_validators_records_none(manifest, cache) -> None:
    outcome = fetch_binary(manifest.entry_for("armeabi-v7a"), cache)
    assert (outcome.record.last_modified, outcome.record.etag) == (None, None)


def test_header_values_are_kept_printable_and_short(manifest, cache, bucket) -> None:
    bucket.headers["good"] = {"ETag": '"abc\x07def"' + "x" * 500}
    outcome = fetch_binary(manifest.entry_for("arm64-v8a"), cache)
    assert "\x07" not in outcome.record.etag and len(outcome.record.etag) == HEADER_MAX_CHARS
    assert outcome.record.etag.startswith('"abc def"')


def test_the_origin_travels_with_the_resolved_binary_from_download_and_cache(manifest, cache) -> None:
    first = resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    again = resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    assert (first.source, again.source) == ("download", "cache")
    assert first.record.etag == again.record.etag == ETAG
    assert again.to_dict()["origin"]["last_modified"] == LAST_MODIFIED


def test_a_custom_binary_has_no_origin(tmp_path: Path) -> None:
    built = tmp_path / "benchmark_model"
    built.write_bytes(b"\x7fELF my build")
    assert custom_binary(built).record is None and custom_binary(built).to_dict()["origin"] is None


def test_a_record_written_before_the_validators_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "test_arm64-v8a.json"
    old.write_text(json.dumps({"schema": "mai-bench/binary-record/1", "name": "test", "abi": "arm64-v8a",
                               "url": "https://example.invalid/b", "sha256": "a" * 64, "size": 3,
                               "fetched_at": "2024-06-01T00:00:00+00:00"}), encoding="utf-8")
    record = load_record(old)
    assert (record.last_modified, record.etag) == (None, None)
    assert record.origin()["url"] == "https://example.invalid/b"


def _result_document() -> dict:
    """A version 2 result document as mai-bench wrote it before `binary.origin` existed (no such key)."""
    (log,) = (ROOT / "tests" / "fixtures" / "logs").glob("038_*.txt")
    text = log.read_text(encoding="utf-8")
    result = build_result(plan=RunPlan(delegate="gpu"), raw=RawRun(("benchmark_model",), text, 0, 1.0),
                          parsed=parse_log(text),
                          model=ModelRef("m.tflite", "m", "a" * 64, 10, (1, 544, 960, 4), (1, 1088, 1920, 3)),
                          device=DeviceRef(serial="abc", backend="adb", soc="SM8450"),
                          binary=BinaryRef("benchmark_model", "b" * 64))
    doc = json.loads(json.dumps(result.to_dict()))
    assert "origin" not in doc["binary"], "no origin: the key is left out, so readers without it load the file"
    return doc


def test_result_documents_load_with_and_without_binary_origin() -> None:
    doc = _result_document()
    assert result_from_dict(doc).binary.origin is None
    origin = {"url": "https://example.invalid/b", "fetched_at": "2024-06-01T00:00:00+00:00", "size": 3,
              "last_modified": LAST_MODIFIED, "etag": ETAG}
    loaded = result_from_dict({**doc, "binary": {**doc["binary"], "origin": origin}})
    assert loaded.binary.origin == BinaryOrigin(**origin)
    assert loaded.to_dict()["binary"]["origin"] == origin
    assert result_from_dict(loaded.to_dict()) == loaded


@pytest.mark.parametrize("origin", [
    {"url": "", "fetched_at": "2024-06-01T00:00:00+00:00", "size": 3},
    {"url": "u", "fetched_at": "2024-06-01T00:00:00+00:00", "size": -1},
    {"url": "u", "fetched_at": "2024-06-01T00:00:00+00:00", "size": 3, "etag": 7},
    {"url": "u", "fetched_at": "2024-06-01T00:00:00+00:00", "size": 3, "mirror": "x"},
    {"url": "u", "size": 3},
    "https://example.invalid/b",
])
def test_a_malformed_origin_is_refused(origin) -> None:
    doc = _result_document()
    with pytest.raises(ResultFormatError):
        result_from_dict({**doc, "binary": {**doc["binary"], "origin": origin}})


def test_a_binary_ref_built_in_code_checks_its_origin() -> None:
    with pytest.raises(ResultFormatError):
        BinaryRef(name="b", sha256=None, origin={"url": "u", "fetched_at": "t", "size": "3"})


def test_a_run_with_a_downloaded_binary_records_its_origin(adb_server, loopback, bucket, cache_home: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A device that matches no profile gets the nightly build for its ABI, downloaded from the (local) bucket:
    here a file that runs the loopback device's benchmark_model."""
    import os
    import subprocess
    import sys

    bucket.files["android_aarch64_benchmark_model"] = b'#!/system/bin/sh\nexec /system/bin/benchmark_model "$@"\n'
    bucket.headers["android_aarch64_benchmark_model"] = {"Last-Modified": LAST_MODIFIED, "ETag": ETAG}
    monkeypatch.setenv("MAI_BENCH_BINARY_BASE_URL", bucket.url)
    phone = loopback.one(props={"ro.soc.model": "SM0001", "ro.board.platform": "nowhere", "ro.hardware": "nowhere",
                                "ro.product.board": "nowhere"})
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "run",
                           str(ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"), "--device",
                           phone.serial, "--delegate", "xnnpack", "--json", "--runs", "2", "--warmup", "0",
                           "--min-secs", "0", "--cooldown-timeout", "0", "--adb-server", adb_server.address],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(adb_server.home)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "ok" and result["device"]["profile"] is None
    origin = result["binary"]["origin"]
    assert origin["url"] == bucket.url + "android_aarch64_benchmark_model"
    assert (origin["last_modified"], origin["etag"]) == (LAST_MODIFIED, ETAG)
    assert origin["size"] == len(bucket.files["android_aarch64_benchmark_model"])
    record = json.loads((cache_home / "tflite-nightly_arm64-v8a.json").read_text())
    assert origin["fetched_at"] == record["fetched_at"]
    assert result_from_dict(result).binary.origin.etag == ETAG
