"""`--input_layer_value_files=NAME:PATH`: how a benchmark_model build reads it, and how to write an item it reads back.

The tool splits each item (items are separated by ',') at its one unescaped ':' (SplitInputLayerNameAndValueFile in
tflite/tools/benchmark/benchmark_tflite_model.cc). How a ':' inside a name is escaped depends on the build:
- current sources: "::" stands for ':' (`input::0:/tmp/input` is input `input:0`);
- the 2022 sources: "\\:" stands for ':', a ':' preceded by a backslash is no delimiter;
- older builds split at every ':' and cannot take a name with one at all.
TensorFlow's converter names inputs like `serving_default_input_1:0`, so the escape matters.
"""

from __future__ import annotations

from mai_bench.errors import UsageError

DOUBLE_COLON = "::"
BACKSLASH = "\\:"
ESCAPES = (DOUBLE_COLON, BACKSLASH)
# Builds that mai-bench runs and whose sources it knows: the official nightly and the host runner follow the
# current sources.
CURRENT = DOUBLE_COLON

_WHICH = "current benchmark_model sources take '::', the 2022 sources '\\:'"


def split_item(item: str, escape: str) -> tuple[str, str] | None:
    """(name, path) as a build with `escape` reads `item`, or None where it refuses the item."""
    if escape == DOUBLE_COLON:
        delimiter, index = -1, 0
        while index < len(item) - 1:
            if item[index] == ":":
                if item[index + 1] == ":":
                    index += 1
                elif delimiter == -1:
                    delimiter = index
                else:
                    return None  # "contains more than one delimiter"
            index += 1
    elif escape == BACKSLASH:
        delimiter = -1
        for index in range(1, len(item)):
            if item[index] == ":" and item[index - 1] != "\\":
                if delimiter != -1:
                    return None
                delimiter = index
    else:
        raise ValueError(f"unknown escape {escape!r}; use one of {ESCAPES}")
    if delimiter == -1:
        return None  # "doesn't contain any delimiter"
    return item[:delimiter].replace(escape, ":"), item[delimiter + 1:].replace(escape, ":")


def value_files_item(name: str, path: str, escape: str | None) -> str:
    """The `--input_layer_value_files` item that a build with `escape` (None: not known) reads as (name, path).

    Raises UsageError, before anything runs, where that build cannot be given this name and path."""
    if "," in name or "," in path:
        raise UsageError(f"the input {name!r} or its value file {path!r} contains ',', which separates the items "
                         "of benchmark_model's --input_layer_value_files: it cannot be passed",
                         "rename the model's input (no ',' and no ':'), e.g. when converting it")
    if escape is None:
        if ":" in name or ":" in path:
            raise UsageError(f"the input {name!r} has a ':', which --input_layer_value_files needs escaped, and the "
                             f"escape depends on the benchmark_model build ({_WHICH}); mai-bench does not know it "
                             "for this binary",
                             "pass --value-files-escape '::' or '\\:' to say which your --benchmark-binary takes, "
                             "drop --benchmark-binary to use the nightly build, or rename the model's input")
        return f"{name}:{path}"
    item = f"{name.replace(':', escape)}:{path.replace(':', escape)}"
    if split_item(item, escape) != (name, path):
        raise UsageError(f"the input {name!r} with value file {path!r} cannot be written for a benchmark_model that "
                         f"escapes ':' as {escape!r} ({_WHICH})",
                         "rename the model's input (letters, digits, '_' and '/' are always safe), or use a build "
                         "with the other escape")
    return item
