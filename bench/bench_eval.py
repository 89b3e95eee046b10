"""`mai-bench eval` throughput in pairs/s on the synthetic set, with the reference models at the pairs' resolution.

Reference in the same run: a bare loop doing the same work (decode, LiteRT, metrics) with nothing else, so
eval's own cost shows against this machine's noise. (An earlier eval overlapped the metrics of pair i with LiteRT
on pair i+1; this bench measured that 3-12% slower than the bare loop on 2 cores, so eval now runs sequentially.)
PyNET-V2 Mobile is built for one input shape (instance norm); its row says whether it ran.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ai_edge_litert.interpreter import Interpreter

from mai_bench.errors import MaiBenchError
from mai_bench.fidelity.evaluate import evaluate
from mai_bench.fidelity.metrics import metrics
from mai_bench.fidelity.rawdata import find_dataset, load_pair
from mai_bench.fidelity.synth import synth_dataset
from mai_bench.resources import reference_models_dir

THREADS = 2
SETS = {"256x384": (256, 384, 16), "1088x1920": (1088, 1920, 4)}  # name -> (height, width, pairs)
MODELS = ("microisp_0_5", "microisp_1_0", "pynet_v2_mobile")


def sequential(model: Path, data: Path) -> float:
    """Seconds for the same evaluation as a bare loop: one pair at a time, one thing at a time."""
    pairs = find_dataset(data).pairs
    start = time.perf_counter()
    interpreter = Interpreter(model_path=str(model), num_threads=THREADS)
    index = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]
    shape = None
    for files in pairs:
        pair = load_pair(files)
        if pair.raw.shape != shape:
            shape = pair.raw.shape
            interpreter.resize_tensor_input(index, [1, *shape])
            interpreter.allocate_tensors()
        interpreter.set_tensor(index, pair.raw[None])
        interpreter.invoke()
        metrics(interpreter.get_tensor(output)[0], pair.target, threads=THREADS)
    return time.perf_counter() - start


def main() -> None:
    print(f"| model | pairs | eval ({THREADS} threads) | CPU s | bare loop (reference) | eval / bare | shape |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mai-bench-eval-") as tmp:
        for set_name, (height, width, count) in SETS.items():
            data = Path(tmp) / set_name
            synth_dataset(data, count=count, size=(height, width))
            for name in MODELS:
                model = reference_models_dir() / f"{name}.tflite"
                label = f"{name} | {count} x {set_name}"
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    result = evaluate(model, data, threads=THREADS)
                except MaiBenchError as error:
                    print(f"| {label} | did not run: {error.message} | - | - | - | - |")
                    continue
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                reference = sequential(model, data)
                print(f"| {label} | {count / wall:.2f} pairs/s ({wall:.2f} s) | {cpu:.2f} | "
                      f"{count / reference:.2f} pairs/s ({reference:.2f} s) | {reference / wall:.2f}x | "
                      f"{result.shape.action} |")


if __name__ == "__main__":
    main()
