"""LiteRT's GPU accelerator in this process: compile a model with it, and read its decisions from what it prints.

The accelerator (ML Drift over WebGPU/Dawn on Vulkan, `libLiteRtWebGpuAccelerator.so`) says what it does only
on the process's stdout and stderr, from native code: the adapter it selected, the ops it leaves to the CPU
("Following operations are not supported by GPU delegate: ... N operations will run on the GPU, and the
remaining M operations will run on the CPU."), one "Initializing WebGPU-based API from graph." per delegate
kernel it builds, and its errors. `NativeCapture` diverts file descriptors 1 and 2 into a file while Python's
own output keeps going to the real streams; `read_decision` turns the captured lines into a `GpuDecision`.

Nothing here imports LiteRT at module level; `compile_on_gpu` does.
"""

from __future__ import annotations

import ctypes
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

# The name LiteRT registers the accelerator under ("RegisterAccelerator: ptr=..., name=GPU WebGPU").
DEFAULT_NAME = "GPU WebGPU"
_REGISTERED = re.compile(r"RegisterAccelerator: ptr=\S+, name=(GPU[^\r\n]*)$")
_ADAPTER = re.compile(r"Selected adapter: (?P<name>.+?), arch=(?P<arch>[^,]*), vendor=(?P<vendor>[^,]*), "
                      r"backend=(?P<backend>[^,]*), adapterType=(?P<type>.+?)\s*$")
_UNSUPPORTED_HEAD = re.compile(r"Following operations are not supported by GPU delegate:")
_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations will run on the CPU")
_UNSUPPORTED_OP = re.compile(r"^([A-Z][A-Z0-9_]*(?: [^:\s]{1,200})?): ?(.*)$")
_KERNEL = "Initializing WebGPU-based API from graph."
# What LiteRT prints about itself on every start (registries, plugins for other vendors, environment plumbing):
# not the accelerator's decisions, kept out of the benchmark log.
_NOISE = re.compile(
    r"\[(?:environment\.cc:(?:36|47)|accelerator_registry\.cc|gpu_registry\.cc|cpu_registry\.cc|npu_registry\.cc"
    r"|compiler_plugin\.cc|compiled_model\.cc:829|gpu_environment\.h|delegate_webgpu\.cc:3[46]\d)[:\]]"
    r"|^└ Could not load shared library .*(?:CompilerPlugin|openvino)"
    r"|Logging before InitGoogle\(\) is written to STDERR"
    r"|XDG_RUNTIME_DIR is invalid or not set"
    r"|delegate_webgpu\.cc:7[56]\d\] # of threads to"
    r"|Failed to get buffer requirements for tensor"
)
_ERROR = re.compile(r"^(?:ERROR|FATAL)\b|^E\d{4} |^F\d{4} |^Warning: |Failed to|failed|No adapters found")
_GLOG_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ")


@dataclass(frozen=True)
class GpuDecision:
    """What the GPU accelerator said about one model: which device, how much of the graph it took, why not all.

    `gpu_ops`/`cpu_ops` are the accelerator's own counts, from its "N operations will run on the GPU, and the
    remaining M ..." line; None when it printed none (it prints it only when it leaves ops to the CPU).
    """

    accelerator: str = DEFAULT_NAME
    adapter: str | None = None
    adapter_type: str | None = None  # "CPU / Software", "Discrete GPU", ...
    backend: str | None = None  # "Vulkan"
    unsupported: tuple[tuple[str, str], ...] = ()  # (op, the accelerator's reason)
    gpu_ops: int | None = None
    cpu_ops: int | None = None
    kernels: int = 0
    created: bool = False
    fully_accelerated: bool | None = None
    errors: tuple[str, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)  # the accelerator's lines, noise removed

    @property
    def software(self) -> bool | None:
        if self.adapter_type is None:
            return None
        return "software" in self.adapter_type.lower() or self.adapter_type.strip().upper().startswith("CPU")

    def to_dict(self) -> dict[str, Any]:
        return {"accelerator": self.accelerator, "adapter": self.adapter, "adapter_type": self.adapter_type,
                "backend": self.backend, "software": self.software, "created": self.created,
                "fully_accelerated": self.fully_accelerated, "gpu_ops": self.gpu_ops, "cpu_ops": self.cpu_ops,
                "kernels": self.kernels,
                "unsupported": [{"op": op, "reason": reason} for op, reason in self.unsupported],
                "errors": list(self.errors), "lines": list(self.lines)}


def useful_lines(text: str) -> list[str]:
    """The captured native lines without LiteRT's start-up chatter."""
    return [line.rstrip() for line in text.splitlines() if line.strip() and not _NOISE.search(line)]


def read_decision(segments: list[str], *, fully_accelerated: bool | None = None) -> GpuDecision:
    """The decision in captured native output. `segments` are captures in time order (compiling, then re-planning
    after a resize); the delegation counts come from the last segment that planned the graph, the adapter and
    errors from any."""
    all_text = "\n".join(segments)
    name = next((m.group(1).strip() for m in map(_REGISTERED.search, all_text.splitlines()) if m), DEFAULT_NAME)
    adapter = None
    for line in all_text.splitlines():
        match = _ADAPTER.search(line)
        if match:
            adapter = match
    planned = [s for s in segments if _KERNEL in s or _UNSUPPORTED_HEAD.search(s)]
    last = planned[-1] if planned else ""
    unsupported: list[tuple[str, str]] = []
    gpu_ops = cpu_ops = None
    listing = False
    for line in last.splitlines():
        text = _GLOG_PREFIX.sub("", line.strip())
        if text.startswith("ERROR: "):
            text = text[len("ERROR: "):]
        if _UNSUPPORTED_HEAD.search(text):
            listing, unsupported = True, []
            continue
        split = _SPLIT.search(text)
        if split:
            gpu_ops, cpu_ops = int(split.group(1)), int(split.group(2))
            listing = False
            continue
        if listing:
            match = _UNSUPPORTED_OP.match(text)
            if match and (match.group(1), match.group(2).strip()) not in unsupported:
                unsupported.append((match.group(1), match.group(2).strip()))
    kernels = last.count(_KERNEL)
    lines = useful_lines(all_text)
    errors = tuple(line for line in lines if _ERROR.search(line) and not _UNSUPPORTED_HEAD.search(line)
                   and "Failed to load OpenCL library" not in line)
    return GpuDecision(accelerator=name, adapter=adapter.group("name") if adapter else None,
                       adapter_type=adapter.group("type") if adapter else None,
                       backend=adapter.group("backend") if adapter else None, unsupported=tuple(unsupported),
                       gpu_ops=gpu_ops, cpu_ops=cpu_ops, kernels=kernels, created=adapter is not None,
                       fully_accelerated=fully_accelerated, errors=errors, lines=tuple(lines))


class NativeCapture:
    """Divert file descriptors 1 and 2 (what native code writes) into a file; Python's sys.stdout and sys.stderr
    keep writing to the real streams meanwhile. `drain()` returns what was captured since the last drain."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._offset = 0
        self._saved: tuple[int, int] | None = None
        self._streams: tuple[Any, Any] | None = None

    def __enter__(self) -> NativeCapture:
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(self._saved[0]), "wb", buffering=0), encoding="utf-8",
                                      errors="replace", write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(self._saved[1]), "wb", buffering=0), encoding="utf-8",
                                      errors="replace", write_through=True)
        os.dup2(self._file.fileno(), 1)
        os.dup2(self._file.fileno(), 2)
        return self

    def drain(self) -> str:
        _flush_c_stdio()
        self._file.seek(self._offset)
        data = self._file.read()
        self._offset += len(data)
        self._file.seek(0, os.SEEK_END)
        return data.decode("utf-8", errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self._saved is None:
            return
        _flush_c_stdio()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        ours = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self._streams
        for stream in ours:
            stream.close()
        self._saved = None


def _flush_c_stdio() -> None:
    """fflush(NULL): native printf output to a non-terminal sits in C stdio buffers until flushed."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def gpu_options(precision: str | None, threads: int | None) -> Any:
    """LiteRT Options for the GPU accelerator with CPU fallback. precision "fp32" sets the accelerator's
    enforce_f32; otherwise it may compute in FP16 where the device supports it (benchmark_model's default)."""
    from ai_edge_litert.compiled_model import CpuOptions, GpuOptions, HardwareAccelerator, Options

    return Options(hardware_accelerators=HardwareAccelerator.GPU | HardwareAccelerator.CPU,
                   gpu_options=GpuOptions(enforce_f32=precision == "fp32"),
                   cpu_options=CpuOptions(num_threads=threads or 1))


@dataclass
class Compiled:
    """A compiled model and what the accelerator printed while compiling it (None: compiling failed)."""

    model: Any
    segments: list[str]
    error: str | None = None

    def decision(self) -> GpuDecision:
        full = None if self.model is None else self.model.is_fully_accelerated()
        return read_decision(self.segments, fully_accelerated=full)


def compile_on_gpu(path: str, capture: NativeCapture, *, precision: str | None = None, threads: int | None = None,
                   input_shape: tuple[int, ...] | None = None) -> Compiled:
    """Compile `path` for the GPU accelerator (CPU fallback allowed), resized to `input_shape` if given, inside
    `capture`. Never raises for what LiteRT refuses: the error text is kept."""
    from ai_edge_litert.compiled_model import CompiledModel

    segments: list[str] = []
    try:
        model = CompiledModel.from_file(path, options=gpu_options(precision, threads))
    except (RuntimeError, ValueError) as error:
        segments.append(capture.drain())
        return Compiled(None, segments, str(error))
    segments.append(capture.drain())
    if input_shape is not None:
        try:
            current = _input_shape(model)
            if current is not None and tuple(current) != tuple(input_shape):
                model.resize_input_tensor(0, list(input_shape))
                # The accelerator plans the resized graph again when buffers are first made for it.
                model.create_input_buffers(0)
                model.create_output_buffers(0)
        except (RuntimeError, ValueError) as error:
            segments.append(capture.drain())
            return Compiled(model, segments, str(error))
        segments.append(capture.drain())
    return Compiled(model, segments)


def _input_shape(model: Any) -> list[int] | None:
    key = next(iter(model.get_signature_list()), None)
    if key is None:
        return None
    details = list(model.get_input_tensor_details(key).values())
    return list(details[0]["shape"]) if details else None
