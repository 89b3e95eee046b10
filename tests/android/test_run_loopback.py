"""`mai-bench run --device sm8450` against loopback devices, through the real adb server: the whole Android path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mai_bench.emulate.adbd.spec import Faults, load_spec
from support import cmdline

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
LOGS = ROOT / "tests" / "fixtures" / "logs"
FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0"]


def mai_bench(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(server.home)}
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args, "--adb-server", server.address],
                          capture_output=True, text=True, timeout=timeout, env=env)


def run_json(server, *args: str, expect: int = 0):
    proc = mai_bench(server, "run", *args, "--json", *FAST)
    assert proc.returncode == expect, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_xnnpack_run_is_ok_full_hd_and_cached_the_second_time(adb_server, loopback) -> None:
    device = loopback.one()
    first = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                     "--delegate", "xnnpack")
    assert first["status"] == "ok"
    assert first["model"]["input_shape"] == [1, 544, 960, 4]
    assert first["model"]["output_shape"] == [1, 1088, 1920, 3]
    assert first["latency_ms"]["count"] >= 3 and first["latency_ms"]["median"] > 0
    assert first["device"]["serial"] == device.serial and first["device"]["emulated"] is True
    assert first["device"]["profile"] == "loopback-sm8450"
    assert first["device"]["properties"]["ro.soc.model"] == "SM8450"
    assert first["binary"]["path"] == "/system/bin/benchmark_model" and len(first["binary"]["sha256"]) == 64
    assert first["argv"][0] == "/system/bin/benchmark_model"
    record = json.loads(device.argv_log.read_text().splitlines()[-1])
    assert record["ld_library_path"] is None, "LD_LIBRARY_PATH is set only for the Hexagon libraries"
    assert first["transfer"]["model"]["cached"] is False
    assert first["transfer"]["model"]["pushed_bytes"] == (MODELS / "tiny_isp_fullhd.tflite").stat().st_size
    assert first["thermal"]["before"]["battery_c"] is not None and first["thermal"]["after"] is not None
    second = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", device.serial,
                      "--delegate", "xnnpack")
    assert all(t["cached"] and t["pushed_bytes"] == 0 for t in second["transfer"].values())
    runs = device.root / "data" / "local" / "tmp" / "mai-bench" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "run folders are removed afterwards"


def test_gpu_on_the_loopback_device_is_never_reported_as_gpu_numbers(adb_server, loopback) -> None:
    # A phone whose benchmark_model has no GPU delegate (spec gpu: false); with one, the device runs LiteRT's real
    # GPU accelerator (tests/gpu/test_gpu_loopback.py).
    loopback.one(spec=replace(load_spec("loopback-sm8450"), gpu=False))
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                     "--delegate", "gpu,xnnpack", "--json", *FAST)
    assert proc.returncode == 1, proc.stderr
    gpu, xnnpack = json.loads(proc.stdout)
    assert gpu["delegate"] == "gpu" and gpu["status"] in ("delegate-failed", "delegate-fallback")
    assert gpu["delegation"]["fallback"] is True and gpu["delegation"]["reasons"]
    assert xnnpack["delegate"] == "xnnpack" and xnnpack["status"] == "ok"
    allowed = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                        "--delegate", "gpu", "--allow-fallback", *FAST)
    assert allowed.returncode == 1, "delegate-failed is a failure even with --allow-fallback"


# Real phone logs, printed by the loopback device's benchmark_model: classification of real GPU, NNAPI and
# Hexagon output through the same on-device path as a live run.
GOLDEN = [
    ("017_pocox3-gpu-full-opprofile.txt", "gpu", 0, "ok", 0),
    ("019_umi-sd865-hexagon-125of125-then-failed.txt", "hexagon", 1, "delegate-failed", 1),
    ("005_mi11-sd888-nnapi-qtidefault-failed.txt", "nnapi", 1, "delegate-failed", 1),
    ("025_benchmarkapp-logcat-nnapi-partial-44kernels-truncated.txt", "nnapi", 0, "delegate-fallback", 1),
    ("009_synaptics-synapnpu-nnapi-full-tf215.txt", "nnapi", 0, "ok", 0),
    ("021_pixel4-sd855-cpu-segfault-during-warmup.txt", "cpu", 139, "crashed", 1),
]


@pytest.mark.parametrize("log, delegate, binary_exit, status, exit_code", GOLDEN, ids=[g[0][:3] for g in GOLDEN])
def test_recorded_phone_logs_through_the_device_path(adb_server, loopback, log, delegate, binary_exit, status,
                                                     exit_code) -> None:
    loopback.one(faults=Faults(benchmark_log_file=str(LOGS / log), benchmark_exit_code=binary_exit))
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                     "--delegate", delegate, "--json", *FAST)
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == status
    assert result["raw_log"].strip() == (LOGS / log).read_text(errors="replace").strip()


def test_hostile_model_name_reaches_the_device_as_one_argument(adb_server, loopback, tmp_path: Path) -> None:
    device = loopback.one()
    name = "isp 'q\" ;$(touch pwned)`id`&& é\n.tflite"
    hostile = tmp_path / name
    hostile.write_bytes((MODELS / "tiny_isp_fullhd.tflite").read_bytes())
    result = run_json(adb_server, str(hostile), "--device", "sm8450", "--delegate", "xnnpack")
    assert result["status"] == "ok"
    calls = [json.loads(line) for line in device.argv_log.read_text().splitlines()]
    graphs = [a for call in calls for a in call["argv"] if a.startswith("--graph=")]
    assert graphs and graphs[-1].endswith("/" + name)
    assert not list(device.root.rglob("pwned")) and not (Path.cwd() / "pwned").exists()


def test_a_run_past_its_limit_is_killed_on_the_device(adb_server, loopback) -> None:
    device = loopback.one(faults=Faults(benchmark_sleep_s=60))
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                     "--delegate", "xnnpack", "--json", "--run-timeout", "3", "--runs", "1", "--min-secs", "0",
                     "--cooldown-timeout", "0", timeout=400)
    result = json.loads(proc.stdout)
    assert result["status"] == "timeout", result["raw_log"]
    assert proc.returncode == 3
    # Killed at its limit, not after the stand-in's 60 s: it never got to print its timings.
    assert "Inference timings in us" not in result["raw_log"], result["raw_log"]
    left = [p for p in _all_pids() if str(device.root) in cmdline(p) and "benchmark" in cmdline(p)]
    assert not left, f"benchmark processes left on the device: {left}"


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def test_hot_device_is_flagged(adb_server, loopback) -> None:
    device = loopback.one()
    zone = next((device.root / "sys" / "class" / "thermal").glob("thermal_zone*/temp"))
    zone.write_text("71000\n")
    result = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                      "--delegate", "xnnpack")
    assert result["thermal"]["hot_before"] and "71.0" in result["thermal"]["hot_before"][0]
    assert any("still hot" in w for w in result["warnings"])


def test_fidelity_input_is_fed_to_the_device_and_its_output_scored(adb_server, loopback, tmp_path: Path) -> None:
    from mai_bench.fidelity.synth import synth_dataset

    synth_dataset(tmp_path / "data", count=1, size=(1088, 1920))
    (raw,) = (tmp_path / "data").rglob("mediatek_raw/*.png")
    device = loopback.one()
    result = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450", "--delegate",
                      "xnnpack", "--fidelity-input", str(raw))
    fidelity = result["extra"]["fidelity"]
    assert "error" not in fidelity, fidelity
    assert fidelity["output_shape"] == [1, 1088, 1920, 3]
    assert fidelity["ssim_vs_host"] > 0.99 and fidelity["max_abs_diff"] < 1e-3  # FP32 XNNPACK on both sides
    assert any(a.startswith("--input_layer_value_files=") for a in result["argv"])
    assert "fidelity-input" in result["transfer"]
    leftovers = list((device.root / "data" / "local" / "tmp" / "mai-bench").rglob("*.out"))
    assert not leftovers, "the pulled output tensor is removed from the device"


def test_with_baselines_gives_ratios_with_intervals_and_a_projection(adb_server, loopback) -> None:
    loopback.one()
    proc = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                     "--delegate", "xnnpack", "--with-baselines", "--rounds", "2", "--json", "--runs", "2",
                     "--warmup", "0", "--min-secs", "0", "--threads", "2", "--cooldown-timeout", "0", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    names = [r["model"]["name"] for r in results]
    assert names == ["tiny_isp_fullhd", "microisp_1_0", "microisp_0_5", "pynet_v2_mobile"] * 2, "interleaved"
    rows = {row["baseline"]: row for row in results[-4]["extra"]["baselines"]}
    assert set(rows) == {"microisp_1_0", "microisp_0_5", "pynet_v2_mobile"}
    micro = rows["microisp_1_0"]
    assert micro["ratio"] is not None and micro["ratio_low"] <= micro["ratio"] <= micro["ratio_high"]
    assert micro["ratio"] < 1, "a 2-op model is faster than MicroISP 1.0"
    projected = micro["projected_sm8450_gpu_ms"]
    assert projected["estimate"] == pytest.approx(micro["ratio"] * 23.1)
    assert "estimate" in micro["note"]
    table = mai_bench(adb_server, "run", str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450",
                      "--delegate", "xnnpack", "--with-baselines", "--rounds", "1", "--runs", "1",
                      "--warmup", "0", "--min-secs", "0", "--cooldown-timeout", "0", timeout=600)
    assert "Against the baselines" in table.stdout and "estimate" in table.stdout


def test_hexagon_libraries_are_pushed_and_passed(adb_server, loopback, tmp_path: Path) -> None:
    libs = tmp_path / "hexagon"
    libs.mkdir()
    for name in ("libhexagon_interface.so", "libhexagon_nn_skel.so"):
        (libs / name).write_bytes(name.encode() * 100)
    device = loopback.one()
    result = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450", "--delegate",
                      "hexagon", "--hexagon-libs", str(libs), expect=1)
    assert result["status"] == "delegate-failed"  # the loopback device has no Hexagon DSP, and says so
    (lib_flag,) = [a for a in result["argv"] if a.startswith("--hexagon_lib_path=")]
    assert {"hexagon:libhexagon_interface.so", "hexagon:libhexagon_nn_skel.so"} <= set(result["transfer"])
    remote_dir = lib_flag.split("=", 1)[1]
    for name in ("libhexagon_nn_skel.so", "libhexagon_interface.so"):
        pushed = device.root / remote_dir.lstrip("/") / name
        assert pushed.read_bytes() == (libs / name).read_bytes()
    assert any("Hexagon NN delegate does not serve" in w for w in result["warnings"])
    # The delegate dlopens libhexagon_interface.so by bare name: the binary runs with the staged folder on
    # LD_LIBRARY_PATH (as the benchmark_model stand-in saw its environment), and the result says so.
    (record,) = [json.loads(line) for line in device.argv_log.read_text().splitlines()]
    assert record["ld_library_path"] == remote_dir
    assert result["argv"][:2] == ["env", f"LD_LIBRARY_PATH={remote_dir}"]
    assert result["argv"][2] == "/system/bin/benchmark_model"
    # Without --allow-fallback the binary refuses the CPU fallback: nothing is timed on the CPU.
    assert "--require_full_delegation=true" in record["argv"]
    assert result["latency_ms"]["avg"] is None and result["latency_ms"]["count"] is None
    assert result["extra"]["delegate_stop"]["by"] == "benchmark_model --require_full_delegation"


def test_op_profile_of_a_real_phone_log_lands_in_the_result(adb_server, loopback) -> None:
    loopback.one(faults=Faults(benchmark_log_file=str(LOGS / "018_pocox3-cpu-2thr-fp32-opprofile.txt")))
    result = run_json(adb_server, str(MODELS / "tiny_isp_fullhd.tflite"), "--device", "sm8450", "--delegate", "cpu",
                      "--op-profiling")
    assert "--enable_op_profiling=true" in result["argv"]
    rows = result["extra"]["op_profile"]
    assert rows and all({"node_type", "count", "avg_ms", "percent"} <= set(row) for row in rows)
    assert any(row["node_type"] == "CONV_2D" for row in rows)


def test_fidelity_input_reaches_an_input_whose_name_has_a_colon(adb_server, loopback, tmp_path: Path) -> None:
    # TensorFlow's converter names inputs like `serving_default_input_1:0`; the real benchmark_model splits
    # --input_layer_value_files items at ':' and reads '::' as a ':' inside a name (today's sources).
    from mai_bench.fidelity.synth import synth_dataset
    from mai_bench.model.reader import read_model

    original = (MODELS / "tiny_isp_fullhd.tflite").read_bytes()
    name_field = b"\x03\x00\x00\x00raw\x00"  # the flatbuffer string of the input's name: length, bytes, NUL
    assert original.count(name_field) == 1
    model = tmp_path / "colon_input.tflite"
    model.write_bytes(original.replace(name_field, b"\x03\x00\x00\x00r:w\x00"))  # same length: still valid
    assert [i.name for i in read_model(model).inputs] == ["r:w"]
    synth_dataset(tmp_path / "data", count=1, size=(1088, 1920))
    (raw,) = (tmp_path / "data").rglob("mediatek_raw/*.png")
    device = loopback.one()
    result = run_json(adb_server, str(model), "--device", device.serial, "--delegate", "xnnpack",
                      "--fidelity-input", str(raw))
    assert result["status"] == "ok"
    item = next(a for a in result["argv"] if a.startswith("--input_layer_value_files="))
    assert item.startswith("--input_layer_value_files=r::w:/data/local/tmp/")
    fidelity = result["extra"]["fidelity"]
    assert "error" not in fidelity and fidelity["max_abs_diff"] < 1e-3  # the device read the file, not noise
