"""The shipped examples stay valid: the farm plan loads and expands, and the GitHub Actions workflow parses and
carries a farm plan that loads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from mai_bench.device.discovery import DeviceInfo
from mai_bench.farm.plan import REFERENCE, expand, load_plan

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_farm_plan_loads_and_expands() -> None:
    plan = load_plan(ROOT / "examples" / "farm" / "plan.yaml")
    assert [str(s) for s in plan.servers] == ["127.0.0.1:5037", "farm-host-2.lab:5037"]
    assert plan.devices == ("sm8450", "sm8550", "gs201") and plan.delegates == ("gpu", "xnnpack")
    assert [m.role for m in plan.models].count(REFERENCE) == 1, "microisp-1.0 joins as the ratio's reference"
    phones = {"sm8450": (DeviceInfo("127.0.0.1:5037", "R5CT1", "device", profile="sm8450"),),
              "sm8550": (DeviceInfo("farm-host-2.lab:5037", "R3CW9", "device", profile="sm8550"),),
              "gs201": (DeviceInfo("farm-host-2.lab:5037", "2A1B", "device", profile="gs201"),)}
    jobs = expand(plan, lambda spec: phones[spec])
    assert len(jobs) == 3 * 3 * 2


def test_the_github_actions_example_runs_check_emulate_run_and_a_valid_farm(tmp_path: Path) -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["check-and-benchmark"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert 'mai-bench check "$MODEL"' in commands and "mai-bench emulate" in commands
    assert re.search(r"mai-bench run .*--device sm8450 --delegate xnnpack", commands)
    farm_step = next(step["run"] for step in steps if "mai-bench farm" in step.get("run", ""))
    plan_text = farm_step.split("<<EOF\n", 1)[1].split("\nEOF", 1)[0]
    env = workflow["jobs"]["check-and-benchmark"]["env"]
    for name, value in env.items():
        plan_text = plan_text.replace(f"${name}", value)
    (tmp_path / "models").mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "models" / "tiny_isp_fullhd.tflite", tmp_path / env["MODEL"])
    (tmp_path / "farm.yaml").write_text(plan_text)
    plan = load_plan(tmp_path / "farm.yaml")
    assert plan.devices == ("sm8450",) and plan.thresholds.max_ratio_vs[0].reference == "microisp-1.0"
