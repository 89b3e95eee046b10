"""The GitHub Actions example (examples/ci/github-actions.yml) runs: its `run:` steps are executed in order, as a
runner would, against the loopback devices its own steps start, so the example cannot rot.

What only GitHub provides is replaced, each replacement named here:

- `actions/checkout` of the repository holding the workflow (the model's): a temporary workspace holding a model
  at the job's `MODEL` path (tests/fixtures/models/tiny_isp_fullhd.tflite, which passes `mai-bench check`);
- `actions/checkout` of mai-bench itself (`repository:` set): its `path:` in the workspace links to this checkout;
- `actions/setup-python`: the Python running these tests, first on PATH;
- the install step (`pip install` of the mai-bench checkout): not run; mai-bench is already installed in this
  venv, and PYTHONPATH puts this checkout first, so every `mai-bench` the steps start runs this checkout's code.
  The step is still checked: it must install from the checkout or a git URL, never `pip install mai-bench`
  (the package is not on the index);
- `actions/upload-artifact` and `mikepenz/action-junit-report`: not run; the files they would take must exist
  (and the JUnit file must be JUnit XML);
- `${{ env.NAME }}`, `${{ github.workspace }}`, `${{ runner.temp }}`: their values here; any other expression fails
  the test (give it a replacement here);
- the job's `ADB_SERVER` gets a free port on 127.0.0.1 instead of 5037: a GitHub runner is a fresh machine, this
  one may run an adb server on 5037 already;
- GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE, RUNNER_TEMP, CI and GITHUB_ACTIONS are set as a runner sets them; HOME
  is a temporary folder.

Each `run:` step is run as GitHub runs it on Linux: `bash --noprofile --norc -eo pipefail FILE` in the workspace.
A step without `if:` runs only while every earlier step succeeded; `if: always()` steps run regardless.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mai_bench.device.adb_server import free_port
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd import jail
from mai_bench.results.store import collect_results
from support import wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
CANDIDATE = ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite"
JOB = "check-and-benchmark"
STEP_TIMEOUT_S = 600.0
STOP_WAIT_S = 60.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.lower()
    except OSError:
        pass
    return ""


def expand(text: str, context: dict[str, str]) -> str:
    """`${{ ... }}` replaced by the values GitHub would give (see the module docstring); anything else fails."""
    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        if expression not in context:
            pytest.fail(f"{WORKFLOW.name} uses ${{{{ {expression} }}}}, which this test has no replacement for: "
                        "add one to tests/farm/test_ci_workflow_runs.py (and its docstring)")
        return context[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def check_install_step(script: str, workspace: Path, checkouts: dict[str, Path]) -> None:
    """The install step installs mai-bench from the workflow's checkout of it or a git URL, not from the package
    index (nor the model's repository, which is the workspace)."""
    words = shlex.split(script)
    assert "pip" in words and "install" in words, f"the install step is not a pip install: {script!r}"
    targets = [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    assert targets, f"the install step installs nothing: {script!r}"
    for target in targets:
        from_checkout = (workspace / target).resolve() in checkouts.values()
        from_git = "git+" in target
        assert from_checkout or from_git, (f"the install step installs {target!r}: mai-bench is not on the package "
                                           "index; install it from a checkout of it or a git URL")


def test_the_github_actions_example_runs_step_by_step(tmp_path: Path) -> None:
    isolation = jail.probe()
    if not isolation.faithful:  # never test against a device more lenient than a phone
        pytest.fail(f"this host cannot run a faithful loopback device: {isolation.reason}")
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"][JOB]
    workspace, home, runner_temp = tmp_path / "workspace", tmp_path / "home", tmp_path / "runner-temp"
    for folder in (workspace, home, runner_temp):
        folder.mkdir()
    summary = runner_temp / "step-summary.md"
    summary.touch()

    env_values = {**workflow.get("env", {}), **job.get("env", {})}
    env_values = {name: str(value) for name, value in env_values.items()}
    env_values["ADB_SERVER"] = f"127.0.0.1:{free_port()}"
    context = {f"env.{name}": value for name, value in env_values.items()}
    context.update({"github.workspace": str(workspace), "runner.temp": str(runner_temp)})

    python_bin = str(Path(sys.executable).parent)
    base_env = {key: value for key, value in os.environ.items()
                if not key.startswith(("GITHUB_", "RUNNER_", "ANDROID_ADB_SERVER_"))}
    base_env.update({
        "PATH": os.pathsep.join([python_bin, base_env.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), base_env.get("PYTHONPATH")])),
        "HOME": str(home), "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(runner_temp), **env_values,
    })

    checkouts: dict[str, Path] = {}
    ran: list[str] = []
    failed: list[str] = []
    try:
        for number, step in enumerate(job["steps"], 1):
            name = step.get("name") or step.get("uses") or f"step {number}"
            condition = str(step.get("if", "")).strip()
            assert condition in ("", "always()"), f"step {name!r}: no stand-in for `if: {condition}`"
            if failed and condition != "always()":
                continue
            if "uses" in step:
                _stand_in(step, workspace, env_values, context, checkouts)
                ran.append(name)
                continue
            script = expand(step["run"], context)
            if "pip install" in script:
                check_install_step(script, workspace, checkouts)
                ran.append(name + " (replaced: mai-bench from this checkout)")
                continue
            env = {**base_env, **{k: expand(str(v), context) for k, v in step.get("env", {}).items()}}
            file = runner_temp / f"step{number}.sh"
            file.write_text(script, encoding="utf-8")
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)], cwd=workspace,
                                  env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT_S)
            ran.append(name)
            if proc.returncode != 0:
                failed.append(f"step {name!r} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    finally:
        stopped_by_itself = _stop_emulator(workspace)
    assert not failed, "\n\n".join(failed)
    assert stopped_by_itself, "the workflow's stop step ended `mai-bench emulate` and its devices"
    with pytest.raises(ConnectionRefusedError):  # emulate stopped the adb server it had started
        host, port = env_values["ADB_SERVER"].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()
    assert any("pip install" in (s.get("run") or "") for s in job["steps"]), "the workflow installs mai-bench"

    # What the steps made: results of the run on both loopback devices, the farm's journal, summary and JUnit.
    runs = collect_results([workspace / "results" / "run"])
    assert len(runs) == 2 and {r.status for r in runs} == {"ok"}
    assert all(r.device.emulated and r.device.server == env_values["ADB_SERVER"] for r in runs)
    assert (workspace / "results" / "farm" / "results.jsonl").is_file()
    assert "mai-bench farm `ci`: passed (exit 0)" in summary.read_text(encoding="utf-8")
    log = (workspace / "emulate.log").read_text(encoding="utf-8", errors="replace")
    assert "LENIENT" not in log, log


def _stand_in(step: dict, workspace: Path, env_values: dict[str, str], context: dict[str, str],
              checkouts: dict[str, Path]) -> None:
    """What an action step leaves behind, or checks that its inputs exist (see the module docstring)."""
    action = step["uses"].split("@", 1)[0]
    given = {key: expand(str(value), context) for key, value in (step.get("with") or {}).items()}
    if action == "actions/checkout" and "repository" not in given:
        model = workspace / env_values["MODEL"]
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(CANDIDATE.read_bytes())
    elif action == "actions/checkout":
        assert given.get("path"), "a second checkout needs its own path, or it replaces the model's repository"
        link = workspace / given["path"]
        link.symlink_to(ROOT, target_is_directory=True)
        checkouts[given["repository"]] = link.resolve()
        assert (link / "pyproject.toml").is_file()
    elif action == "actions/setup-python":
        version = str(given.get("python-version", ""))
        assert re.fullmatch(r"3\.\d+", version) and int(version.split(".")[1]) >= 10, \
            f"setup-python {version!r}: mai-bench needs Python >= 3.10"
    elif action == "actions/upload-artifact":
        assert (workspace / given["path"]).exists(), f"upload-artifact: {given['path']} does not exist"
    elif action == "mikepenz/action-junit-report":
        report = workspace / given["report_paths"]
        root = ET.parse(report).getroot()
        assert root.tag in ("testsuites", "testsuite") and list(root.iter("testcase")), f"{report} is not JUnit XML"
    else:
        pytest.fail(f"{WORKFLOW.name} uses {step['uses']}, which this test has no stand-in for: add one to "
                    "tests/farm/test_ci_workflow_runs.py (and its docstring)")


def _stop_emulator(workspace: Path) -> bool:
    """Wait for `mai-bench emulate` (started by the workflow) and its devices to end, as the workflow's stop step
    makes them; True when they did. Whatever is still running after STOP_WAIT_S (a failed step skipped the stop)
    is killed, so nothing outlives the test."""
    pid_file = workspace / "emulate.pid"
    if not pid_file.is_file():
        return True
    pid = int(pid_file.read_text().strip())
    log = workspace / "emulate.log"
    devices = [int(p) for p in re.findall(r"\bpid=(\d+)", log.read_text(errors="replace"))] if log.exists() else []

    def ended() -> bool:
        return not _alive(pid) and not any(loopback_lib.session_processes(d) for d in devices)

    try:
        wait_for(ended, "mai-bench emulate and its devices to stop", timeout=STOP_WAIT_S)
        return True
    except AssertionError:
        return False
    finally:
        for leftover in [pid, *(p for d in devices for p in loopback_lib.session_processes(d))]:
            try:
                os.kill(leftover, signal.SIGKILL)
            except ProcessLookupError:
                pass
