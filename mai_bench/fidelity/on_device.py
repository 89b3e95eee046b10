"""On-device fidelity: feed a real RAW to the benchmark (`--input_layer_value_files`), take back the output
tensor it wrote (`--output_filepath`), and score it against the host's FP32 output of the same model on the
same input. This exposes what the phone's precision costs (e.g. the GPU delegate computing in FP16)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mai_bench.binaries.value_files import CURRENT, value_files_item
from mai_bench.errors import UsageError
from mai_bench.fidelity.images import read_image
from mai_bench.fidelity.metrics import json_psnr, metrics
from mai_bench.fidelity.rawdata import pack_bayer
from mai_bench.model.reader import ModelInfo
from mai_bench.plan import RunPlan

HOST_THREADS = 2


@dataclass(frozen=True)
class FidelityInput:
    """A RAW PNG packed as the model's input, and the raw float32 bytes benchmark_model reads."""

    source: Path
    sha256: str
    packed: np.ndarray  # [H/2, W/2, 4] float32
    tensor_file: Path


def prepare_input(raw_png: Path, input_shape: tuple[int, ...], workdir: Path) -> FidelityInput:
    """Pack `raw_png` (single-channel 16-bit RGGB) and check it has the run's input shape."""
    raw = read_image(raw_png)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise UsageError(f"--fidelity-input {raw_png} is not a single-channel 16-bit RAW PNG",
                         "pass the sensor's RAW (Bayer RGGB, uint16), as in the challenge's data")
    if raw.shape[0] % 2 or raw.shape[1] % 2:
        raise UsageError(f"--fidelity-input {raw_png} is {raw.shape[0]}x{raw.shape[1]}; a Bayer mosaic has even sides",
                         "crop the RAW to even height and width")
    packed = pack_bayer(raw)
    if (1, *packed.shape) != tuple(input_shape):
        want = f"{2 * input_shape[1]}x{2 * input_shape[2]}"
        raise UsageError(f"--fidelity-input {raw_png} is {raw.shape[0]}x{raw.shape[1]}, but the run is at input "
                         f"{list(input_shape)}, which takes a {want} RAW",
                         f"pass a {want} RAW, or --input-shape 1,{packed.shape[0]},{packed.shape[1]},4")
    workdir.mkdir(parents=True, exist_ok=True)
    tensor_file = workdir / "fidelity_input.f32"
    tensor_file.write_bytes(np.ascontiguousarray(packed[None], dtype="<f4").tobytes())
    return FidelityInput(source=raw_png, sha256=hashlib.sha256(Path(raw_png).read_bytes()).hexdigest(),
                         packed=packed, tensor_file=tensor_file)


def with_fidelity(plan: RunPlan, input_name: str, input_path: str, output_path: str,
                  escape: str | None = CURRENT) -> RunPlan:
    """The plan that feeds the RAW tensor and writes the output tensor. benchmark_model matches value files
    against --input_layer, which must come with --input_layer_shape: both are given. `escape` is how the binary
    escapes ':' in a name (None: not known); a name it cannot be given is a UsageError, before anything runs."""
    item = value_files_item(input_name, input_path, escape)
    return replace(plan, resize_input=True, input_name=input_name, extra_flags=plan.extra_flags + (
        f"--input_layer_value_files={item}", f"--output_filepath={output_path}"))


def host_reference(model: ModelInfo, packed: np.ndarray) -> np.ndarray:
    """The model's FP32 output on this machine (LiteRT) for one packed RAW: [1, H, W, 3]."""
    from mai_bench.fidelity.evaluate import HostRunner

    return HostRunner(model, HOST_THREADS).infer(packed)


def score_output(device_bytes: bytes, reference: np.ndarray, source: FidelityInput) -> dict:
    """PSNR/SSIM of the device's output against the host FP32 output (the reference), for the result."""
    record = {"input": str(source.source), "input_sha256": source.sha256, "reference": "host LiteRT FP32",
              "output_shape": list(reference.shape)}
    expected = reference.size * 4
    if len(device_bytes) != expected:
        record["error"] = (f"the device wrote {len(device_bytes)} output bytes; float32 {list(reference.shape)} "
                           f"is {expected}")
        return record
    device = np.frombuffer(device_bytes, dtype="<f4").reshape(reference.shape)
    if not np.isfinite(device).all():
        record["error"] = "the device output holds NaN or infinite values"
        return record
    # Both sides as the challenge scores images: clipped to [0, 1] (the prediction is clipped by metrics()).
    score = metrics(device[0], np.clip(reference[0], 0.0, 1.0))
    record.update(psnr_vs_host=json_psnr(score.psnr), ssim_vs_host=score.ssim,
                  max_abs_diff=float(np.max(np.abs(device - reference))))
    if record["psnr_vs_host"] is None:
        record["psnr_note"] = "identical to the host output (PSNR is infinite)"
    return record
