"""The wheel ships everything mai-bench needs at run time: nothing is read from the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True)
    (path,) = out.glob("mai_bench-*.whl")
    return path


def test_wheel_contains_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("mai_bench/reference_models/microisp_1_0.tflite",
                     "mai_bench/reference_models/microisp_0_5.tflite",
                     "mai_bench/reference_models/pynet_v2_mobile.tflite",
                     "mai_bench/reference_models/MANIFEST.json",
                     "mai_bench/device_profiles/sm8450.yaml",
                     "mai_bench/device_profiles/loopback-sm8450.yaml",
                     "mai_bench/device_profiles/families/generic.yaml",
                     "mai_bench/android_runner/run_benchmark.sh",
                     "mai_bench/android_runner/delegate_guard.sh",
                     "mai_bench/android_runner/binaries.yaml",
                     "mai_bench/baselines/mai2022_table1.tsv",
                     "mai_bench/baselines/mai2022_table2_mos.tsv",
                     "mai_bench/emulate/host_runner.py",
                     "mai_bench/cli/main.py"):
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mai-bench = mai_bench.cli.main:main" in text
    assert "mai-bench-runner = mai_bench.emulate.host_runner:main" in text


def test_installed_wheel_runs_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = (
        "import json, mai_bench, mai_bench.resources as r;"
        "print(json.dumps({'pkg': mai_bench.__file__, 'profiles': str(r.data_dir('device_profiles')),"
        " 'models': str(r.reference_models_dir())}))"
    )
    where = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, cwd=work, check=True,
                                      capture_output=True, text=True).stdout)
    for key in ("pkg", "profiles", "models"):
        assert where[key].startswith(str(target)), f"{key} resolved to {where[key]}, not the installed wheel"
    model = target / "mai_bench" / "reference_models" / "microisp_0_5.tflite"
    inspect = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "inspect", str(model), "--json"], env=env,
                             cwd=work, capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["inputs"][0]["shape"] == [1, 544, 960, 4]
    runner = subprocess.run([sys.executable, "-m", "mai_bench.emulate.host_runner", f"--graph={model}",
                             "--num_runs=1", "--warmup_runs=0", "--min_secs=0", "--warmup_min_secs=0"],
                            env=env, cwd=work, capture_output=True, text=True)
    assert runner.returncode == 0, runner.stdout + runner.stderr
    assert "Inference timings in us" in runner.stdout
    baselines = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "baselines", "--json"], env=env, cwd=work,
                               capture_output=True, text=True)
    assert baselines.returncode == 0, baselines.stderr
    assert "MicroISP 1.0" in baselines.stdout
