"""What `mai-bench inspect` shows: the model as read, plus its MACs at the Full-HD input when it runs there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mai_bench.challenge import FULL_HD_INPUT
from mai_bench.model.macs import MacsReport, count_macs
from mai_bench.model.reader import ModelInfo, read_model
from mai_bench.model.shapes import ResizeError


@dataclass(frozen=True)
class Inspection:
    """A model and its MACs; when MACs could not be computed, `macs` is None and `macs_unavailable` says why."""

    model: ModelInfo
    macs: MacsReport | None
    macs_unavailable: str | None = None

    def __post_init__(self) -> None:
        if (self.macs is None) == (self.macs_unavailable is None):
            raise ValueError("give either MACs or the reason they are unavailable")

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.model.to_dict(),
            "macs": self.macs.to_dict() if self.macs else None,
            "macs_unavailable": self.macs_unavailable,
        }


def inspect_model(path: str | Path, input_shape: tuple[int, ...] = FULL_HD_INPUT) -> Inspection:
    """Read the model at `path` and count its MACs at `input_shape`. Raises ModelError if it is not a model."""
    model = read_model(path)
    try:
        return Inspection(model, count_macs(model, input_shape))
    except ResizeError as error:
        custom = sorted({op.name for op in model.ops if op.is_custom})
        if custom:
            # LiteRT's own text for this case is a paragraph about linking the Flex delegate.
            return Inspection(model, None, f"LiteRT cannot run the custom ops {', '.join(custom)} on this host")
        return Inspection(model, None, error.message)
