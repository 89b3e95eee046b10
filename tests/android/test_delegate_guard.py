"""android_runner/delegate_guard.sh under Android's shell (mksh), fed the delegate lines of real phone logs: it
stops a benchmark whose requested delegate could not be created, took nothing or only part of the graph, and
leaves alone one whose delegate took the whole graph or that ends by itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from mai_bench.resources import data_dir

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
GUARD = data_dir("android_runner") / "delegate_guard.sh"
MARK = "mai-bench delegate guard: stopped benchmark_model at log line "
LIMIT_S = 120  # only reached when the guard fails to stop a benchmark it should stop


@pytest.fixture(scope="module")
def mksh() -> str:
    found = shutil.which("mksh")
    if found is None:
        pytest.fail("mksh (Android's shell) is not installed: apt-get install mksh")
    return found


def _head(log_name: str) -> str:
    """The log up to its first "Running benchmark" line: what a binary prints before it times anything."""
    head = []
    for line in (LOGS / log_name).read_text(encoding="utf-8").splitlines():
        head.append(line)
        if "Running benchmark" in line:
            break
    return "\n".join(head) + "\n"


def _run_guarded(mksh: str, tmp_path: Path, printed: str, then: str) -> tuple[int, str]:
    """Run a fake benchmark_model under the guard as the run wrapper does (output to ./log in the run folder);
    the fake prints `printed`, then runs the shell code `then`."""
    (tmp_path / "printed.txt").write_text(printed)
    fake = tmp_path / "benchmark_model"
    fake.write_text(f"#!{mksh}\ncat printed.txt\n{then}\n")
    fake.chmod(0o755)
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen([mksh, str(GUARD), "log", str(fake), "--use_gpu=true"], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("the guard did not stop the benchmark")
    return code, (tmp_path / "log").read_text()


@pytest.mark.parametrize("log_name, deciding", [
    ("035_rpi4-gpu-unsupported-unconsumed-allow-fp16-xnnpack-partial.txt",
     "GPU acceleration is unsupported on this platform."),
    ("025_benchmarkapp-logcat-nnapi-partial-44kernels-truncated.txt",
     "Explicitly applied NNAPI delegate, and the model graph will be partially executed by the delegate w/ 44 "
     "delegate kernels."),
], ids=["gpu-not-created", "nnapi-partial"])
def test_a_benchmark_going_on_after_its_delegate_failed_is_stopped(mksh, tmp_path: Path, log_name, deciding) -> None:
    code, log = _run_guarded(mksh, tmp_path, _head(log_name), "exec sleep 600")
    assert code == -signal.SIGTERM, "the benchmark itself was stopped (the guard exec'd it: same process)"
    lines = log.splitlines()
    (mark,) = [line for line in lines if line.startswith(MARK)]
    number = int(mark[len(MARK):].split(":")[0])
    assert lines[number - 1].endswith(deciding)


@pytest.mark.parametrize("log_name", [
    "017_pocox3-gpu-full-opprofile.txt",  # "Applied GPU delegate, and the model graph will be completely executed"
    "038_qrb2210-rb1-linux-gpu-opencl-full-no-replacing-line.txt",  # "Explicitly applied GPU delegate, ... completely"
    "039_android-gpu-full-plus-nnapi-none-two-delegates.txt",  # the GPU took all; a second delegate took nothing
    "037_qrb2210-rb1-linux-xnnpack-default.txt",  # no delegate verdict at all before the runs: nothing to judge
], ids=["017", "038", "039", "037"])
def test_a_benchmark_whose_delegate_took_the_graph_is_left_alone(mksh, tmp_path: Path, log_name) -> None:
    code, log = _run_guarded(mksh, tmp_path, _head(log_name), "sleep 3; echo timed runs done")
    assert code == 0 and MARK not in log
    assert log.endswith("timed runs done\n")


@pytest.mark.parametrize("log_name", ["019_umi-sd865-hexagon-125of125-then-failed.txt",
                                      "005_mi11-sd888-nnapi-qtidefault-failed.txt"], ids=["019", "005"])
def test_a_benchmark_that_fails_by_itself_keeps_its_own_exit(mksh, tmp_path: Path, log_name) -> None:
    whole = (LOGS / log_name).read_text(encoding="utf-8")
    code, log = _run_guarded(mksh, tmp_path, whole, "sleep 2; exit 1")
    assert code == 1 and MARK not in log and log == whole
