"""Pre-submission checks for a Learned Smartphone ISP model: the challenge's I/O contract, ops the GPU delegate
accepts (the phone delegate's op list; with `gpu_probe`, also LiteRT's real GPU accelerator, see
`gpu_accelerator`), size and MACs. An unreadable file raises ModelError; everything else becomes a Finding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mai_bench.challenge import FULL_HD_INPUT, FULL_HD_OUTPUT
from mai_bench.model.gpu_ops import SOURCE, SOURCE_VERSION, gpu_issues

PHONE_LIST = "the phone TFLite GPU delegate's op list"
from mai_bench.model.macs import MacsReport, macs_from_shapes
from mai_bench.model.reader import ModelInfo, read_model
from mai_bench.model.shapes import ResizeError, tensor_shapes

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

# Challenge files were 0.01-205 MB; past this, loading and GPU upload take long enough to be worth a note.
LARGE_MODEL_MIB = 50.0


@dataclass(frozen=True)
class Finding:
    """One check result: `code` is stable for scripts, `fix` is the one thing to do (None for info)."""

    code: str
    severity: Severity
    message: str
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not self.code or not self.message:
            raise ValueError("a finding needs a code and a message")
        if self.fix is not None and "\n" in self.fix:
            raise ValueError("a fix is one line")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class CheckReport:
    """Findings for one model; it passes when no finding is an error. `macs` is None when the model could not
    be run at the Full-HD input shape."""

    model: ModelInfo
    findings: tuple[Finding, ...]
    macs: MacsReport | None
    gpu_accelerator: dict[str, Any] | None = None  # what LiteRT's GPU accelerator said (None: not asked)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def size_bytes(self) -> int:
        return self.model.size_bytes

    @property
    def size_mib(self) -> float:
        return self.model.size_mib

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model.path),
            "sha256": self.model.sha256,
            "passed": self.passed,
            "size_bytes": self.size_bytes,
            "size_mib": round(self.size_mib, 6),
            "macs": self.macs.to_dict() if self.macs else None,
            "findings": [f.to_dict() for f in self.findings],
            "gpu_ops_source": f"{SOURCE}; {SOURCE_VERSION}",
            "gpu_accelerator": self.gpu_accelerator,
        }


def check_model(path: str | Path, *, gpu_probe: bool = False) -> CheckReport:
    """Run every pre-submission check on the model at `path`. Raises ModelError if it is not a readable model.
    With `gpu_probe`, LiteRT's real GPU accelerator is asked too (`gpu_accelerator`), in a child process that
    compiles the model while the other checks run."""
    model = read_model(path)
    pending = None
    if gpu_probe:
        from mai_bench.model import gpu_accelerator

        pending = gpu_accelerator.start(model)
    findings = [*_io_findings(model), *_op_findings(model)]
    macs = None
    if len(model.inputs) == 1:
        shape_findings, macs = _run_at_full_hd(model)
        findings += shape_findings
    findings += _size_findings(model, macs)
    gpu = None
    if pending is not None:
        probe = pending.result()
        findings += gpu_accelerator.findings(model, probe)
        gpu = probe.to_dict()
    return CheckReport(model, tuple(findings), macs, gpu)


def _fmt(shape) -> str:
    return "[" + ",".join("None" if d == -1 else str(d) for d in shape) + "]"


def _io_findings(model: ModelInfo) -> list[Finding]:
    found = []
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1:
        names = ", ".join(t.name for t in inputs) or "none"
        found.append(Finding(
            "input-count", "error", f"the model has {len(inputs)} inputs ({names}); the challenge feeds exactly one",
            f"export the model with a single {_fmt(FULL_HD_INPUT)} float32 input",
        ))
    elif inputs[0].dtype != "float32":
        found.append(Finding(
            "input-dtype", "error",
            f"input {inputs[0].name!r} is {inputs[0].dtype}; the challenge feeds float32 RAW data",
            "keep a float32 input (quantize inside the model, or convert with inference_input_type=tf.float32)",
        ))
    if len(outputs) != 1:
        found.append(Finding(
            "output-count", "error", f"the model has {len(outputs)} outputs; the challenge reads exactly one",
            f"export the model with a single {_fmt(FULL_HD_OUTPUT)} float32 output",
        ))
    elif outputs[0].dtype != "float32":
        found.append(Finding(
            "output-dtype", "error", f"output {outputs[0].name!r} is {outputs[0].dtype}, not float32",
            "keep a float32 output (convert with inference_output_type=tf.float32)",
        ))
    return found


def _op_findings(model: ModelInfo) -> list[Finding]:
    found = []
    flex = sorted({op.name for op in model.ops if op.is_flex})
    custom = sorted({op.name for op in model.ops if op.is_custom and not op.is_flex})
    if flex:
        found.append(Finding(
            "flex-ops", "error", f"TensorFlow (Flex) ops need the Select TF ops runtime: {', '.join(flex)}",
            "convert with builtin ops only (no tf.lite.OpsSet.SELECT_TF_OPS) and replace these ops",
        ))
    if custom:
        found.append(Finding(
            "custom-ops", "error", f"custom ops are not in the phone's TFLite runtime: {', '.join(custom)}",
            "replace the custom ops with builtin TFLite ops",
        ))
    for issue in gpu_issues(model):
        times = f" (x{issue.count})" if issue.count > 1 else ""
        found.append(Finding("gpu-unsupported", "error", f"{issue.op}{times}: {issue.reason} (says {PHONE_LIST})",
                             issue.fix))
    return found


def _run_at_full_hd(model: ModelInfo) -> tuple[list[Finding], MacsReport | None]:
    """Resize the input to Full HD in LiteRT once; the output shape check and the MACs both use the result."""
    source = model.inputs[0]
    want_in, want_out = _fmt(FULL_HD_INPUT), _fmt(FULL_HD_OUTPUT)
    try:
        shapes = tensor_shapes(model, FULL_HD_INPUT)
    except ResizeError as error:
        custom = sorted({op.name for op in model.ops if op.is_custom})
        if custom:
            # Already an error above; LiteRT on this host cannot run them, so the shapes stay unknown.
            skipped = f"the Full-HD shape check did not run: LiteRT cannot run the custom ops {', '.join(custom)}"
            return [Finding("shape-skipped", "info", skipped)], None
        return [Finding("full-hd-resize", "error", error.message, error.fix)], None
    found = []
    if source.dynamic_dims:
        found.append(Finding(
            "input-shape", "info", f"input {_fmt(source.shape_signature)} is dynamic; LiteRT resized it to {want_in}",
        ))
    elif source.shape != FULL_HD_INPUT:
        found.append(Finding(
            "input-shape", "warning",
            f"input is fixed at {_fmt(source.shape)}; tools that do not resize inputs will not run it at {want_in}",
            f"convert the model with input shape {want_in}",
        ))
    if len(model.outputs) == 1:
        got = shapes.of(model.primary.outputs[0])
        if got != FULL_HD_OUTPUT:
            found.append(Finding(
                "output-shape", "error",
                f"at input {want_in} the output is {_fmt(got or ())}; the challenge expects {want_out}",
                f"make the network output {want_out} (2x the packed RAW, 3 RGB channels)",
            ))
    return found, macs_from_shapes(model, shapes)


def _size_findings(model: ModelInfo, macs: MacsReport | None) -> list[Finding]:
    size = f"model file is {model.size_mib:.3f} MiB ({model.size_bytes:,} bytes)"
    found = [Finding("size", "info", size)]
    if model.size_mib > LARGE_MODEL_MIB:
        found = [Finding(
            "size", "warning", f"{size}, above {LARGE_MODEL_MIB:g} MiB: slow to load and to upload to the GPU",
            "prune channels or store weights as float16",
        )]
    if macs is not None:
        found.append(Finding("macs", "info", f"{macs.gmacs:.3f} GMACs per inference at {_fmt(macs.input_shape)}"))
    return found
