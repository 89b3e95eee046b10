"""Fixtures for fidelity tests: a small synthetic RAW/RGB set, the test models, and the CLI run in-process or as a
subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mai_bench.cli import main as cli_main
from mai_bench.cli.console import run_cli
from mai_bench.fidelity.synth import synth_dataset

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "fixtures" / "models"
SUBPROCESS_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five pairs of 64x96 targets (packed RAW 32x48), one per bundled photo."""
    root = tmp_path_factory.mktemp("synth")
    synth_dataset(root, count=5, size=(64, 96))
    return root


@pytest.fixture(scope="session")
def models() -> Path:
    """The folder of small test models (tests/fixtures/models)."""
    return MODELS


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `mai-bench ARGS` in-process as the console script does: -> (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mai-bench", *map(str, args)])
        with pytest.raises(SystemExit) as exited:
            run_cli(cli_main.cli)
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


@pytest.fixture
def cli_process():
    """Run `mai-bench ARGS` in a fresh interpreter: -> CompletedProcess with text output."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *map(str, args)], capture_output=True, text=True,
                              timeout=SUBPROCESS_TIMEOUT_S, cwd=REPO)

    return run
