"""The manifest of benchmark_model builds (`android_runner/binaries.yaml`): which file to fetch for which
device ABI, from where, and the sha256 it must have when one is known.

Loaded with yaml.safe_load (data, never code) and checked when built: an unknown key, a missing key or a bad
value is refused with the file and the key named.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit


from mai_bench.yaml_file import read_yaml
from mai_bench.errors import UsageError
from mai_bench.resources import data_dir

BASE_URL_ENV = "MAI_BENCH_BINARY_BASE_URL"
MANIFEST_FILE = "binaries.yaml"
# Every ABI an Android device can report in ro.product.cpu.abi; only some have an official build.
ANDROID_ABIS = ("arm64-v8a", "armeabi-v7a", "armeabi", "x86_64", "x86", "riscv64")
CUSTOM_FLAG = "--benchmark-binary PATH"

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOP_KEYS = {"base_url", "default", "binaries"}
_ENTRY_REQUIRED = {"name", "abi", "url"}
_ENTRY_OPTIONAL = {"sha256", "note"}


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")


@dataclass(frozen=True)
class BinaryEntry:
    """One build: `name` (e.g. tflite-nightly) for one `abi`, fetched from `url`; `sha256` is a pin or None."""

    name: str
    abi: str
    url: str
    sha256: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"name {self.name!r} is not lowercase letters, digits, dots and dashes")
        if self.abi not in ANDROID_ABIS:
            raise ValueError(f"abi {self.abi!r} is not one of {', '.join(ANDROID_ABIS)}")
        _check_url(self.url)
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 {self.sha256!r} is not 64 lowercase hex digits")

    @property
    def key(self) -> str:
        """The entry's file name in the cache: unique per (name, abi)."""
        return f"{self.name}_{self.abi}"


@dataclass(frozen=True)
class Manifest:
    entries: tuple[BinaryEntry, ...]
    default_name: str
    base_url: str
    source: Path

    def __post_init__(self) -> None:
        seen = set()
        for entry in self.entries:
            if (entry.name, entry.abi) in seen:
                raise ValueError(f"{entry.name} for {entry.abi} is listed twice")
            seen.add((entry.name, entry.abi))
        if self.default_name not in self.names:
            raise ValueError(f"default {self.default_name!r} names no entry")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.name for e in self.entries))

    def abis(self, name: str | None = None) -> tuple[str, ...]:
        """The ABIs build `name` (default: the default build) exists for, in manifest order."""
        name = self._name(name)
        return tuple(e.abi for e in self.entries if e.name == name)

    def entry_for(self, abi: str, name: str | None = None) -> BinaryEntry:
        """The build for a device reporting `abi` (its ro.product.cpu.abi); a clear error when there is none."""
        name = self._name(name)
        abi = abi.strip()
        for entry in self.entries:
            if entry.name == name and entry.abi == abi:
                return entry
        known = ", ".join(self.abis(name))
        if abi not in ANDROID_ABIS:
            raise UsageError(f"{abi!r} is not an Android ABI; {name} exists for {known}",
                             f"use one of {known}, or pass {CUSTOM_FLAG} with your own build")
        raise UsageError(f"there is no {name} benchmark_model build for {abi} devices (it exists for {known})",
                         f"build benchmark_model for {abi} and pass {CUSTOM_FLAG}")

    def _name(self, name: str | None) -> str:
        if name is None:
            return self.default_name
        if name not in self.names:
            raise UsageError(f"no benchmark_model build named {name!r} in {self.source}",
                             f"use one of: {', '.join(self.names)}")
        return name


def _fail(path: Path, where: str, problem: str) -> UsageError:
    return UsageError(f"binaries manifest {path}: {where}: {problem}",
                      "fix the file (see the comment at its top for the format)")


def _mapping(path: Path, value: Any, where: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in required | optional)
    if unknown:
        raise _fail(path, where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(required | optional))})")
    missing = sorted(required - set(value))
    if missing:
        raise _fail(path, where, f"missing key {missing[0]!r}")
    return value


def _text(path: Path, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"expected a non-empty string, got {value!r}")
    return value.strip()


def default_manifest_path() -> Path:
    return data_dir("android_runner") / MANIFEST_FILE


def load_manifest(path: Path | None = None, base_url: str | None = None) -> Manifest:
    """Read and check the manifest (default: the shipped one). Relative entry URLs resolve against `base_url`,
    else $MAI_BENCH_BINARY_BASE_URL, else the manifest's own base_url."""
    path = Path(path) if path is not None else default_manifest_path()
    data = read_yaml(path, "binaries manifest", "reinstall mai-bench")
    top = _mapping(path, data, "top level", _TOP_KEYS, set())
    base = base_url or os.environ.get(BASE_URL_ENV) or _text(path, top["base_url"], "base_url")
    # urljoin drops the last path segment of a base without a trailing slash.
    base = base if base.endswith("/") else base + "/"
    try:
        _check_url(base)
    except ValueError as error:
        raise _fail(path, "base_url", str(error)) from None
    if not isinstance(top["binaries"], list) or not top["binaries"]:
        raise _fail(path, "binaries", "expected a non-empty list")
    entries = []
    for i, item in enumerate(top["binaries"]):
        where = f"binaries[{i}]"
        raw = _mapping(path, item, where, _ENTRY_REQUIRED, _ENTRY_OPTIONAL)
        fields = {key: _text(path, raw[key], f"{where}.{key}")
                  for key in raw if key in _ENTRY_REQUIRED or raw[key] is not None}
        fields["url"] = urljoin(base, fields["url"])
        if "sha256" in fields:
            fields["sha256"] = fields["sha256"].lower()
        try:
            entries.append(BinaryEntry(**fields))
        except ValueError as error:
            raise _fail(path, where, str(error)) from None
    try:
        return Manifest(entries=tuple(entries), default_name=_text(path, top["default"], "default"), base_url=base,
                        source=path)
    except ValueError as error:
        raise _fail(path, "binaries", str(error)) from None
