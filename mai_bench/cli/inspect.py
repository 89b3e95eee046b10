"""`mai-bench inspect MODEL`: inputs, outputs, ops, parameters, size, sha256 and MACs at Full HD."""

from __future__ import annotations

from pathlib import Path

import click

from mai_bench.cli.console import console, print_json


def _shape(t) -> str:
    return "[" + ",".join("None" if d == -1 else str(d) for d in t.shape_signature) + "]"


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")
def command(model: Path, as_json: bool) -> None:
    """Show MODEL's inputs, outputs, op histogram, parameter count, size, sha256 and MACs at Full HD."""
    from mai_bench.model.inspection import inspect_model

    result = inspect_model(model)
    if as_json:
        print_json(result.to_dict())
        return
    _render(result)


def _render(result) -> None:
    from rich.table import Table

    info, macs = result.model, result.macs
    out = console()

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("model", str(info.path))
    summary.add_row("size", f"{info.size_bytes:,} bytes ({info.size_mib:.3f} MiB)")
    summary.add_row("sha256", info.sha256)
    summary.add_row("schema", f"TFLite v{info.schema_version}, {info.subgraph_count} subgraph(s)")
    summary.add_row("parameters", f"{info.param_count:,}")
    summary.add_row("ops", f"{info.op_count:,}")
    if macs is not None:
        shape = "[" + ",".join(map(str, macs.input_shape)) + "]"
        summary.add_row("MACs", f"{macs.gmacs:.3f} GMACs at {shape} ({macs.total_macs:,}; shapes: {macs.shape_source})")
    else:
        summary.add_row("MACs", f"unavailable: {result.macs_unavailable}")
    out.print(summary)

    tensors = Table(title="Inputs and outputs", title_justify="left")
    for column in ("", "name", "shape", "dtype", "dynamic dims"):
        tensors.add_column(column)
    for kind, group in (("input", info.inputs), ("output", info.outputs)):
        for t in group:
            dims = ", ".join(map(str, t.dynamic_dims)) or "-"
            tensors.add_row(kind, t.name, _shape(t), t.dtype, dims)
    out.print(tensors)

    ops = Table(title="Ops", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    ops.add_column("GMACs", justify="right")
    by_op = macs.by_op if macs else {}
    for name, count in info.op_histogram.items():
        ops.add_row(name, str(count), f"{by_op[name] / 1e9:.3f}" if name in by_op else "")
    out.print(ops)
