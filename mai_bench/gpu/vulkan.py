"""Find a Vulkan device for LiteRT's GPU accelerator on this machine, without configuration.

LiteRT's GPU accelerator (`libLiteRtWebGpuAccelerator.so` in the ai-edge-litert wheel: ML Drift over WebGPU,
Dawn, on Vulkan) needs a Vulkan device. The search, in order:

1. `VK_ICD_FILENAMES` / `VK_DRIVER_FILES` when the user set one: only what it names is tried (a setting that
   gives no usable device is reported, not overridden).
2. A hardware device (integrated, discrete or virtual GPU) from the ICD files in the Vulkan loader's standard
   folders (`/etc/vulkan/icd.d`, `/usr/share/vulkan/icd.d`, their XDG variants).
3. SwiftShader, a CPU implementation of Vulkan, from a Chromium or Chrome installation
   (Debian's `chromium` ships `vk_swiftshader_icd.json` beside `libvk_swiftshader.so`).
4. Any other software device from the standard folders that Dawn accepts.

Each ICD is asked by `vkprobe.py` in a child process (the loader reads its ICD list once per process). A device
Dawn refuses (Debian 12's Mesa lavapipe lacks two array-dynamic-indexing features: "Vulkan
shaderUniform*ArrayDynamicIndexing required") is listed with the reason and never chosen.

The choice goes into the environment of mai-bench's own child processes only (`HostGpu.env`): `VK_ICD_FILENAMES`
naming the one ICD, and `XDG_RUNTIME_DIR` (a private folder) when unset, which the WebGPU stack asks for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

PROBE_TIMEOUT_S = 10.0
PROBE_SCRIPT = Path(__file__).with_name("vkprobe.py")
ICD_ENV = "VK_ICD_FILENAMES"
DRIVER_ENV = "VK_DRIVER_FILES"  # the loader's newer name for the same list
RUNTIME_DIR_ENV = "XDG_RUNTIME_DIR"
# Set by mai-bench in a child's environment: the chosen device, so the child need not search again.
DEVICE_ENV = "MAI_BENCH_VULKAN_DEVICE"

HOW_TO_GET_ONE = ("install a Vulkan device: `apt-get install chromium libvulkan1` (Chromium ships SwiftShader, a "
                  "software Vulkan device mai-bench finds by itself), or your GPU's Vulkan driver "
                  "(e.g. mesa-vulkan-drivers, nvidia-driver) with libvulkan1")

# VkPhysicalDeviceType
_TYPES = {0: "other", 1: "integrated GPU", 2: "discrete GPU", 3: "virtual GPU", 4: "CPU (software)"}
_HARDWARE_TYPES = (1, 2, 3)
# Where Chromium and Chrome packages put SwiftShader's ICD file.
SWIFTSHADER_ICDS = (
    "/usr/lib/chromium/vk_swiftshader_icd.json",
    "/usr/lib64/chromium/vk_swiftshader_icd.json",
    "/usr/lib/chromium-browser/vk_swiftshader_icd.json",
    "/usr/lib64/chromium-browser/vk_swiftshader_icd.json",
    "/opt/google/chrome/vk_swiftshader_icd.json",
    "/opt/google/chrome-beta/vk_swiftshader_icd.json",
    "/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json",
)


@dataclass(frozen=True)
class VulkanDevice:
    """One physical device an ICD gives."""

    name: str
    kind: int  # VkPhysicalDeviceType
    icd: str
    api_version: str
    vendor_id: int
    missing_features: tuple[str, ...] = ()  # what Dawn requires and the device lacks

    @property
    def software(self) -> bool:
        return self.kind not in _HARDWARE_TYPES

    @property
    def type_name(self) -> str:
        return _TYPES.get(self.kind, f"type {self.kind}")

    @property
    def usable(self) -> bool:
        return not self.missing_features

    def describe(self) -> str:
        what = "software" if self.software else "hardware"
        return f"{self.name} ({what} Vulkan {self.api_version}, {self.type_name}; ICD {self.icd})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name, "software": self.software, "icd": self.icd,
                "api_version": self.api_version, "vendor_id": self.vendor_id,
                "missing_features": list(self.missing_features), "usable": self.usable}


@dataclass(frozen=True)
class Candidate:
    """One ICD file tried: the devices it gave, or why it gave none."""

    icd: str
    origin: str  # "environment", "standard folder" or "SwiftShader"
    devices: tuple[VulkanDevice, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"icd": self.icd, "origin": self.origin, "devices": [d.to_dict() for d in self.devices],
                "error": self.error}


@dataclass(frozen=True)
class HostGpu:
    """The Vulkan device mai-bench uses on this machine (None: there is none), and every ICD it looked at."""

    device: VulkanDevice | None
    candidates: tuple[Candidate, ...] = ()
    loader_error: str | None = None  # libvulkan.so.1 itself is missing
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fix(self) -> str | None:
        """What to do when there is no device; None when there is one."""
        if self.device is not None:
            return None
        if self.loader_error:
            return "install the Vulkan loader and a device: `apt-get install libvulkan1 chromium`"
        return HOW_TO_GET_ONE

    def describe(self) -> str:
        if self.device is not None:
            return self.device.describe()
        refused = [f"{d.name} (lacks {', '.join(d.missing_features)}, which Dawn requires)"
                   for c in self.candidates for d in c.devices if not d.usable]
        why = self.loader_error or "no Vulkan device found"
        if refused:
            why += "; refused: " + "; ".join(refused)
        return "; ".join((why, *self.notes))

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) with the chosen ICD for a child process."""
        env = dict(os.environ if base is None else base)
        if self.device is None:
            return env
        env.pop(DRIVER_ENV, None)
        env[ICD_ENV] = self.device.icd
        env[DEVICE_ENV] = json.dumps(self.device.to_dict())
        if not env.get(RUNTIME_DIR_ENV) or not os.path.isdir(env[RUNTIME_DIR_ENV]):
            env[RUNTIME_DIR_ENV] = private_runtime_dir()
        return env

    def properties(self) -> dict[str, str]:
        """What a result records about the device (strings, as device properties are)."""
        if self.device is None:
            return {"gpu.vulkan": "none"}
        d = self.device
        return {"gpu.vulkan": d.name, "gpu.vulkan_type": d.type_name, "gpu.software": str(d.software).lower(),
                "gpu.vulkan_icd": d.icd, "gpu.vulkan_api": d.api_version}

    def to_dict(self) -> dict[str, Any]:
        return {"device": None if self.device is None else self.device.to_dict(), "fix": self.fix,
                "loader_error": self.loader_error, "candidates": [c.to_dict() for c in self.candidates],
                "notes": list(self.notes)}


@lru_cache(maxsize=1)
def private_runtime_dir() -> str:
    """A folder only this user can use, for XDG_RUNTIME_DIR when the environment has none."""
    base = Path(tempfile.gettempdir()) / f"mai-bench-runtime-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        if base.stat().st_uid == os.getuid() and base.is_dir() and not base.is_symlink():
            os.chmod(base, 0o700)
            return str(base)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="mai-bench-runtime-")


def standard_icd_dirs(env: Mapping[str, str], system_dirs: tuple[str, ...] = ("/etc",)) -> list[Path]:
    """The Vulkan loader's ICD folders on Linux, in its search order (`system_dirs`: its SYSCONFDIR)."""
    home = env.get("HOME", "")
    config_home = env.get("XDG_CONFIG_HOME") or (f"{home}/.config" if home else "")
    data_home = env.get("XDG_DATA_HOME") or (f"{home}/.local/share" if home else "")
    config_dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    data_dirs = (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    roots = [config_home, *config_dirs, *system_dirs, data_home, *data_dirs]
    return [Path(root) / "vulkan" / "icd.d" for root in dict.fromkeys(r for r in roots if r)]


def _icd_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())
    except OSError:
        return []


def candidate_icds(env: Mapping[str, str], swiftshader_icds: tuple[str, ...] = SWIFTSHADER_ICDS,
                   system_dirs: tuple[str, ...] = ("/etc",)) -> list[tuple[str, str]]:
    """(ICD path, origin) in the order they are preferred, each once."""
    chosen: dict[str, str] = {}
    given = env.get(ICD_ENV) or env.get(DRIVER_ENV)
    for path in (given or "").split(":"):
        if path:
            chosen.setdefault(path, "environment")
    for folder in standard_icd_dirs(env, system_dirs):
        for path in _icd_files(folder):
            chosen.setdefault(str(path), "standard folder")
    for path in swiftshader_icds:
        if os.path.isfile(path):
            chosen.setdefault(path, "SwiftShader")
    return list(chosen.items())


def _probe_env(env: Mapping[str, str], icd: str) -> dict[str, str]:
    clean = {k: v for k, v in env.items() if not k.startswith("VK_")}
    clean[ICD_ENV] = icd
    return clean


def probe_icds(icds: list[tuple[str, str]], env: Mapping[str, str]) -> tuple[list[Candidate], str | None]:
    """Ask every ICD for its devices, all at once; the candidates and a loader error (the same for every ICD)."""
    procs = []
    for icd, origin in icds:
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", str(PROBE_SCRIPT)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_probe_env(env, icd))
        except OSError as error:
            procs.append((icd, origin, None, str(error)))
            continue
        procs.append((icd, origin, proc, None))
    candidates: list[Candidate] = []
    loader_errors = []
    for icd, origin, proc, error in procs:
        if proc is None:
            candidates.append(Candidate(icd, origin, error=f"cannot start the probe: {error}"))
            continue
        try:
            out, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            candidates.append(Candidate(icd, origin, error=f"the driver did not answer within {PROBE_TIMEOUT_S:g} s"))
            continue
        try:
            answer = json.loads(out.decode("utf-8", errors="replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = err.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            candidates.append(Candidate(icd, origin, error=f"the probe failed: {tail[0]}"))
            continue
        if answer.get("loader") is None:
            loader_errors.append(answer.get("error") or "libvulkan.so.1 is missing")
        devices = tuple(VulkanDevice(name=d["name"], kind=int(d["type"]), icd=icd, api_version=d["api_version"],
                                     vendor_id=int(d["vendor_id"]), missing_features=tuple(d["missing_features"]))
                        for d in answer.get("devices") or ())
        error = answer.get("error") if not devices else None
        candidates.append(Candidate(icd, origin, devices, error))
    loader_error = loader_errors[0] if loader_errors and len(loader_errors) == len(procs) else None
    return candidates, loader_error


def choose(candidates: list[Candidate]) -> VulkanDevice | None:
    """The device to use: one the user named, else hardware, else SwiftShader, else another software device."""
    usable = [(c, d) for c in candidates for d in c.devices if d.usable]
    for wanted in (lambda c, d: c.origin == "environment",
                   lambda c, d: not d.software,
                   lambda c, d: c.origin == "SwiftShader" or "swiftshader" in d.name.lower(),
                   lambda c, d: True):
        for candidate, device in usable:
            if wanted(candidate, device):
                return device
    return None


def find_host_gpu(env: Mapping[str, str] | None = None, *, swiftshader_icds: tuple[str, ...] = SWIFTSHADER_ICDS,
                  system_dirs: tuple[str, ...] = ("/etc",)) -> HostGpu:
    """Search this machine for a Vulkan device (see the module docstring). Never raises. `swiftshader_icds` and
    `system_dirs` are where SwiftShader and the system's ICD files are looked for."""
    env = dict(os.environ if env is None else env)
    icds = candidate_icds(env, swiftshader_icds, system_dirs)
    if not icds:
        return HostGpu(None, (), None, ("no Vulkan ICD file in the standard folders and no Chromium/Chrome "
                                        "SwiftShader",))
    named = [icd for icd in icds if icd[1] == "environment"]
    if named:  # the user chose: only what they named is tried
        icds = named
    candidates, loader_error = probe_icds(icds, env)
    device = choose(candidates)
    notes = []
    if named and device is None:
        notes.append(f"{ICD_ENV}/{DRIVER_ENV} is set ({', '.join(i for i, _ in named)}) and gives no usable "
                     "device; unset it to let mai-bench search")
    return HostGpu(device, tuple(candidates), loader_error, tuple(notes))


@lru_cache(maxsize=1)
def host_gpu() -> HostGpu:
    """find_host_gpu() for this process's environment, searched once per process."""
    return find_host_gpu()


def device_from_env(env: Mapping[str, str]) -> VulkanDevice | None:
    """The device a mai-bench parent chose for this process (DEVICE_ENV), when it still names the ICD in use."""
    text = env.get(DEVICE_ENV)
    if not text:
        return None
    try:
        data = json.loads(text)
        kinds = {name: kind for kind, name in _TYPES.items()}
        device = VulkanDevice(name=data["name"], kind=kinds.get(data["type"], 0), icd=data["icd"],
                              api_version=data["api_version"], vendor_id=int(data["vendor_id"]),
                              missing_features=tuple(data["missing_features"]))
    except (ValueError, KeyError, TypeError):
        return None
    return device if env.get(ICD_ENV) == device.icd else None


def prepare_this_process() -> HostGpu:
    """In a mai-bench child that is about to load LiteRT's GPU accelerator: keep the device its parent chose, else
    search and set the environment of this process (the loader reads it when the accelerator starts)."""
    chosen = device_from_env(os.environ)
    if chosen is not None:
        gpu = HostGpu(chosen)
    else:
        gpu = host_gpu()
    os.environ.update(gpu.env())
    return gpu
