"""The binaries manifest: the shipped file, base URL overrides, ABI lookup, and every way a file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mai_bench.binaries.manifest import BASE_URL_ENV, default_manifest_path, load_manifest
from mai_bench.errors import UsageError
from mai_bench.resources import data_dir

NIGHTLY = "https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/"

VALID = """\
base_url: http://127.0.0.1:9/files
default: test
binaries:
  - name: test
    abi: arm64-v8a
    url: good
    note: a note
  - name: test
    abi: armeabi-v7a
    url: https://mirror.example/arm
    sha256: "%s"
""" % ("AB" * 32)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "binaries.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(UsageError) as caught:
        load_manifest(path)
    assert str(path) in caught.value.message
    return caught.value.message


def test_shipped_manifest_lists_the_official_nightly_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    manifest = load_manifest()
    assert manifest.source == data_dir("android_runner") / "binaries.yaml" == default_manifest_path()
    assert manifest.default_name == "tflite-nightly"
    assert manifest.abis() == ("arm64-v8a", "armeabi-v7a", "x86_64")
    assert manifest.entry_for("arm64-v8a").url == NIGHTLY + "android_aarch64_benchmark_model"
    assert manifest.entry_for("armeabi-v7a").url == NIGHTLY + "android_arm_benchmark_model"
    assert manifest.entry_for("x86_64").url == NIGHTLY + "android_x86_64_benchmark_model"
    assert manifest.entry_for(" arm64-v8a\n", "tflite-nightly-flex").url == \
        NIGHTLY + "android_aarch64_benchmark_model_plus_flex"
    # "latest" changes every night: no pin can be true, so none is claimed.
    assert all(entry.sha256 is None for entry in manifest.entries)


def test_base_url_is_overridden_by_parameter_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:1234/mirror")
    assert load_manifest().entry_for("arm64-v8a").url == "http://127.0.0.1:1234/mirror/android_aarch64_benchmark_model"
    chosen = load_manifest(base_url="http://127.0.0.1:99/")
    assert chosen.entry_for("armeabi-v7a").url == "http://127.0.0.1:99/android_arm_benchmark_model"


def test_relative_urls_resolve_against_base_and_absolute_ones_stay(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, VALID))
    assert manifest.entry_for("arm64-v8a").url == "http://127.0.0.1:9/files/good"
    pinned = manifest.entry_for("armeabi-v7a")
    assert pinned.url == "https://mirror.example/arm"
    assert pinned.sha256 == "ab" * 32


def test_x86_has_no_official_build_and_the_error_says_what_to_do() -> None:
    with pytest.raises(UsageError) as caught:
        load_manifest().entry_for("x86")
    assert "x86" in caught.value.message and "arm64-v8a" in caught.value.message
    assert "--benchmark-binary PATH" in caught.value.fix


def test_unknown_abi_and_unknown_build_name_are_refused() -> None:
    manifest = load_manifest()
    with pytest.raises(UsageError, match="not an Android ABI"):
        manifest.entry_for("mips64")
    with pytest.raises(UsageError, match="no benchmark_model build named 'nope'") as caught:
        manifest.entry_for("arm64-v8a", "nope")
    assert "tflite-nightly-flex" in caught.value.fix


def test_unknown_top_level_key_is_refused_by_name(tmp_path: Path) -> None:
    message = refused(write(tmp_path, VALID + "mirror: http://elsewhere/\n"))
    assert "unknown key 'mirror'" in message


def test_unknown_entry_key_is_refused_by_name(tmp_path: Path) -> None:
    message = refused(write(tmp_path, VALID.replace("    note: a note\n", "    md5: abc\n")))
    assert "binaries[0]" in message and "unknown key 'md5'" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("url: good", "url:"), "binaries[0].url: expected a non-empty string"),
        (("abi: arm64-v8a", "abi: sparc"), "abi 'sparc' is not one of"),
        (("\"" + "AB" * 32 + "\"", "\"abc\""), "sha256 'abc' is not 64"),
        (("url: https://mirror.example/arm", "url: ftp://mirror.example/arm"), "is not an http(s) URL"),
        (("abi: armeabi-v7a", "abi: arm64-v8a"), "test for arm64-v8a is listed twice"),
        (("default: test", "default: other"), "default 'other' names no entry"),
        (("    note: a note\n", "    name2: x\n"), "unknown key 'name2'"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in VALID
    assert expected in refused(write(tmp_path, VALID.replace(old, new, 1)))


def test_missing_key_and_wrong_shapes_are_refused(tmp_path: Path) -> None:
    assert "missing key 'default'" in refused(write(tmp_path, VALID.replace("default: test\n", "")))
    assert "expected a mapping" in refused(write(tmp_path, "- just\n- a list\n"))
    assert "expected a mapping" in refused(write(tmp_path, ""))
    assert "expected a non-empty list" in refused(write(tmp_path, "base_url: http://h/\ndefault: a\nbinaries: []\n"))


def test_bad_yaml_is_refused(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "binaries: [unclosed\n"))
    assert "is not valid YAML" in message


def test_python_object_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = write(tmp_path, f"base_url: !!python/object/apply:os.system ['touch {marker}']\n"
                           "default: a\nbinaries: []\n")
    message = refused(path)
    assert "is not valid YAML" in message and "python/object/apply" in message
    assert not marker.exists()


def test_unreadable_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="binaries manifest .* does not exist"):
        load_manifest(tmp_path / "absent.yaml")
