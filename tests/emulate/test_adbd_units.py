"""Pure parts of the loopback adbd: wire format, banner, path rules, service names, spec validation, and the
sandbox's getprop and stand-ins run directly (no adb server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mai_bench.emulate.adbd import protocol as p
from mai_bench.emulate.adbd import jail, sandbox, shell
from mai_bench.emulate.adbd.spec import EMULATED_PROP, Faults, LoopbackSpec, load_spec, spec_from_mapping
from mai_bench.errors import UsageError


@given(st.sampled_from([p.A_CNXN, p.A_OPEN, p.A_WRTE, p.A_OKAY, p.A_CLSE, p.A_AUTH]),
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_message_round_trips(command, arg0, arg1, payload):
    data = p.encode(command, arg0, arg1, payload, checksum=True)
    header = p.parse_header(data[:p.HEADER_SIZE])
    assert (header.command, header.arg0, header.arg1, header.length) == (command, arg0, arg1, len(payload))
    assert header.checksum == sum(payload) % 2**32
    assert data[p.HEADER_SIZE:] == payload


def test_header_with_bad_magic_is_refused():
    data = bytearray(p.encode(p.A_OKAY, 1, 2))
    data[20] ^= 1
    with pytest.raises(p.ProtocolError, match="bad magic"):
        p.parse_header(bytes(data))


def test_header_larger_than_max_payload_is_refused():
    header = p.HEADER.pack(p.A_WRTE, 1, 2, p.MAX_PAYLOAD + 1, 0, p.A_WRTE ^ 0xFFFFFFFF)
    with pytest.raises(p.ProtocolError, match="exceeds"):
        p.parse_header(header)


def test_banner_carries_product_fields_and_features():
    banner = p.device_banner({"ro.product.name": "n", "ro.product.model": "M", "ro.product.device": "d"},
                             ("shell_v2", "stat_v2"))
    assert banner == b"device::ro.product.name=n;ro.product.model=M;ro.product.device=d;features=shell_v2,stat_v2"


def test_host_banner_features_ignore_trailing_nul():
    assert p.banner_features(b"host::features=shell_v2,delayed_ack\0") == {"shell_v2", "delayed_ack"}
    assert p.banner_features(b"host::") == frozenset()


@pytest.mark.parametrize("command, expected", [
    ("cat /sys/class/thermal/thermal_zone0/temp", "cat R/sys/class/thermal/thermal_zone0/temp"),
    ("cd /data/local/tmp && ./x --graph=/data/local/tmp/m.tflite", "cd R/data/local/tmp && ./x --graph=R/data/local/tmp/m.tflite"),
    ("ls '/data/local/tmp/a b'", "ls 'R/data/local/tmp/a b'"),
    ('echo "$(cat /proc/cpuinfo)"', 'echo "$(cat R/proc/cpuinfo)"'),
    ("ls /sdcard", "ls R/sdcard"),
    ("/system/bin/getprop ro.x", "R/system/bin/getprop ro.x"),
    ("X=a:/data/b; echo `ls /data`", "X=a:R/data/b; echo `ls R/data`"),
    ("cat</proc/x>/data/y 2>/sdcard/e", "cat<R/proc/x>R/data/y 2>R/sdcard/e"),
    ("(cd /data) | { cat /sys/x; }", "(cd R/data) | { cat R/sys/x; }"),
    # Composed paths are the shell's business, not device paths.
    ('echo "$(pwd)/data" ${HOME}/sys', 'echo "$(pwd)/data" ${HOME}/sys'),
    # Not device paths: relative, nested in another path, other prefixes, longer names, host tools.
    ("ls data/local /tmp/data/x /database /dev/null ./sys /usr/bin/env", "ls data/local /tmp/data/x /database /dev/null ./sys /usr/bin/env"),
])
def test_rewrite_command_moves_device_paths_only(command, expected):
    assert sandbox.rewrite_command(Path("R"), command) == expected


def test_host_path_maps_into_root_and_refuses_escapes(tmp_path):
    root = sandbox.check_root(tmp_path)
    assert sandbox.host_path(root, "/data/local/tmp/x") == root / "data/local/tmp/x"
    assert sandbox.host_path(root, "/") == root
    for bad in ("/data/../../etc/passwd", "relative/path", "/.."):
        with pytest.raises(sandbox.SandboxError):
            sandbox.host_path(root, bad)
    (root / "data").mkdir()
    (root / "data/escape").symlink_to("/etc")
    with pytest.raises(sandbox.SandboxError, match="outside"):
        sandbox.host_path(root, "/data/escape/passwd")
    # The link itself may be listed or lstat-ed.
    assert sandbox.host_path(root, "/data/escape", follow=False) == root / "data/escape"


def test_root_that_needs_quoting_is_refused(tmp_path):
    with pytest.raises(UsageError, match="quoting"):
        sandbox.check_root(tmp_path / "a b")


@pytest.mark.parametrize("name, expected", [
    ("shell:ls -l", shell.ShellRequest("ls -l", v2=False)),
    ("shell,v2,TERM=xterm-256color,raw:echo a:b", shell.ShellRequest("echo a:b", v2=True, term="xterm-256color")),
    ("shell,v2,pty:", shell.ShellRequest("", v2=True, pty=True)),
    ("shell,v2,TERM=xterm,pty:tty", shell.ShellRequest("tty", v2=True, pty=True, term="xterm")),
    ("shell:", shell.ShellRequest("", v2=False, pty=True)),  # adbd's interactive shell has a terminal
    ("shell,v2,raw:", shell.ShellRequest("", v2=True, pty=False)),
    ("exec:cat /data/x", shell.ShellRequest("cat /data/x", v2=False)),
    ("sync:", None),
    ("shellfoo:x", None),
])
def test_shell_service_names(name, expected):
    assert shell.parse_service(name) == expected


def test_spec_always_marks_emulated_and_validates():
    spec = load_spec("loopback-sm8450")
    assert spec.props[EMULATED_PROP] == "1"
    assert spec.props["ro.soc.model"] == "SM8450" and spec.props["ro.board.platform"] == "taro"
    assert LoopbackSpec.from_json(spec.to_json()) == spec
    with pytest.raises(UsageError, match="newline"):
        spec.with_props(**{"ro.x": "a\nb"})
    with pytest.raises(UsageError, match="unknown key"):
        spec_from_mapping("x", {"props": {}, "thermals": {}})
    with pytest.raises(UsageError, match="cpu_max_freqs"):
        spec_from_mapping("x", {"props": {}, "cpu_max_freqs": [0]})
    with pytest.raises(UsageError, match="no loopback profile"):
        load_spec("sm9999")


def test_shipped_profile_agrees_with_the_builtin_one():
    from mai_bench.emulate.adbd.spec import BUILTIN_PROFILES
    from mai_bench.resources import data_dir

    shipped = load_spec(data_dir("device_profiles") / "loopback-sm8450.yaml")
    assert shipped == spec_from_mapping("loopback-sm8450", BUILTIN_PROFILES["loopback-sm8450"])
    assert load_spec("loopback-sm8450") == shipped


def test_real_phone_profile_is_not_an_emulator():
    with pytest.raises(UsageError, match="no emulator section"):
        load_spec("sm8450")


def test_profile_yaml_with_emulator_section(tmp_path):
    path = tmp_path / "loopback-x.yaml"
    path.write_text("name: x\nemulator:\n  props: {ro.soc.model: SM8550, ro.build.version.sdk: 34}\n"
                    "  thermal: {cpu-0-0-usr: 40000}\n  battery_temp: 290\n  cpu_max_freqs: [2000000]\n")
    spec = load_spec(path)
    assert spec.props["ro.build.version.sdk"] == "34" and dict(spec.thermal) == {"cpu-0-0-usr": 40000}


def test_faults_validate():
    with pytest.raises(UsageError, match="choose one"):
        Faults(crashing_benchmark=True, benchmark_sleep_s=1.0)
    with pytest.raises(UsageError, match=">= 0"):
        Faults(drop_after_bytes=-1)
    with pytest.raises(UsageError, match="does not exist"):
        Faults(benchmark_log_file="/nonexistent/log.txt")
    with pytest.raises(UsageError, match="unknown fault"):
        Faults.from_dict({"hang": True, "explode": True})
    assert Faults.from_dict(Faults(hang=True).to_dict()) == Faults(hang=True)


@pytest.fixture
def device_root(tmp_path) -> Path:
    # The lenient tree: its scripts run on the host here, without a device around them.
    return sandbox.build(tmp_path / "dev", load_spec("loopback-sm8450").with_props(**{"ro.serialno": "abc"}),
                         jail.Isolation(False, "unit test: scripts run on the host"))


def _sh(root: Path, command: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{root}/system/bin:/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", sandbox.rewrite_command(root, command)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60)


def test_sandbox_tree_and_getprop(device_root):
    assert _sh(device_root, "getprop ro.soc.model").stdout == "SM8450\n"
    assert _sh(device_root, "getprop no.such.prop").stdout == "\n"
    assert _sh(device_root, "getprop no.such.prop fallback").stdout == "fallback\n"
    listing = _sh(device_root, "getprop").stdout.splitlines()
    assert "[ro.serialno]: [abc]" in listing and "[mai_bench.emulated]: [1]" in listing
    keys = [line[1:line.index("]")] for line in listing]
    assert keys == sorted(keys)
    assert _sh(device_root, "cat /sys/class/thermal/thermal_zone3/type /sys/class/thermal/thermal_zone3/temp"
               ).stdout == "gpuss-0-usr\n34900\n"
    assert _sh(device_root, "cat /sys/class/power_supply/battery/temp").stdout == "305\n"
    assert _sh(device_root, "cat /sys/devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq").stdout == "2995200\n"
    assert _sh(device_root, "grep -c ^processor /proc/cpuinfo").stdout == "8\n"


def test_crashing_benchmark_stand_in(device_root):
    sandbox.write_faults(device_root, Faults(crashing_benchmark=True))
    result = _sh(device_root, "benchmark_model --graph=/data/local/tmp/m.tflite --num_runs=5")
    assert result.returncode == 139
    assert result.stdout.splitlines()[0] == "INFO: STARTING!"
    assert "INFO: Graph: [%s/data/local/tmp/m.tflite]" % device_root in result.stdout
    assert result.stderr == "Segmentation fault\n"


def test_sleeping_benchmark_prints_measured_log(device_root):
    sandbox.write_faults(device_root, Faults(benchmark_sleep_s=0.06))
    result = _sh(device_root, "benchmark_model --graph=/data/local/tmp/m.tflite --num_runs=4 --warmup_runs=2")
    assert result.returncode == 0, result.stderr
    stats = [line for line in result.stdout.splitlines() if line.startswith("INFO: count=")]
    assert [s.split()[1] for s in stats] == ["count=2", "count=4"]
    assert "p95=" in stats[1] and "Inference (avg):" in result.stdout


def test_recorded_log_benchmark_and_argv_log(device_root, tmp_path):
    log = tmp_path / "recorded.txt"
    log.write_text("INFO: STARTING!\nrecorded\n")
    sandbox.write_faults(device_root, Faults(benchmark_log_file=str(log), benchmark_exit_code=3))
    hostile = "a b'c\"d;$(rm -rf x)`id`\n\u00e9.tflite"
    import shlex

    result = _sh(device_root, "benchmark_model " + shlex.quote(f"--graph={hostile}") + " --num_runs=1")
    assert (result.returncode, result.stdout) == (3, "INFO: STARTING!\nrecorded\n")
    records = [json.loads(line) for line in (device_root / sandbox.ARGV_LOG).read_text().splitlines()]
    assert records[-1]["argv"] == [f"--graph={hostile}", "--num_runs=1"]


def test_df_reports_full_storage(device_root):
    assert _sh(device_root, "df /data").returncode == 0
    sandbox.write_faults(device_root, Faults(storage_full_after_bytes=0))
    out = _sh(device_root, "df /data").stdout.splitlines()
    assert out[1].split()[3] == "0"


def test_stand_in_module_runs_standalone(device_root):
    # The launcher relies on `python -m mai_bench.emulate.adbd.stand_ins STATE_DIR TOOL ...`.
    result = subprocess.run([sys.executable, "-m", "mai_bench.emulate.adbd.stand_ins",
                             str(device_root / sandbox.STATE_DIR), "nope"],
                            capture_output=True, text=True, timeout=60, env={**os.environ})
    assert result.returncode == 127 and "not a mai-bench stand-in" in result.stderr
