"""Locate the data that ships with the package (profiles, runner scripts, reference models).

In a wheel, `device_profiles/` and `android_runner/` are copied into the package; in an editable checkout
they stay at the repository root, next to the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `name` shipped with mai-bench (inside the package, or beside it in a checkout)."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mai-bench data folder {name!r} is missing from the installation; reinstall mai-bench")


def reference_models_dir() -> Path:
    return _PACKAGE / "reference_models"
