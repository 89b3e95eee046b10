"""`mai-bench run MODEL --device sm8450 --delegate gpu`: one benchmark on an Android device, end to end.

model -> plan (shape) -> binary -> staging (content-hash cache) -> thermal gate -> detached run -> parsed run
-> classified result, with the device properties, binary and model sha256, exact argv, temperatures and
transfers recorded.
"""

from __future__ import annotations

import posixpath
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from mai_bench.android.remote_run import run_detached
from mai_bench.android.staging import REMOTE_ROOT, StagedFile, comparison_note, content_path, stage
from mai_bench.android.thermal import ThermalLimits, thermal_record, unread, wait_until_cool
from mai_bench.binaries.value_files import CURRENT
from mai_bench.device.device import Device
from mai_bench.device.discovery import DeviceInfo
from mai_bench.device.errors import DeviceError
from mai_bench.device.lock import LOCK_WAIT_S, LockInfo, held, quiet
from mai_bench.device.profiles import Profile, get_profile, sensor_rules
from mai_bench.device.telemetry import read_telemetry
from mai_bench.errors import InfraError, UsageError
from mai_bench.measure import model_ref, shaped_plan
from mai_bench.model.reader import read_model
from mai_bench.parse import parse_log
from mai_bench.plan import RunPlan
from mai_bench.resources import data_dir
from mai_bench.results.build import build_result, infra_result
from mai_bench.results.schema import BinaryRef, DeviceRef, Result
from mai_bench.hashing import sha256_file, sha256_of_files
from mai_bench.session import run_timeout

DEVICE_HASH_TIMEOUT_S = 60.0
PULL_TIMEOUT_S = 120.0
# run_benchmark.sh runs the command in its run folder with the command's output in ./log: the file the delegate
# guard watches.
RUN_LOG = "log"
LEFTOVER_SCAN_TIMEOUT_S = 10.0

# Benchmarks still running on the device: each run folder (remote_run.new_run_dir) whose benchmark has a pid
# file, no exit status yet, and a live process. $1 the runs folder. Prints "RUN_DIR PID" per such run.
_RUNNING_BENCHMARKS = r"""for f in "$1"/*/child.pid; do
  [ -f "$f" ] || continue
  d=${f%/child.pid}
  [ -e "$d/rc" ] && continue
  p=$(cat "$f" 2>/dev/null)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$d $p"; fi
done
exit 0
"""


@dataclass(frozen=True)
class DeviceRunOptions:
    """How to run on a device, beyond what to measure (the plan)."""

    benchmark_binary: Path | None = None  # a custom build; default: the profile's preinstalled one, or the nightly
    binary_name: str | None = None  # a manifest entry other than the default
    hexagon_libs: Path | None = None  # folder with libhexagon_interface.so and the skel libraries
    thermal: ThermalLimits = ThermalLimits()
    fidelity_input: Path | None = None  # a RAW PNG: feed it, pull the output, score it against the host's FP32
    lock_wait_s: float = LOCK_WAIT_S  # how long to wait for a device another mai-bench is using
    lock_owner: str = "mai-bench run"  # shown to whoever finds the device locked
    # How long the device may stay unreachable or silent during the run; None: remote_run.RECONNECT_GRACE_S.
    reconnect_grace_s: float | None = None
    # How the custom benchmark_binary escapes ':' in --input_layer_value_files ("::" or "\\:"); None: not known.
    value_files_escape: str | None = None


Status = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def device_ref(target: DeviceInfo) -> DeviceRef:
    props = dict(target.props)
    return DeviceRef(serial=target.serial, backend="adb", soc=target.soc, profile=target.profile,
                     server=target.server, emulated=target.emulated, properties=props)


def _staged(role: str, local: Path, folder: str, name: str | None = None) -> StagedFile:
    sha = sha256_file(local)
    return StagedFile(role, local, content_path(folder, sha, name or local.name), sha, local.stat().st_size)


def _binary(device: Device, target: DeviceInfo, profile: Profile | None, options: DeviceRunOptions,
            status: Status) -> tuple[StagedFile | None, str, BinaryRef]:
    """What benchmark_model to run: a custom build, the profile's preinstalled one, or the official nightly."""
    if options.benchmark_binary is None and profile is not None and profile.preinstalled_binary:
        remote = profile.preinstalled_binary
        sha = device.sha256(remote, DEVICE_HASH_TIMEOUT_S)
        return None, remote, BinaryRef(name=posixpath.basename(remote), sha256=sha, path=remote,
                                       version=f"preinstalled on the {profile.name} profile's device")
    from mai_bench.binaries.resolve import resolve_binary

    abi = target.props.get("ro.product.cpu.abi", "")
    if options.benchmark_binary is None:
        status(f"resolving benchmark_model for {abi or 'unknown ABI'}")
    found = resolve_binary(abi, options.binary_name, options.benchmark_binary)
    staged = StagedFile("binary", found.path, content_path("bin", found.sha256, "benchmark_model"), found.sha256,
                        found.path.stat().st_size, executable=True)
    return staged, staged.remote, BinaryRef(name=found.name, sha256=found.sha256, path=str(found.path),
                                            version=f"{found.source}" + (f", {found.abi}" if found.abi else ""),
                                            origin=found.record.origin() if found.record is not None else None)


def _hexagon_files(folder: Path) -> tuple[list[StagedFile], str]:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        raise UsageError(f"--hexagon-libs {folder} holds no files",
                         "pass the folder with libhexagon_interface.so and the libhexagon_nn_skel*.so files")
    folder_sha, each = sha256_of_files((f.name, f) for f in files)
    remote_dir = content_path("hexagon", folder_sha, "")
    staged = [StagedFile("hexagon:" + f.name, f, posixpath.join(remote_dir, f.name), each[f.name],
                         f.stat().st_size) for f in files]
    return staged, remote_dir.rstrip("/")


def value_files_escape(options: DeviceRunOptions, profile: Profile | None) -> str | None:
    """How the binary this run will use escapes ':' in --input_layer_value_files, as far as mai-bench knows it: the
    nightly build and the loopback device's runner follow the current sources; a custom or a phone's preinstalled
    build only as the user states it."""
    if options.benchmark_binary is not None:
        return options.value_files_escape
    if profile is not None and profile.preinstalled_binary:
        return CURRENT if profile.emulated else options.value_files_escape
    return CURRENT


def preflight_warnings(plan: RunPlan, profile: Profile | None) -> list[str]:
    """What the profile says will not work, said before running."""
    if profile is None:
        return ["the device matches no SoC profile: delegate expectations and published baselines are unknown"]
    if plan.delegate not in profile.delegates:
        note = f"the {profile.display_name} profile does not expect the {plan.delegate} delegate to work"
        if plan.delegate == "hexagon":
            note += " (the Hexagon NN delegate does not serve this DSP generation)"
        return [note + "; expect delegate-failed"]
    return []


def measure_on_device(model_path: Path, plan: RunPlan, target: DeviceInfo,
                      options: DeviceRunOptions = DeviceRunOptions(), status: Status = _quiet) -> Result:
    """Benchmark `model_path` on `target`. The benchmark's own outcome (ok, delegate-failed, crashed...) is a
    Result; a device or adb failure after the model was read is a Result with status `infra-error`."""
    model = read_model(model_path)
    plan = shaped_plan(plan, model)
    ref = model_ref(model, plan)
    profile = get_profile(target.profile) if target.profile else None
    warnings = preflight_warnings(plan, profile)
    if target.lenient:
        warnings.append(f"a lenient loopback device, more forgiving than a phone ({target.lenient}): what works "
                        "here may fail on a phone")
    for note in warnings:
        status("warning: " + note)
    device = target.device()
    dref = device_ref(target)
    transfers: dict = {}
    thermal: dict = {}
    binary = BinaryRef(name="unknown", sha256=None)
    argv: tuple[str, ...] = ()
    workdir = tempfile.TemporaryDirectory(prefix="mai-bench-")
    try:
        fidelity = _FidelityRun.prepare(options.fidelity_input, model, plan, Path(workdir.name), status,
                                        value_files_escape(options, profile))
    except BaseException:
        workdir.cleanup()
        raise
    try:
        # One mai-bench at a time per device, across processes and hosts: staging and timing included.
        with held(device, options.lock_owner, options.lock_wait_s,
                  on_wait=lambda holder, _: status(f"{target.serial} is in use by {holder.describe()}; waiting"),
                  on_release_error=lambda error: warnings.append(
                      f"the device's lock could not be given back, so the next run cannot take it: {error.reason} "
                      f"(fix: {error.fix})")) as lock:
            if lock.broke is not None:
                warnings += broken_lock_warnings(device, lock.broke)
            staged_binary, binary_remote, binary = _binary(device, target, profile, options, status)
            wrapper = _staged("wrapper", data_dir("android_runner") / "run_benchmark.sh", "runner")
            model_file = StagedFile("model", Path(model_path),
                                    content_path("models", model.sha256, Path(model_path).name),
                                    model.sha256, model.size_bytes)
            files = [f for f in (staged_binary, wrapper, model_file) if f is not None]
            # Without --allow-fallback, a build that goes on on the CPU after its delegate failed is stopped early.
            guard = _staged("delegate-guard", data_dir("android_runner") / "delegate_guard.sh", "runner") \
                if plan.stops_on_fallback else None
            if guard is not None:
                files.append(guard)
            if fidelity is not None:
                from mai_bench.fidelity.on_device import with_fidelity

                files.append(fidelity.staged)
                plan = with_fidelity(plan, model.inputs[0].name, fidelity.staged.remote, fidelity.output_remote,
                                     fidelity.escape)
            launch: tuple[str, ...] = ()
            if plan.delegate == "hexagon" and options.hexagon_libs is not None:
                libs, lib_dir = _hexagon_files(options.hexagon_libs)
                files += libs
                plan = replace(plan, hexagon_lib_path=lib_dir)
                # The delegate dlopens libhexagon_interface.so by bare name (hexagon_implementation.cc), so only
                # the linker's search path finds it; --hexagon_lib_path covers the DSP's skel libraries only.
                launch = ("env", f"LD_LIBRARY_PATH={lib_dir}")
            status(f"staging {len(files)} file(s) on {target.serial}")
            staged_files = stage(device, files)
            transfers = {t.role: t.to_dict() for t in staged_files}
            if (note := comparison_note(staged_files)) is not None:
                warnings.append(note)
            status(f"waiting for {target.serial} to cool down")
            sensors = sensor_rules(profile)  # which of this SoC family's sensors are CPU/GPU temperatures
            before, waited, hot = wait_until_cool(
                device, options.thermal, lambda s, h: status(f"cooling down ({s:.0f} s): " + ", ".join(h)),
                rules=sensors)
            if hot:
                warnings.append(f"still hot after waiting {waited:.0f} s: {', '.join(hot)}; "
                                "results may be throttled")
            for note in unread(before):  # a gate that could not read a sensor says so, never passes silently
                status("warning: " + note)
                warnings.append(note)
            argv = (*launch, binary_remote, *plan.benchmark_flags(model_file.remote))
            command = argv if guard is None else ("sh", guard.remote, RUN_LOG, *argv)
            limit = run_timeout(plan)
            status(f"running {model_path.name} on {target.serial} ({plan.delegate})")
            with quiet(lock):  # no lock refresh reaches the device while the benchmark is timed
                raw = run_detached(device, wrapper.remote, command, limit,
                                   on_poll=lambda s: status(f"running {model_path.name} on {target.serial} "
                                                            f"({plan.delegate}) {s:.0f} s"),
                                   grace_s=options.reconnect_grace_s)
            raw = replace(raw, argv=argv)  # the benchmark's command; the guard is mai-bench's, like the wrapper
            after = _telemetry_or_none(device, sensors)
            thermal = thermal_record(before, after, waited, options.thermal)
            extra = {} if fidelity is None else {"fidelity": fidelity.collect(device, raw.exit_code)}
            if thermal["hot_after"]:
                warnings.append("the device got hotter than its limit during the run: "
                                + ", ".join(thermal["hot_after"])
                                + "; raise --cooldown-timeout, lower --runs, or let it rest between runs")
    except (DeviceError, InfraError) as error:
        return infra_result(plan=plan, error=error, model=ref, device=dref, binary=binary, argv=argv,
                            transfer=transfers, thermal=thermal)
    finally:
        workdir.cleanup()
    return build_result(plan=plan, raw=raw, parsed=parse_log(raw.output), model=ref, device=dref, binary=binary,
                        warnings=tuple(warnings), transfer=transfers, thermal=thermal, extra=extra)


@dataclass(frozen=True)
class _FidelityRun:
    """`--fidelity-input` on a device: the RAW tensor to stage, the flags, and where the output lands."""

    source: object  # FidelityInput
    reference: object  # the host FP32 output
    staged: StagedFile
    output_remote: str
    local_dir: Path
    escape: str | None  # how the binary escapes ':' in --input_layer_value_files

    @classmethod
    def prepare(cls, raw_png: Path | None, model, plan: RunPlan, workdir: Path, status: Status,
                escape: str | None) -> "_FidelityRun | None":
        if raw_png is None:
            return None
        from mai_bench.binaries.value_files import value_files_item
        from mai_bench.fidelity.on_device import host_reference, prepare_input

        source = prepare_input(raw_png, plan.input_shape, workdir)
        staged = _staged("fidelity-input", source.tensor_file, "inputs")
        # A name this binary cannot be given fails here, before the host reference is computed or anything runs.
        value_files_item(model.inputs[0].name, staged.remote, escape)
        status("computing the host FP32 reference output for --fidelity-input")
        reference = host_reference(model, source.packed)
        # Beside the staged input: a folder that exists (benchmark_model does not create folders).
        output_remote = posixpath.join(posixpath.dirname(staged.remote), uuid.uuid4().hex + ".out")
        return cls(source, reference, staged, output_remote, workdir, escape)

    def collect(self, device: Device, exit_code: int | None) -> dict:
        """Pull the output the benchmark wrote, score it, and remove it from the device."""
        from mai_bench.fidelity.on_device import score_output

        local = self.local_dir / "output.bin"
        try:
            device.pull(self.output_remote, local, PULL_TIMEOUT_S)
        except DeviceError as error:
            return {"input": str(self.source.source), "error": f"no output tensor to score (exit {exit_code}): "
                                                              f"{error.reason}"}
        finally:
            try:
                device.remove(self.output_remote, PULL_TIMEOUT_S)
            except DeviceError:
                pass
        return score_output(local.read_bytes(), self.reference, self.source)


def running_benchmarks(device: Device) -> list[tuple[str, int]]:
    """(run folder, pid) of every benchmark still running on the device under mai-bench's run folders; empty
    when the device cannot tell (this check only adds a warning, it never fails a run)."""
    try:
        result = device.shell(["sh", "-c", _RUNNING_BENCHMARKS, "scan", posixpath.join(REMOTE_ROOT, "runs")],
                              LEFTOVER_SCAN_TIMEOUT_S)
    except DeviceError:
        return []
    found = []
    for line in result.out.splitlines():
        folder, _, pid = line.strip().rpartition(" ")
        if folder and pid.isdigit():
            found.append((folder, int(pid)))
    return found


def broken_lock_warnings(device: Device, holder: LockInfo) -> list[str]:
    """What a result must say when its run took the device's lock by breaking `holder`'s: a benchmark still
    running on the device shared it with this measurement; a holder that went stale but may be alive (another
    host's, or a live process of this one) may have. A holder known to be gone, with nothing left running: none."""
    adb = f"adb {device.address.adb_flags()}-s {device.serial}"
    running = running_benchmarks(device)
    broke = f"this run took the device's lock by breaking the one held by {holder.describe()}"
    if running:
        listed = ", ".join(f"pid {pid} in {folder}" for folder, pid in running)
        pids = " ".join(str(pid) for _, pid in running)
        return [f"{broke}; a benchmark it started is still running on the device ({listed}): this measurement "
                f"shared the device with it. Stop it (`{adb} shell kill {pids}`) and measure again"]
    if not holder.orphaned:
        return [f"{broke}: the lock was stale, not released, so that process may still be alive and using the "
                f"device, and this measurement may have shared the device with it. Check `{adb} shell ps -A` "
                "and measure again if it was"]
    return []


def _telemetry_or_none(device: Device, rules=None):
    try:
        return read_telemetry(device, rules)
    except DeviceError:
        return None
