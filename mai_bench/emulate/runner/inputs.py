"""Input layers: the --input_layer* flags, and the random data the tool fills inputs with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mai_bench.binaries import value_files
from mai_bench.emulate.runner.errors import Failure, Fatal
from mai_bench.emulate.runner.flags import _f32, parse_value


@dataclass(frozen=True)
class InputLayer:
    """One --input_layer entry with its shape, and optionally an integer value range or a raw value file."""

    name: str
    shape: tuple[int, ...]
    value_range: tuple[int, int] | None = None
    value_file: str | None = None

    def __post_init__(self) -> None:
        if self.value_range is not None and self.value_range[0] > self.value_range[1]:
            raise ValueError(f"value range {self.value_range} has low > high")


def _split(text: str, delimiter: str) -> list[str]:
    return text.split(delimiter) if text else []


def _split_name_and_file(item: str) -> tuple[str, str]:
    """"name:path" where "::" stands for a ':' inside either part (today's benchmark_model)."""
    parts = value_files.split_item(item, value_files.DOUBLE_COLON)
    if parts is None:  # the tool then logs the status code itself, kTfLiteError being 1
        single = item.replace("::", "")
        what = "doesn't contain any delimiter" if ":" not in single else "contains more than one delimiter"
        raise Failure(f"{item} {what}.", f"Wrong input value file item specified: {item}", "1")
    return parts


def parse_input_layers(names_text: str, shapes_text: str, ranges_text: str, files_text: str,
                       on_warning: Any = None) -> tuple[InputLayer, ...]:
    """PopulateInputLayerInfo: the --input_layer* flags as InputLayers; raises Failure or Fatal like the tool."""
    names = _split(names_text, ",")
    shapes = _split(shapes_text, ":")
    if len(names) != len(shapes):
        raise Failure(f"The number of items in --input_layer_shape ({shapes_text}, with {len(shapes)} items) must "
                      f"match the number of items in --input_layer ({names_text}, with {len(names)} items). For "
                      "example --input_layer=input1,input2 --input_layer_shape=1,224,224,4:1,20")
    layers: dict[str, dict[str, Any]] = {}
    for name, shape_text in zip(names, shapes):
        dims = []
        for piece in shape_text.split(","):
            ok, value = parse_value("int32", piece)
            if not ok:
                raise Fatal(f"Incorrect size string specified: {shape_text}")
            dims.append(value)
        if -1 in dims:
            raise Failure("Any unknown sizes in the shapes (-1's) must be replaced with the size you want to "
                          "benchmark with.")
        layers.setdefault(name, {"name": name, "shape": tuple(dims)})

    def find(name: str) -> dict[str, Any]:
        if name not in layers:
            raise Fatal(f"Cannot find the corresponding input_layer name({name}) in --input_layer as {names_text}")
        return layers[name]

    for item in _split(ranges_text, ":"):
        parts = item.split(",")
        if len(parts) != 3:
            raise Failure(f"Wrong input value range item specified: {item}")
        layer = find(parts[0])
        low, high = (parts[1].strip(), parts[2].strip())
        if not (re.fullmatch(r"[+-]?[0-9]+", low) and re.fullmatch(r"[+-]?[0-9]+", high)) or int(low) > int(high):
            raise Failure(f"Wrong low and high value of the input value range specified: {item}")
        layer["value_range"] = (int(low), int(high))
    for item in _split(files_text, ","):
        name, path = _split_name_and_file(item)
        layer = find(name)
        if "value_range" in layer and on_warning is not None:
            on_warning(f"The input_name:{name} appears both in input_layer_value_files and "
                       "input_layer_value_range. The input_layer_value_range of the input_name will be ignored.")
        layer["value_file"] = path
    return tuple(InputLayer(**layers[name]) for name in names if name in layers)


def random_tensor(rng: Any, name: str, dtype: Any, shape: tuple[int, ...],
                  value_range: tuple[int, int] | None) -> Any:
    """utils::CreateRandomTensorData: uniform values from the tool's mt19937 stream, in the tool's ranges.

    Floats use libc++'s mapping (one 32-bit draw per float, two per double) so they follow the tool's stream;
    integers are uniform in the same inclusive range but not drawn bit for bit as libc++ does.
    """
    import numpy as np

    count = int(np.prod(shape))
    kind = dtype.kind
    if dtype == np.float16:
        raise Fatal(f"Populating the tensor {name} of type FLOAT16 is disabled.")
    if dtype == np.bool_:
        return rng.randint(0, 2, size=count).astype(np.bool_).reshape(shape)
    if kind in "fc":
        low, high = value_range if value_range is not None else (-0.5, 0.5)
        if dtype == np.float64:
            draws = rng.randint(0, 2**32, size=(count, 2), dtype=np.uint32).astype(np.float64)
            unit = (draws[:, 0] + draws[:, 1] * 2.0**32) / 2.0**64
            return (unit * (high - low) + low).reshape(shape)
        draws = rng.randint(0, 2**32, size=count * (2 if kind == "c" else 1), dtype=np.uint32)
        unit = draws.astype(np.float32) / np.float32(2.0**32)
        values = unit * np.float32(_f32(high) - _f32(low)) + np.float32(low)
        return (values.view(np.complex64) if kind == "c" else values).reshape(shape)
    if kind in "iu":
        defaults = {np.dtype(np.uint8): (0, 254), np.dtype(np.int8): (-127, 127)}
        low, high = value_range if value_range is not None else defaults.get(
            dtype, (0, 99) if dtype.itemsize >= 4 else (0, 0))
        return rng.randint(low, high + 1, size=count).astype(dtype).reshape(shape)
    raise Fatal(f"Don't know how to populate tensor {name} of type {dtype}")
