"""The versioned result document: immutable values, checked when built, loaded and saved as JSON.

`"schema": "mai-bench/result/2"`. A statistic that does not exist is None, never 0. Every result keeps its
raw log, so a report can always be recomputed from it.

Version 2 adds `threads` (the CPU threads the run's kernels used), `ignored_flags` (what the binary printed as
"Unconsumed cmdline flags") and the status `flag-ignored`. Version 1 documents still load: they are upgraded,
both new fields recomputed from the document's own settings and raw log.

`binary.origin` (optional, version 2 documents without it still load): where a downloaded benchmark_model came
from, its URL, download time, size and the server's Last-Modified and ETag.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mai_bench.errors import UsageError

SCHEMA = "mai-bench/result/2"
SCHEMA_V1 = "mai-bench/result/1"
SCHEMAS = (SCHEMA_V1, SCHEMA)  # the versions result_from_dict reads

# ok: measured with the requested delegate in full. The rest say why the numbers are not that.
STATUSES = ("ok", "delegate-fallback", "delegate-failed", "flag-ignored", "failed", "crashed", "truncated",
            "unparsed", "timeout", "infra-error")
# The binary ignored the delegate or precision flag: the numbers are of another configuration, never compared.
NOT_COMPARABLE_STATUSES = ("flag-ignored",)


class ResultFormatError(UsageError):
    """A result file that is not a mai-bench result."""


def _check_non_negative(owner: str, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
            raise ResultFormatError(f"{owner}.{name} must be a non-negative number or null, got {value!r}")


@dataclass(frozen=True)
class ModelRef:
    path: str
    name: str
    sha256: str
    size_bytes: int
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None

    def __post_init__(self) -> None:
        if len(self.sha256) != 64:
            raise ResultFormatError(f"model.sha256 must be 64 hex digits, got {self.sha256!r}")
        _check_non_negative("model", {"size_bytes": self.size_bytes})


@dataclass(frozen=True)
class DeviceRef:
    serial: str
    backend: str  # "host" (this machine's CPU) or "adb"
    soc: str | None = None
    profile: str | None = None
    server: str | None = None
    emulated: bool = False
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BinaryOrigin:
    """Where a downloaded binary came from: `url`, `fetched_at` (UTC, when it was downloaded), `size` in bytes, and
    the server's `Last-Modified` and `ETag` headers (None when it sent none)."""

    url: str
    fetched_at: str
    size: int
    last_modified: str | None = None
    etag: str | None = None

    def __post_init__(self) -> None:
        for name in ("url", "fetched_at"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ResultFormatError(f"binary.origin.{name} must be a non-empty string")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ResultFormatError(f"binary.origin.size must be a byte count, got {self.size!r}")
        for name in ("last_modified", "etag"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ResultFormatError(f"binary.origin.{name} must be a string or null")


@dataclass(frozen=True)
class BinaryRef:
    name: str
    sha256: str | None
    path: str | None = None
    version: str | None = None
    origin: BinaryOrigin | None = None  # a downloaded build's provenance; None for custom and preinstalled ones

    def __post_init__(self) -> None:
        if isinstance(self.origin, dict):  # from JSON
            known = {f.name for f in fields(BinaryOrigin)}
            unknown = set(self.origin) - known
            if unknown:
                raise ResultFormatError(f"binary.origin has unknown keys: {', '.join(sorted(map(str, unknown)))}")
            object.__setattr__(self, "origin", BinaryOrigin(**self.origin))
        elif self.origin is not None and not isinstance(self.origin, BinaryOrigin):
            raise ResultFormatError(f"binary.origin must be an object or null, got {self.origin!r}")


@dataclass(frozen=True)
class Latency:
    """Milliseconds; count is the number of timed runs."""

    init: float | None = None
    first: float | None = None
    warmup_avg: float | None = None
    avg: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    p5: float | None = None
    p95: float | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        _check_non_negative("latency_ms", asdict(self))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ResultFormatError(f"latency_ms.min {self.min} is above latency_ms.max {self.max}")


@dataclass(frozen=True)
class Memory:
    init: float | None = None
    overall: float | None = None
    peak: float | None = None


@dataclass(frozen=True)
class Delegation:
    requested: str
    names: tuple[str, ...] = ()
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    full: bool | None = None  # None: the log does not say
    fallback: bool = False
    failed: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    status: str
    model: ModelRef
    device: DeviceRef
    delegate: str
    settings: dict[str, Any]
    argv: tuple[str, ...]
    binary: BinaryRef
    latency_ms: Latency
    memory_mb: Memory
    delegation: Delegation
    raw_log: str
    tool_version: str
    created_at: str
    exit_code: int | None = None
    duration_s: float | None = None
    warnings: tuple[str, ...] = ()
    # The CPU threads the run's kernels used (benchmark_model's default is 1); None only where nothing says.
    threads: int | None = None
    # What the binary ignored ("Unconsumed cmdline flags"), argv items as it printed them.
    ignored_flags: tuple[str, ...] = ()
    # role ("binary", "model", ...) -> {"remote", "sha256", "size_bytes", "cached", "pushed_bytes"}
    transfer: dict[str, Any] = field(default_factory=dict)
    # temperatures before and after the run, limits, time waited to cool down (device runs)
    thermal: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ResultFormatError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.schema != SCHEMA:
            raise ResultFormatError(f"schema {self.schema!r} is not {SCHEMA!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ResultFormatError(f"threads must be a positive int or null, got {self.threads!r}")
        if not all(isinstance(flag, str) for flag in self.ignored_flags):
            raise ResultFormatError(f"ignored_flags must hold strings, got {self.ignored_flags!r}")

    @property
    def measured(self) -> bool:
        """True when the latency numbers are those of the requested delegate in full."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        data = _plain(asdict(self))
        if data["binary"].get("origin") is None:  # optional: absent, not null, so older readers load it
            data["binary"].pop("origin", None)
        # schema first: a reader sees what it holds before anything else.
        return {"schema": data.pop("schema"), **data}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_PARTS = {"model": ModelRef, "device": DeviceRef, "binary": BinaryRef, "latency_ms": Latency,
          "memory_mb": Memory, "delegation": Delegation}
_TUPLES = {"argv", "warnings", "ignored_flags"}


def result_from_dict(data: Any) -> Result:
    """Build a Result from its JSON form (any version in SCHEMAS; older ones upgraded); anything malformed raises
    ResultFormatError, nothing else."""
    if not isinstance(data, dict):
        raise ResultFormatError("a result must be a JSON object", "pass a file written by `mai-bench run --out`")
    schema = data.get("schema")
    if schema not in SCHEMAS:
        raise ResultFormatError(f"unsupported result schema {schema!r} (this mai-bench reads "
                                f"{', '.join(map(repr, SCHEMAS))})", "re-run the benchmark with this mai-bench version")
    if schema == SCHEMA_V1:
        data = _upgrade_v1(data)
    try:
        kwargs: dict[str, Any] = {}
        for f in fields(Result):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in _PARTS:
                kwargs[f.name] = _build_part(_PARTS[f.name], f.name, value)
            elif f.name in _TUPLES:
                kwargs[f.name] = tuple(_require_list(f.name, value))
            else:
                kwargs[f.name] = value
        return Result(**kwargs)
    except ResultFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ResultFormatError(f"malformed result: {error}", "pass a file written by `mai-bench run --out`") from None


def _upgrade_v1(data: dict) -> dict:
    """A version 1 document as version 2: the flags its binary ignored read again from its raw log, and the threads
    its kernels used from its settings, that log and benchmark_model's default."""
    from mai_bench.parse.lines import split_lines
    from mai_bench.parse.params import read_params
    from mai_bench.results.flags import effective_threads

    raw_log, settings = data.get("raw_log", ""), data.get("settings", {})
    if not isinstance(raw_log, str) or not isinstance(settings, dict):
        raise ResultFormatError("malformed result: raw_log must be a string and settings an object",
                                "pass a file written by `mai-bench run --out`")
    params = read_params(split_lines(raw_log))
    requested = settings.get("threads")
    requested = requested if isinstance(requested, int) and not isinstance(requested, bool) else None
    echoed = params.num_threads if params.num_threads is not None and params.num_threads >= 1 else None
    return {**data, "schema": SCHEMA, "ignored_flags": list(params.unconsumed),
            "threads": effective_threads(requested, echoed, params.unconsumed)}


def _require_list(name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise ResultFormatError(f"result field {name!r} must be a list")
    return value


def _build_part(cls: type, name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ResultFormatError(f"result field {name!r} must be an object")
    known = {f.name for f in fields(cls)}
    unknown = set(value) - known
    if unknown:
        raise ResultFormatError(f"result field {name!r} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    kwargs = dict(value)
    for key, item in kwargs.items():
        if isinstance(item, list):
            kwargs[key] = tuple(item)
    return cls(**kwargs)
