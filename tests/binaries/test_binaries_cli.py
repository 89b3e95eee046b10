"""`mai-bench binaries list|fetch|verify` as a user runs them (a subprocess), against the shipped manifest with
its base URL pointed at the local server: pure JSON on stdout, one-line errors and exit codes, no traceback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI_TIMEOUT_S = 60


@pytest.fixture
def mai(bucket, cache_home: Path):
    """Run `mai-bench ARGS...` with the cache in tmp_path and the nightly bucket on 127.0.0.1."""
    env = {**os.environ, "MAI_BENCH_BINARY_BASE_URL": bucket.url, "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], env=env, capture_output=True,
                                text=True, timeout=CLI_TIMEOUT_S)
        assert "Traceback" not in result.stderr + result.stdout
        return result

    return run


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_list_json_before_and_after_fetch(mai, bucket, cache_home: Path) -> None:
    before = mai("binaries", "list", "--json")
    assert before.returncode == 0, before.stderr
    listing = json.loads(before.stdout)
    assert listing["cache_dir"] == str(cache_home) and listing["default"] == "tflite-nightly"
    rows = {(r["name"], r["abi"]): r for r in listing["binaries"]}
    assert rows["tflite-nightly", "arm64-v8a"]["url"] == bucket.url + "android_aarch64_benchmark_model"
    assert all(r["state"] == "not cached" and r["cached"] is False and r["trust"] is None for r in rows.values())

    fetched = mai("binaries", "fetch")  # default ABI: arm64-v8a
    assert fetched.returncode == 0, fetched.stderr
    good = bucket.files["android_aarch64_benchmark_model"]
    assert f"tflite-nightly arm64-v8a: downloaded, {len(good):,} bytes, sha256 {sha(good)}" in fetched.stdout
    assert (cache_home / "tflite-nightly_arm64-v8a").read_bytes() == good

    after = {(r["name"], r["abi"]): r for r in json.loads(mai("binaries", "list", "--json").stdout)["binaries"]}
    row = after["tflite-nightly", "arm64-v8a"]
    assert (row["state"], row["trust"], row["sha256"], row["size"]) == ("cached", "recorded", sha(good), len(good))
    assert after["tflite-nightly", "armeabi-v7a"]["state"] == "not cached"


def test_list_table(mai) -> None:
    mai("binaries", "fetch", "--abi", "armeabi-v7a")
    table = mai("binaries", "list")
    assert table.returncode == 0
    assert "tflite-nightly-flex" in table.stdout and "armeabi-v7a" in table.stdout
    assert "recorded" in table.stdout and "not cached" in table.stdout


def test_fetch_all_then_changed_build_needs_force(mai, bucket, cache_home: Path) -> None:
    first = mai("binaries", "fetch", "--all")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(": downloaded,") == 3
    assert sorted(p.name for p in cache_home.iterdir()) == sorted(
        f"tflite-nightly_{abi}{ext}" for abi in ("arm64-v8a", "armeabi-v7a", "x86_64") for ext in ("", ".json"))

    bucket.files["android_aarch64_benchmark_model"] = b"tomorrow's nightly" * 100
    refused = mai("binaries", "fetch", "--abi", "arm64-v8a")
    assert refused.returncode == 3
    assert "now has sha256" in refused.stderr
    assert "mai-bench binaries fetch --force --abi arm64-v8a" in refused.stderr

    forced = mai("binaries", "fetch", "--abi", "arm64-v8a", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "tflite-nightly arm64-v8a: replaced" in forced.stdout
    unchanged = mai("binaries", "fetch", "--abi", "arm64-v8a")
    assert "tflite-nightly arm64-v8a: unchanged" in unchanged.stdout


def test_fetch_errors_are_one_line_with_exit_codes(mai, bucket, cache_home: Path) -> None:
    del bucket.files["android_x86_64_benchmark_model"]
    missing = mai("binaries", "fetch", "--abi", "x86_64")
    assert missing.returncode == 3
    assert f"{bucket.url}android_x86_64_benchmark_model was not found (HTTP 404)" in missing.stderr
    assert not cache_home.exists() or list(cache_home.iterdir()) == []

    x86 = mai("binaries", "fetch", "--abi", "x86")
    assert x86.returncode == 2 and "--benchmark-binary PATH" in x86.stderr

    both = mai("binaries", "fetch", "--abi", "x86_64", "--all")
    assert both.returncode == 2 and "--abi and --all exclude each other" in both.stderr

    bucket.broken.add("android_arm_benchmark_model")
    cut = mai("binaries", "fetch", "--abi", "armeabi-v7a")
    assert cut.returncode == 3 and "broke off" in cut.stderr
    assert not cache_home.exists() or list(cache_home.iterdir()) == []


def test_verify_passes_then_fails_on_a_tampered_binary(mai, cache_home: Path) -> None:
    empty = mai("binaries", "verify", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == {"cache_dir": str(cache_home), "ok": True,
                                                                  "binaries": []}
    mai("binaries", "fetch", "--abi", "arm64-v8a", "--abi", "armeabi-v7a")
    clean = mai("binaries", "verify")
    assert clean.returncode == 0 and clean.stdout.count(" ok ") == 2

    (cache_home / "tflite-nightly_armeabi-v7a").write_bytes(b"patched")
    tampered = mai("binaries", "verify", "--json")
    assert tampered.returncode == 1
    report = json.loads(tampered.stdout)  # stdout stays pure JSON; the error line goes to stderr
    assert report["ok"] is False
    statuses = {b["abi"]: (b["status"], b["sha256"]) for b in report["binaries"]}
    assert statuses == {"arm64-v8a": ("ok", report["binaries"][0]["recorded_sha256"]),
                        "armeabi-v7a": ("changed", sha(b"patched"))}
    assert "1 of 2 cached benchmark_model builds" in tampered.stderr
    assert "--abi armeabi-v7a" in tampered.stderr
