"""The farm for real: two adb servers on 127.0.0.1, four loopback devices across them, the real adb server and
the on-device run path. A whole farm through the CLI; thresholds deciding the exit code; a device killed
mid-farm and `--resume` after it comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import xmlschema
import yaml

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate.adbd.spec import Faults
from mai_bench.farm.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
XSD = ROOT / "tests" / "fixtures" / "junit" / "jenkins-junit.xsd"
CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'mai-bench'; from mai_bench.cli.main import main; main()"]


def write_plan(path: Path, servers, **extra) -> Path:
    plan = {"servers": [s.address for s in servers],
            "models": [str(MODELS / "tiny_isp_fullhd.tflite"), str(MODELS / "tiny_isp.tflite")],
            "devices": ["sm8450"], "delegates": ["xnnpack", "cpu"], "runs": 2, "warmup": 1, "min_secs": 0,
            "input_shape": [1, 32, 32, 4], "thermal": {"cooldown_timeout_s": 0}, "lock_wait_s": 30}
    plan.update(extra)
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def farm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "farm", *args], capture_output=True, text=True, timeout=timeout)


def test_a_farm_of_four_devices_on_two_servers_runs_every_job(farm_servers, farm_devices, tmp_path: Path) -> None:
    first, second = farm_servers
    devices = farm_devices.start(first, 2) + farm_devices.start(second, 2)
    plan = write_plan(tmp_path / "nightly.yaml", farm_servers,
                      thresholds={"max_latency_ms": 10_000, "max_ratio_vs": {"tiny_isp": 1000},
                                  "require_full_delegation": True})
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    proc = farm(str(plan), "--out", str(out), "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    results = read_journal(out / "results.jsonl")
    assert len(results) == 16 and len({r.extra["job_id"] for r in results}) == 16
    assert all(r.status == "ok" and r.latency_ms.median is not None for r in results)
    assert {r.device.serial for r in results} == {d.serial for d in devices}
    assert {r.device.server for r in results} == {first.address, second.address}
    assert {(r.model.name, r.delegate) for r in results} == {
        (m, d) for m in ("tiny_isp_fullhd", "tiny_isp") for d in ("xnnpack", "cpu")}
    assert all(farm_devices.argv_calls(d) == 4 for d in devices), "each device ran its own four jobs"
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[") and "/16, " in line]
    assert len(progress) == 16, "one progress line per finished job, the count first"

    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(str(junit))
    suites = schema.to_dict(str(junit))["testsuite"]
    assert sorted(s["@name"] for s in suites) == sorted(f"{s.address}/{d.serial}" for s, d in farm_devices.devices)
    assert all(len(s["testcase"]) == 4 and s["@failures"] == 0 and s["@errors"] == 0 for s in suites)
    summary = (out / "summary.md").read_text()
    assert "16 passed, 0 failed, 0 infrastructure error(s)" in summary and "vs tiny_isp" in summary

    # The same results judged by a stricter plan: nothing runs again, the thresholds decide the exit code.
    strict = write_plan(tmp_path / "strict.yaml", farm_servers, thresholds={"max_latency_ms": 0.000001})
    judged = farm(str(strict), "--out", str(out), "--resume", "--junit", str(junit), "--json")
    assert judged.returncode == 1, judged.stderr[-3000:]
    verdicts = json.loads(judged.stdout)
    assert verdicts["ran"] == 0 and verdicts["skipped"] == 16
    assert {job["outcome"] for job in verdicts["jobs"]} == {"failed"}
    assert all(farm_devices.argv_calls(d) == 4 for d in devices)
    assert schema.to_dict(str(junit))["@failures"] == 16

    again = farm(str(plan), "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr, "an earlier farm's results are never mixed in"


def test_a_device_killed_mid_farm_fails_as_infrastructure_and_resume_runs_only_its_jobs(
        farm_servers, farm_devices, tmp_path: Path, monkeypatch) -> None:
    from mai_bench.android import remote_run
    from mai_bench.farm.session import run_plan_file

    monkeypatch.setattr(remote_run, "RECONNECT_GRACE_S", 2.0)  # a killed loopback device does not come back
    first, second = farm_servers
    quick = Faults(benchmark_sleep_s=1.0)
    # The victim's benchmark lasts long enough for the kill to land inside it even on a loaded machine.
    devices = (farm_devices.start(first, 2, quick) + farm_devices.start(second, 1, quick)
               + farm_devices.start(second, 1, Faults(benchmark_sleep_s=4.0)))
    victim = devices[3]
    plan = write_plan(tmp_path / "plan.yaml", farm_servers)
    out = tmp_path / "out"

    def kill_during_second_job() -> None:
        deadline = time.monotonic() + 120
        while farm_devices.argv_calls(victim) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        farm_devices.kill(victim)

    killer = threading.Thread(target=kill_during_second_job)
    killer.start()
    outcome = run_plan_file(plan, out_dir=out)
    killer.join()
    assert outcome.exit_code == 3

    results = read_journal(out / "results.jsonl")
    assert len(results) == 16
    mine = [r for r in results if r.device.serial == victim.serial]
    others = [r for r in results if r.device.serial != victim.serial]
    assert [r.status for r in mine] == ["ok", "infra-error", "infra-error", "infra-error"]
    assert victim.serial in mine[1].raw_log and ("offline" in mine[1].raw_log or "dropped" in mine[1].raw_log)
    assert all(r.warnings[0].startswith(f"not run: device {second.address}/{victim.serial} was lost during")
               for r in mine[2:])
    assert len(others) == 12 and all(r.status == "ok" for r in others)
    errors = [v for v in outcome.verdicts if v.outcome == "error"]
    assert len(errors) == 3 and all(v.result.device.serial == victim.serial for v in errors)

    calls_before = {d.serial: farm_devices.argv_calls(d) for d in devices}
    back = farm_devices.restart(victim, quick)
    resumed = run_plan_file(plan, out_dir=out, resume=True)
    assert resumed.exit_code == 0 and resumed.run.ran == 3 and resumed.run.skipped == 13
    assert farm_devices.argv_calls(back) == calls_before[victim.serial] + 3
    assert all(farm_devices.argv_calls(d) == calls_before[d.serial] for d in devices if d is not victim)
    assert len(resumed.verdicts) == 16 and {v.outcome for v in resumed.verdicts} == {"passed"}


def test_devices_and_servers_that_cannot_be_reached_are_infrastructure_errors_for_their_jobs(
        farm_servers, farm_devices, tmp_path: Path) -> None:
    first, _ = farm_servers
    device = farm_devices.start(first, 1, Faults(benchmark_sleep_s=0.1))[0]
    down = f"127.0.0.1:{adb_server_lib.free_port()}"
    plan = write_plan(tmp_path / "plan.yaml", [first], devices=["sm8450", "sm8550"],
                      models=[str(MODELS / "tiny_isp.tflite")], delegates=["cpu"])
    proc = farm(str(plan), "--out", str(tmp_path / "out"), "--adb-server", first.address, "--adb-server", down,
                "--json")
    assert proc.returncode == 3, proc.stderr[-3000:]
    jobs = {job["device"]: job for job in json.loads(proc.stdout)["jobs"]}
    assert set(jobs) == {down, "sm8550", f"{first.address}/{device.serial}"}
    assert jobs["sm8550"]["outcome"] == "error" and "no ready device of profile sm8550" in \
        jobs["sm8550"]["checks"][0]["detail"]
    assert jobs[down]["outcome"] == "error" and "does not answer" in jobs[down]["checks"][0]["detail"]
    assert jobs[f"{first.address}/{device.serial}"]["outcome"] == "passed", "the reachable phone still ran"


def test_a_profile_typo_in_the_plan_exits_2_before_any_job_runs(farm_servers, farm_devices, tmp_path: Path) -> None:
    first, _ = farm_servers
    device = farm_devices.start(first, 1, Faults(benchmark_sleep_s=0.1))[0]
    plan = write_plan(tmp_path / "plan.yaml", [first], devices=["sm8450", "sm845"],
                      models=[str(MODELS / "tiny_isp.tflite")], delegates=["cpu"],
                      thresholds={"min_psnr": 30})
    out = tmp_path / "out"
    proc = farm(str(plan), "--out", str(out))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "'sm845'" in proc.stderr and "did you mean sm8450?" in proc.stderr
    assert farm_devices.argv_calls(device) == 0, "no job ran, not even on the device the plan named rightly"
    assert not (out / "results.jsonl").exists()


def test_two_runs_aimed_at_one_device_never_overlap(adb_server, loopback, tmp_path: Path) -> None:
    sleep_s = 2.0
    device = loopback.one(faults=Faults(benchmark_sleep_s=sleep_s))
    env = {**os.environ, "HOME": str(adb_server.home)}
    argv = [*CLI, "run", str(MODELS / "tiny_isp.tflite"), "--device", device.serial, "--adb-server",
            adb_server.address, "--delegate", "cpu", "--runs", "1", "--warmup", "1", "--min-secs", "0",
            "--cooldown-timeout", "0", "--input-shape", "1,16,16,4", "--json"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err[-3000:]
        assert json.loads(out)["status"] == "ok"
    starts = sorted(json.loads(line)["time"] for line in device.argv_log.read_text().splitlines())
    assert len(starts) == 2
    assert starts[1] - starts[0] >= sleep_s * 0.95, "the second benchmark started while the first was running"
    lock_dir = device.root / "data" / "local" / "tmp" / "mai-bench" / "lock"
    assert not lock_dir.exists(), "both runs released the device"
