"""Write mai_bench/model/tflite_schema.py from the TFLite schema bindings of the installed ai-edge-litert wheel.

The model reader reads .tflite flatbuffers with its own few lines of struct code instead of the generated
bindings, whose import pulls in the `flatbuffers` package and, through it, numpy (0.13 s of every `mai-bench run`).
It needs the schema's enum names and the field slots it reads; this script writes the names, and
tests/model/test_tflite_schema.py checks both against the installed bindings. Run it after upgrading
ai-edge-litert: `python scripts/make_tflite_schema.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "mai_bench" / "model" / "tflite_schema.py"
OPTIONS = ("MirrorPadOptions", "SoftmaxOptions", "DepthToSpaceOptions", "StridedSliceOptions", "BatchMatMulOptions")


def enum(cls) -> dict[int, str]:
    return {value: name for name, value in vars(cls).items() if not name.startswith("_")}


def render() -> str:
    from ai_edge_litert import schema_py_generated as schema

    import ai_edge_litert

    def table(name: str, values: dict[int, str]) -> list[str]:
        return [f"{name} = {{"] + [f'    {code}: "{text}",' for code, text in sorted(values.items())] + ["}"]

    version = getattr(ai_edge_litert, "__version__", "")
    lines = ['"""TFLite schema constants for the model reader, written by scripts/make_tflite_schema.py from the',
             f"ai-edge-litert {version} bindings (tests/model/test_tflite_schema.py checks them against the installed",
             'ones)."""', "", "# BuiltinOperator code -> name."]
    lines += table("BUILTIN_OPERATORS", enum(schema.BuiltinOperator))
    lines += [f"CUSTOM = {schema.BuiltinOperator.CUSTOM}", "", "# TensorType code -> name."]
    lines += table("TENSOR_TYPES", enum(schema.TensorType))
    lines += [""] + table("MIRROR_PAD_MODES", enum(schema.MirrorPadMode))
    lines += [f"REFLECT = {schema.MirrorPadMode.REFLECT}", "",
              "# BuiltinOptions union type codes of the options the reader reads.", "OPTIONS = {"]
    lines += [f'    "{name}": {getattr(schema.BuiltinOptions, name)},' for name in OPTIONS] + ["}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
