"""One benchmark from model file to Result: read the model, plan the shape, run, parse, classify."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from mai_bench.errors import UsageError
from mai_bench.model.reader import ModelInfo, read_model
from mai_bench.model.shapes import channel_mismatch, tensor_shapes
from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.results.build import build_result
from mai_bench.results.schema import ModelRef, Result
from mai_bench.session import host_binary, host_device, run_on_host


def shaped_plan(plan: RunPlan, model: ModelInfo) -> RunPlan:
    """Decide whether the run must resize the input to the plan's shape; refuse shapes it cannot reach."""
    if len(model.inputs) != 1:
        raise UsageError(f"{model.path} has {len(model.inputs)} inputs; the challenge models have exactly one",
                         "export the model with a single [1,H,W,4] RAW input")
    tensor = model.inputs[0]
    if tuple(tensor.shape_signature) == tuple(plan.input_shape):
        return replace(plan, resize_input=False)
    if len(tensor.shape_signature) != len(plan.input_shape):
        raise UsageError(
            f"{model.path} takes input of shape {list(tensor.shape_signature)}, which cannot become "
            f"{list(plan.input_shape)}", "export the model with input [1,544,960,4] or [1,None,None,4]")
    wrong_channels = channel_mismatch(tensor.shape_signature, plan.input_shape, Path(model.path).name)
    if wrong_channels is not None:  # said before LiteRT is asked, whose own error is about a CONV_2D node
        raise wrong_channels
    return replace(plan, resize_input=True, input_name=tensor.name)


def model_ref(model: ModelInfo, plan: RunPlan) -> ModelRef:
    """The model as a result records it, with its output shape at the plan's input shape.

    When the run resizes the input, the output shape is found by resizing in LiteRT on the host first: a shape
    the graph cannot reach is a clear error before anything runs (ResizeError, exit 2).
    """
    outputs = model.outputs
    output_shape = tuple(outputs[0].shape) if len(outputs) == 1 else None
    if plan.resize_input and len(outputs) == 1:
        output_shape = tensor_shapes(model, plan.input_shape).of(model.primary.outputs[0])
    return ModelRef(path=str(model.path), name=Path(model.path).stem, sha256=model.sha256,
                    size_bytes=model.size_bytes, input_shape=tuple(plan.input_shape), output_shape=output_shape)


def measure_on_host(model_path: Path, plan: RunPlan, fidelity_input: Path | None = None) -> Result:
    """Benchmark `model_path` on this machine with the host runner (real LiteRT): the CPU, or for --delegate gpu
    LiteRT's GPU accelerator on this machine's Vulkan device (found by `mai_bench.gpu.vulkan`; SwiftShader, a
    software one, when there is no GPU). With `fidelity_input` (a RAW PNG) the run is fed that RAW and its output
    is scored against a plain LiteRT FP32 run on the CPU; a GPU run without one is compared with the CPU's FP32
    output of the same random input (`extra.gpu_vs_cpu`)."""
    if plan.delegate not in ("xnnpack", "cpu", "gpu"):  # the host runner would only report the delegate missing
        raise UsageError(f"--device local runs on this machine and has no {plan.delegate} delegate",
                         "use --delegate gpu, xnnpack or cpu with --device local, or pick an Android device")
    model = read_model(model_path)
    plan = shaped_plan(plan, model)
    ref = model_ref(model, plan)
    device, env, warnings = host_device(), None, ()
    if plan.delegate == "gpu":
        from mai_bench.gpu.vulkan import host_gpu

        gpu = host_gpu()
        env = gpu.env()
        device = replace(device, properties={**device.properties, **gpu.properties()})
        if gpu.device is None:
            warnings = (f"no Vulkan device for LiteRT's GPU accelerator on this host ({gpu.describe()}); "
                        f"fix: {gpu.fix}",)
    with tempfile.TemporaryDirectory(prefix="mai-bench-") as tmp:
        extra = {}
        gpu_output = None
        if fidelity_input is not None:
            from mai_bench.fidelity.on_device import host_reference, prepare_input, score_output, with_fidelity

            source = prepare_input(fidelity_input, plan.input_shape, Path(tmp))
            output = Path(tmp) / "output.bin"
            plan = with_fidelity(plan, model.inputs[0].name, str(source.tensor_file), str(output))
        elif plan.delegate == "gpu":
            # Not a plan setting (settings identify the benchmark): one more flag on this run's command line.
            gpu_output = Path(tmp) / "gpu_output.bin"
        raw = run_on_host(plan, Path(model_path), env=env,
                          extra_argv=(f"--output_filepath={gpu_output}",) if gpu_output is not None else ())
        if fidelity_input is not None:
            extra["fidelity"] = (score_output(output.read_bytes(), host_reference(model, source.packed), source)
                                 if output.is_file() else {"input": str(fidelity_input),
                                                           "error": "the run wrote no output tensor"})
            if plan.delegate == "gpu":
                from mai_bench.gpu.numerics import precision_label

                extra["fidelity"]["gpu_precision"] = precision_label(plan.precision)
        elif gpu_output is not None and gpu_output.is_file():
            from mai_bench.gpu.numerics import gpu_vs_cpu_on_random_input

            extra["gpu_vs_cpu"] = gpu_vs_cpu_on_random_input(gpu_output.read_bytes(), model, plan.input_shape,
                                                             plan.precision)
    return build_result(plan=plan, raw=raw, parsed=parse_log(raw.output), model=ref, device=device,
                        binary=host_binary(), extra=extra, warnings=warnings)
