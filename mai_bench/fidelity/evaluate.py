"""Run a model with LiteRT on this machine over a RAW/RGB set and score every output: `mai-bench eval`.

The model runs at each pair's own resolution: a dynamic input ([1,None,None,4]) is resized to the packed RAW, a
static input that differs is resized too when the graph allows it, and a graph that cannot run at that size is a
clear error (nothing is cropped or tiled, so every score covers the whole image). While LiteRT runs image i+1
(it releases the GIL), one worker thread scores image i and decodes the next pair.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mai_bench import __version__
from mai_bench.clock import utc_now
from mai_bench.errors import ModelError, UsageError
from mai_bench.fidelity.metrics import PSNR_INF_NOTE, Fidelity, json_psnr, metrics
from mai_bench.fidelity.rawdata import Pair, PairFiles, find_dataset, load_pair
from mai_bench.model.reader import ModelInfo, read_model
from mai_bench.model.shapes import brief_litert_message

SCHEMA = "mai-bench/fidelity/1"
DEFAULT_THREADS = 2
SHAPE_ACTIONS = ("as-is", "resized-dynamic", "resized-static")
_SHAPE_NOTES = {
    "as-is": "the model's static input matches the data: run as is",
    "resized-dynamic": "dynamic input resized to each pair's packed RAW",
    "resized-static": "static input resized to each pair's packed RAW (the graph allows it)",
}


@dataclass(frozen=True)
class ImageScore:
    """PSNR and SSIM of the model's output for one pair."""

    name: str
    raw: str
    rgb: str
    height: int
    width: int
    psnr: float
    ssim: float

    def __post_init__(self) -> None:
        Fidelity(self.psnr, self.ssim)  # validates both
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "raw": self.raw, "rgb": self.rgb, "height": self.height, "width": self.width,
                "psnr": json_psnr(self.psnr), "ssim": self.ssim}


@dataclass(frozen=True)
class ShapeHandling:
    """What was done to run the model at the data's resolution."""

    model_input: tuple[int, ...]  # the input's shape signature; -1 marks a dynamic dimension
    input_shapes: tuple[tuple[int, ...], ...]  # every input shape the model ran at
    action: str

    def __post_init__(self) -> None:
        if self.action not in SHAPE_ACTIONS:
            raise ValueError(f"unknown shape action {self.action!r}")
        if not self.input_shapes:
            raise ValueError("the model ran at one input shape at least")

    @property
    def note(self) -> str:
        return _SHAPE_NOTES[self.action]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "note": self.note, "model_input": list(self.model_input),
                "input_shapes": [list(s) for s in self.input_shapes]}


@dataclass(frozen=True)
class Evaluation:
    """A model's fidelity over a data set: per-image scores and their means."""

    model_path: str
    model_name: str
    sha256: str
    data: dict[str, Any]
    shape: ShapeHandling
    threads: int
    scores: tuple[ImageScore, ...]
    gpu: dict[str, Any] | None = None  # `--delegate gpu`: the accelerator, and its output against the CPU's

    def __post_init__(self) -> None:
        if not self.scores:
            raise ValueError("an evaluation scores one image at least")
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 must be 64 hex digits, got {self.sha256!r}")

    @property
    def count(self) -> int:
        return len(self.scores)

    @property
    def mean_psnr(self) -> float:
        """Mean of the per-image PSNRs (the challenge's average); inf if any output equals its target."""
        return statistics.fmean(s.psnr for s in self.scores)

    @property
    def mean_ssim(self) -> float:
        return statistics.fmean(s.ssim for s in self.scores)

    def _model(self) -> dict[str, str]:
        return {"path": self.model_path, "name": self.model_name, "sha256": self.sha256}

    def _psnr_note(self) -> dict[str, str]:
        identical = sum(math.isinf(s.psnr) for s in self.scores)
        return {"psnr_note": f"{identical} output(s) equal their targets: {PSNR_INF_NOTE}"} if identical else {}

    def to_dict(self) -> dict[str, Any]:
        """The `mai-bench eval --json` output."""
        return {"model": self._model(), "data": self.data, "count": self.count,
                "mean_psnr": json_psnr(self.mean_psnr), "mean_ssim": self.mean_ssim, **self._psnr_note(),
                "shape": self.shape.to_dict(), "threads": self.threads,
                "per_image": [s.to_dict() for s in self.scores], **self._gpu()}

    def _gpu(self) -> dict[str, Any]:
        return {"delegate": "gpu", "gpu": self.gpu} if self.gpu is not None else {}

    def fidelity_document(self, created_at: str, tool_version: str = __version__) -> dict[str, Any]:
        """The saved document that reports merge with runtime results by model sha256."""
        return {"schema": SCHEMA, "model": self._model(), "psnr": json_psnr(self.mean_psnr), "ssim": self.mean_ssim,
                "count": self.count, **self._psnr_note(), "data": self.data, "shape": self.shape.to_dict(),
                "per_image": [s.to_dict() for s in self.scores], "created_at": created_at,
                "tool_version": tool_version, **self._gpu()}


@dataclass(frozen=True)
class SavedFiles:
    fidelity_json: Path
    per_image_csv: Path


def evaluate(model_path: str | Path, data_dir: str | Path, *, raw_dir: str | Path | None = None,
             rgb_dir: str | Path | None = None, limit: int | None = None, threads: int = DEFAULT_THREADS,
             progress: Callable[[int, int], None] | None = None, delegate: str = "cpu",
             precision: str | None = None) -> Evaluation:
    """Score `model_path` on the pairs in `data_dir` (see `find_dataset`), the first `limit` of them if given.

    `threads`: LiteRT's CPU threads, and the metric threads. `progress(done, total)` is called after each image.
    `delegate` "gpu": the scores are of LiteRT's GPU accelerator's outputs (`precision` fp16|fp32), and each is
    also compared with the CPU's FP32 output of the same pair (`Evaluation.gpu`).
    """
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, got {threads}", "pass --threads 1 or more")
    if delegate not in ("cpu", "gpu"):
        raise UsageError(f"eval runs on the cpu or the gpu, not {delegate!r}", "pass --delegate cpu or gpu")
    model = read_model(model_path)
    dataset = find_dataset(data_dir, raw_dir, rgb_dir).limited(limit)
    runner = HostRunner(model, threads)
    pairs = dataset.pairs
    scores: list[ImageScore] = []
    if delegate == "gpu":
        from mai_bench.gpu.evaluate import evaluate_on_gpu

        scores_gpu, gpu = evaluate_on_gpu(model, runner, pairs, threads, precision, progress, _score)
        return Evaluation(model_path=str(model.path), model_name=Path(model.path).stem, sha256=model.sha256,
                          data=dataset.to_dict(), shape=runner.shape_handling(), threads=threads,
                          scores=tuple(scores_gpu), gpu=gpu)
    # One pair after another: LiteRT and the metrics each use both cores already. Overlapping the metrics of
    # pair i with LiteRT on pair i+1 was measured 3-12% slower on 2 cores (bench/bench_eval.py, RESULTS.md).
    for files in pairs:
        pair = load_pair(files)
        scores.append(_score(files, pair, runner.run(pair), threads))
        if progress is not None:
            progress(len(scores), len(pairs))
    return Evaluation(model_path=str(model.path), model_name=Path(model.path).stem, sha256=model.sha256,
                      data=dataset.to_dict(), shape=runner.shape_handling(), threads=threads, scores=tuple(scores))


def _score(files: PairFiles, pair: Pair, output: np.ndarray, threads: int) -> ImageScore:
    fidelity = metrics(output, pair.target, threads=threads)
    height, width = pair.target.shape[:2]
    return ImageScore(name=files.name, raw=str(files.raw), rgb=str(files.rgb), height=height, width=width,
                      psnr=fidelity.psnr, ssim=fidelity.ssim)


class HostRunner:
    """One LiteRT interpreter (default XNNPACK delegate) that follows the input shape of each pair."""

    def __init__(self, model: ModelInfo, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.path = model.path
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ModelError(f"{model.path.name} has {len(model.inputs)} input(s) and {len(model.outputs)} "
                             "output(s); an ISP model has one of each",
                             "export the model with one input and one output")
        self.signature = tuple(int(d) for d in model.inputs[0].shape_signature)
        if len(self.signature) != 4 or self.signature[3] != 4:
            raise ModelError(f"{model.path.name} takes input {list(self.signature)}; the packed RAW is [1,H,W,4]",
                             "export the model with input [1,None,None,4] or [1,544,960,4]")
        custom = sorted({op.name for op in model.ops if op.is_custom})
        if custom:
            raise ModelError(f"{model.path.name} uses custom ops that LiteRT on this machine cannot run: "
                             f"{', '.join(custom)}",
                             "re-export the model with the TFLite converter using builtin ops only")
        try:
            self.interpreter = Interpreter(model_path=str(model.path), num_threads=threads)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"LiteRT cannot load {model.path.name}: {brief_litert_message(str(error))}",
                             "re-export the model with the TFLite converter using builtin ops only") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.shape: tuple[int, ...] | None = None
        self.shapes_run: list[tuple[int, ...]] = []

    def infer(self, packed: np.ndarray) -> np.ndarray:
        """The model's output [1, H, W, 3] as float32 for one packed RAW [H/2, W/2, 4]."""
        shape = (1, *packed.shape)
        if shape != self.shape:
            self._reshape(shape)
        self.interpreter.set_tensor(self.input["index"], _quantize(packed[None], self.input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)

    def run(self, pair: Pair) -> np.ndarray:
        """The model's RGB output [H, W, 3] as float32 for one pair."""
        output = self.infer(pair.raw)
        check_output_shape(f"at input {_text((1, *pair.raw.shape))} {self.path.name}", output, pair)
        if not np.isfinite(output).all():
            raise ModelError(f"{self.path.name} output NaN or infinite values for pair {pair.name}",
                             "check the model's weights and its conversion")
        return output[0]

    def _reshape(self, shape: tuple[int, ...]) -> None:
        try:
            self.interpreter.resize_tensor_input(self.input["index"], list(shape))
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            if -1 in self.signature:
                fix = "use data at a size the graph accepts (its strides and reshapes decide which)"
            else:
                fix = (f"export the model with input [1,None,None,4], or evaluate on data whose packed RAW is "
                       f"{_text(self.signature)}")
            raise ModelError(f"{self.path.name} cannot run at the data's input {_text(shape)}: "
                             f"{brief_litert_message(str(error))}", fix) from None
        self.shape = shape
        self.shapes_run.append(shape)

    def shape_handling(self) -> ShapeHandling:
        shapes = tuple(dict.fromkeys(self.shapes_run))
        if shapes == (self.signature,):
            action = "as-is"
        elif -1 in self.signature:
            action = "resized-dynamic"
        else:
            action = "resized-static"
        return ShapeHandling(model_input=self.signature, input_shapes=shapes, action=action)


def _quantize(values: np.ndarray, details: dict) -> np.ndarray:
    dtype = np.dtype(details["dtype"])
    if dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    if not scale:
        raise ModelError(f"the model's input is {dtype} without quantization parameters",
                         "export a float32 model, or a quantized one with input scale and zero point")
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    if not scale:
        raise ModelError(f"the model's output is {values.dtype} without quantization parameters",
                         "export a float32 model, or a quantized one with output scale and zero point")
    return (values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def check_output_shape(what: str, output: np.ndarray, pair: Pair) -> None:
    """The model's output must be the pair's target RGB: ModelError naming `what` produced it otherwise."""
    expected = (1, *pair.target.shape)
    if output.shape != expected:
        raise ModelError(f"{what} outputs {_text(output.shape)}, but the target of pair {pair.name} is "
                         f"{_text(expected)}", "the model must output RGB at twice the packed RAW's height and width")


def _text(shape) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def save_evaluation(evaluation: Evaluation, out_dir: str | Path) -> SavedFiles:
    """Write `fidelity_<model>.json` (the fidelity document) and `fidelity_<model>.csv` (one row per image)
    into `out_dir`, each atomically."""
    import pandas as pd

    from mai_bench.results.store import write_atomic

    out_dir = Path(out_dir)
    stem = "fidelity_" + "".join(c if c.isalnum() or c in "._-" else "_" for c in evaluation.model_name)[:60]
    document = evaluation.fidelity_document(created_at=utc_now())
    json_path, csv_path = out_dir / f"{stem}.json", out_dir / f"{stem}.csv"
    write_atomic(json_path, json.dumps(document, indent=2) + "\n")
    frame = pd.DataFrame([{**s.to_dict(), "psnr": s.psnr} for s in evaluation.scores],
                         columns=["name", "psnr", "ssim", "height", "width", "raw", "rgb"])
    write_atomic(csv_path, frame.to_csv(index=False))
    return SavedFiles(fidelity_json=json_path, per_image_csv=csv_path)
