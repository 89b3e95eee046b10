"""Downloads into the user cache and the choice of binary, against a local HTTP server on 127.0.0.1:
sha256 pins, trust on first use, --force, broken transfers, 404, offline, tampering and custom builds."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from mai_bench.binaries.cache import BinaryCache, cache_dir, verify_cache
from mai_bench.binaries.fetch import fetch_binary
from mai_bench.binaries.manifest import BinaryEntry, load_manifest
from mai_bench.binaries.resolve import custom_binary, entry_states, resolve_binary
from mai_bench.errors import InfraError, UsageError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_for(tmp_path: Path, base_url: str, pin: str) -> object:
    path = tmp_path / "binaries.yaml"
    path.write_text(f"""\
base_url: http://127.0.0.1:9/unused/
default: test
binaries:
  - {{name: test, abi: arm64-v8a, url: good}}
  - {{name: test, abi: armeabi-v7a, url: truncated}}
  - {{name: test, abi: x86_64, url: not-there}}
  - {{name: pinned, abi: arm64-v8a, url: good, sha256: "{pin}"}}
""", encoding="utf-8")
    return load_manifest(path, base_url=base_url)


@pytest.fixture
def manifest(tmp_path: Path, bucket, cache_home: Path):
    # The pin is of other bytes than the server sends: the "wrong checksum" case.
    return manifest_for(tmp_path, bucket.url, sha(b"the build that was reviewed"))


@pytest.fixture
def cache(cache_home: Path) -> BinaryCache:
    return BinaryCache(cache_dir())


def cache_files(cache: BinaryCache) -> list[str]:
    return sorted(p.name for p in cache.root.iterdir()) if cache.root.exists() else []


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "mai-bench" / "binaries"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the spec says to ignore relative paths
    assert cache_dir() == tmp_path / "home" / ".cache" / "mai-bench" / "binaries"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "mai-bench" / "binaries"


def test_good_download_is_verified_recorded_and_executable(manifest, cache, cache_home, bucket) -> None:
    good = bucket.files["good"]
    seen = []
    outcome = fetch_binary(manifest.entry_for("arm64-v8a"), cache, progress=lambda done, total: seen.append((done, total)))
    assert outcome.status == "downloaded"
    assert cache.root == cache_home
    assert outcome.path == cache_home / "test_arm64-v8a"
    assert outcome.path.read_bytes() == good
    assert os.access(outcome.path, os.X_OK)
    record = json.loads((cache_home / "test_arm64-v8a.json").read_text())
    assert record["schema"] == "mai-bench/binary-record/1"
    assert {k: record[k] for k in ("name", "abi", "url", "sha256", "size")} == {
        "name": "test", "abi": "arm64-v8a", "url": bucket.url + "good", "sha256": sha(good), "size": len(good)}
    assert record["fetched_at"].endswith("+00:00")
    assert seen[0] == (0, len(good)) and seen[-1] == (len(good), len(good)) and len(seen) > 2
    assert cache_files(cache) == ["test_arm64-v8a", "test_arm64-v8a.json"]  # no temp file left


def test_same_build_again_is_unchanged(manifest, cache) -> None:
    entry = manifest.entry_for("arm64-v8a")
    first = fetch_binary(entry, cache)
    again = fetch_binary(entry, cache)
    assert again.status == "unchanged" and again.record.sha256 == first.record.sha256


def test_download_not_matching_the_pin_is_refused_and_nothing_cached(manifest, cache, bucket) -> None:
    entry = manifest.entry_for("arm64-v8a", "pinned")
    for force in (False, True):  # a pin always wins, --force included
        with pytest.raises(InfraError) as caught:
            fetch_binary(entry, cache, force=force)
        assert sha(bucket.files["good"]) in caught.value.message
        assert entry.sha256 in caught.value.message and "pins" in caught.value.message
        assert cache_files(cache) == []


def test_download_matching_the_pin_is_accepted(tmp_path, bucket, cache) -> None:
    manifest = manifest_for(tmp_path, bucket.url, sha(bucket.files["good"]))
    outcome = fetch_binary(manifest.entry_for("arm64-v8a", "pinned"), cache)
    assert outcome.record.sha256 == sha(bucket.files["good"])
    assert entry_states(manifest, cache)[3].trust == "pinned"


def test_changed_build_is_refused_without_force_and_taken_with_it(manifest, cache, bucket) -> None:
    entry = manifest.entry_for("arm64-v8a")
    first = fetch_binary(entry, cache)
    record_before = cache.record_path(entry.key).read_text()
    bucket.files["good"] = b"next night's build" * 1000
    with pytest.raises(InfraError) as caught:
        fetch_binary(entry, cache)
    assert first.record.sha256 in caught.value.message
    assert sha(bucket.files["good"]) in caught.value.message
    assert "mai-bench binaries fetch --force --abi arm64-v8a --name test" in caught.value.fix
    # The refused download left the trusted build and its record exactly as they were.
    assert first.path.read_bytes() != bucket.files["good"]
    assert sha(first.path.read_bytes()) == first.record.sha256
    assert cache.record_path(entry.key).read_text() == record_before
    assert cache_files(cache) == ["test_arm64-v8a", "test_arm64-v8a.json"]

    forced = fetch_binary(entry, cache, force=True)
    assert forced.status == "replaced"
    assert forced.path.read_bytes() == bucket.files["good"]
    assert json.loads(cache.record_path(entry.key).read_text())["sha256"] == sha(bucket.files["good"])
    assert resolve_binary("arm64-v8a", manifest=manifest, cache=cache).sha256 == sha(bucket.files["good"])


def test_interrupted_transfer_leaves_nothing_in_the_cache(manifest, cache, bucket) -> None:
    entry = manifest.entry_for("armeabi-v7a")
    with pytest.raises(InfraError) as caught:
        fetch_binary(entry, cache)
    good = bucket.files["good"]
    assert entry.url in caught.value.message
    assert f"got {len(good) // 3:,} of {len(good):,} bytes" in caught.value.message
    assert cache_files(cache) == []


def test_interrupted_transfer_keeps_an_earlier_build(manifest, cache, bucket) -> None:
    entry = manifest.entry_for("arm64-v8a")
    first = fetch_binary(entry, cache)
    record_before = cache.record_path(entry.key).read_text()
    bucket.broken.add("good")
    with pytest.raises(InfraError, match="broke off"):
        fetch_binary(entry, cache, force=True)
    assert cache_files(cache) == ["test_arm64-v8a", "test_arm64-v8a.json"]
    assert sha(first.path.read_bytes()) == first.record.sha256
    assert cache.record_path(entry.key).read_text() == record_before


def test_404_names_the_url(manifest, cache, bucket) -> None:
    with pytest.raises(InfraError) as caught:
        fetch_binary(manifest.entry_for("x86_64"), cache)
    assert f"{bucket.url}not-there was not found (HTTP 404)" in caught.value.message
    assert cache_files(cache) == []


def test_offline_with_nothing_cached_names_url_and_custom_flag(tmp_path, offline_url, cache) -> None:
    manifest = manifest_for(tmp_path, offline_url, "0" * 64)
    with pytest.raises(InfraError) as caught:
        resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    assert f"{offline_url}good" in caught.value.message
    assert "--benchmark-binary PATH" in caught.value.fix
    assert cache_files(cache) == []


def test_resolve_downloads_once_then_uses_the_cache_offline(tmp_path, manifest, cache, bucket, offline_url) -> None:
    first = resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    assert first.source == "download" and first.sha256 == sha(bucket.files["good"])
    offline = manifest_for(tmp_path, offline_url, "0" * 64)
    again = resolve_binary("arm64-v8a", manifest=offline, cache=cache)
    assert (again.source, again.path, again.sha256, again.name, again.abi) == \
        ("cache", first.path, first.sha256, "test", "arm64-v8a")


def test_cached_file_tampered_on_disk_is_refused_on_use(manifest, cache, bucket) -> None:
    path = resolve_binary("arm64-v8a", manifest=manifest, cache=cache).path
    path.write_bytes(b"#!/system/bin/sh\necho owned\n")
    with pytest.raises(InfraError) as caught:
        resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    assert str(path) in caught.value.message and "changed on disk" in caught.value.message
    assert "mai-bench binaries fetch --force" in caught.value.fix
    checks = {c.record.key: c for c in verify_cache(cache)}
    assert checks["test_arm64-v8a"].status == "changed"
    assert checks["test_arm64-v8a"].sha256 == sha(path.read_bytes())


def test_deleted_binary_is_downloaded_again_and_checked_against_its_record(manifest, cache, bucket) -> None:
    path = resolve_binary("arm64-v8a", manifest=manifest, cache=cache).path
    path.unlink()
    assert [c.status for c in verify_cache(cache)] == ["missing"]
    assert entry_states(manifest, cache)[0].state == "file missing"
    assert resolve_binary("arm64-v8a", manifest=manifest, cache=cache).source == "download"
    path.unlink()
    bucket.files["good"] = b"different bytes"
    with pytest.raises(InfraError, match="now has sha256"):
        resolve_binary("arm64-v8a", manifest=manifest, cache=cache)


def test_damaged_record_is_an_error_until_force_replaces_it(manifest, cache) -> None:
    entry = manifest.entry_for("arm64-v8a")
    fetch_binary(entry, cache)
    cache.record_path(entry.key).write_text("{not json")
    with pytest.raises(InfraError) as caught:
        resolve_binary("arm64-v8a", manifest=manifest, cache=cache)
    assert str(cache.record_path(entry.key)) in caught.value.message and "--force" in caught.value.fix
    assert entry_states(manifest, cache)[0].state == "damaged record"
    assert fetch_binary(entry, cache, force=True).status == "downloaded"
    assert resolve_binary("arm64-v8a", manifest=manifest, cache=cache).source == "cache"


def test_custom_binary_is_hashed_and_never_cached(tmp_path, manifest, cache) -> None:
    build = tmp_path / "my_benchmark_model"
    build.write_bytes(b"\x7fELF custom build")
    found = resolve_binary("x86", custom_path=build, manifest=manifest, cache=cache)
    assert (found.path, found.sha256, found.name, found.abi, found.source) == \
        (build.resolve(), sha(b"\x7fELF custom build"), "custom", "x86", "custom")
    assert not cache.root.exists()
    assert custom_binary(build).abi is None


def test_custom_binary_that_is_missing_or_a_folder_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError) as caught:
        custom_binary(tmp_path / "nope")
    assert "--benchmark-binary" in caught.value.message and "does not exist" in caught.value.message
    with pytest.raises(UsageError, match="is a folder"):
        custom_binary(tmp_path)


def test_no_official_build_for_x86_without_custom_path(manifest, cache) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_binary("x86", manifest=manifest, cache=cache)
    assert "--benchmark-binary PATH" in caught.value.fix


def test_states_report_cache_and_trust(manifest, cache, bucket) -> None:
    before = {(s.entry.name, s.entry.abi): s for s in entry_states(manifest, cache)}
    assert before["test", "arm64-v8a"].state == "not cached" and before["test", "arm64-v8a"].trust is None
    assert before["pinned", "arm64-v8a"].trust == "pinned"
    fetch_binary(manifest.entry_for("arm64-v8a"), cache)
    after = {(s.entry.name, s.entry.abi): s.to_dict() for s in entry_states(manifest, cache)}
    row = after["test", "arm64-v8a"]
    assert (row["cached"], row["trust"], row["sha256"], row["size"]) == \
        (True, "recorded", sha(bucket.files["good"]), len(bucket.files["good"]))


def test_a_new_pin_wins_over_the_cached_build(tmp_path, manifest, cache, bucket) -> None:
    # Fetched while the entry had no pin: the record holds the first download's sha256.
    fetch_binary(BinaryEntry(name="pinned", abi="arm64-v8a", url=bucket.url + "good"), cache)
    bucket.files["good"] = b"the reviewed build"
    pinned = manifest_for(tmp_path, bucket.url, sha(b"the reviewed build"))
    found = resolve_binary("arm64-v8a", "pinned", manifest=pinned, cache=cache)
    assert (found.source, found.sha256) == ("download", sha(b"the reviewed build"))
    assert found.path.read_bytes() == b"the reviewed build"


def test_unwritable_cache_is_a_clear_error(manifest, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InfraError, match="cannot write into the binaries cache") as caught:
        fetch_binary(manifest.entry_for("arm64-v8a"), BinaryCache(blocker / "binaries"))
    assert "XDG_CACHE_HOME" in caught.value.fix
