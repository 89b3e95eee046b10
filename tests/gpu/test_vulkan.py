"""Finding a Vulkan device without configuration. On this project's machines (Debian with `chromium` and
`libvulkan1`, installed by scripts/ensure_system_packages.sh) there is one: these tests fail, not skip, when
there is none."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mai_bench.gpu.vulkan import (DEVICE_ENV, ICD_ENV, Candidate, HostGpu, VulkanDevice, choose, device_from_env,
                                  find_host_gpu)


def test_this_host_has_a_vulkan_device_the_accelerator_can_use():
    gpu = find_host_gpu()
    assert gpu.device is not None, f"no Vulkan device: {gpu.describe()} (fix: {gpu.fix})"
    assert gpu.device.usable and Path(gpu.device.icd).is_file()
    assert gpu.fix is None
    if gpu.device.software:  # no GPU here: SwiftShader, the one software device Dawn takes
        assert "SwiftShader" in gpu.device.name and gpu.device.type_name == "CPU (software)"
    # Every device found and refused says why (Debian 12's lavapipe lacks what Dawn requires).
    for candidate in gpu.candidates:
        for device in candidate.devices:
            assert device.usable or device.missing_features


def test_the_device_goes_only_into_a_childs_environment():
    before = os.environ.get(ICD_ENV)
    gpu = find_host_gpu()
    env = gpu.env({"PATH": "/usr/bin"})
    assert env[ICD_ENV] == gpu.device.icd and env["PATH"] == "/usr/bin"
    assert os.path.isdir(env["XDG_RUNTIME_DIR"]) and os.stat(env["XDG_RUNTIME_DIR"]).st_mode & 0o777 == 0o700
    assert os.environ.get(ICD_ENV) == before, "the parent's own environment is left alone"
    # A child keeps its parent's choice instead of searching again, while the ICD is still the one in use.
    assert device_from_env(env) == gpu.device
    assert device_from_env({**env, ICD_ENV: "/elsewhere.json"}) is None
    assert json.loads(env[DEVICE_ENV])["software"] == gpu.device.software


def test_no_device_says_so_and_how_to_get_one(tmp_path: Path):
    empty = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "c"), "XDG_DATA_DIRS": str(tmp_path / "d")}
    gpu = find_host_gpu(empty, swiftshader_icds=(), system_dirs=(str(tmp_path / "etc"),))
    assert gpu.device is None
    assert "apt-get install chromium libvulkan1" in gpu.fix
    assert gpu.properties() == {"gpu.vulkan": "none"}
    assert ICD_ENV not in gpu.env(empty)


def test_an_icd_whose_driver_is_missing_is_listed_with_its_error(tmp_path: Path):
    folder = tmp_path / "d" / "vulkan" / "icd.d"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text(json.dumps({"file_format_version": "1.0.0",
                                                    "ICD": {"library_path": str(tmp_path / "libnothere.so"),
                                                            "api_version": "1.3.0"}}))
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "c"), "XDG_DATA_DIRS": str(tmp_path / "d")}
    gpu = find_host_gpu(env, swiftshader_icds=(), system_dirs=())
    (candidate,) = gpu.candidates
    assert candidate.icd == str(folder / "broken.json") and not candidate.devices and candidate.error
    assert gpu.device is None


def _device(name: str, kind: int, icd: str, missing: tuple[str, ...] = ()) -> VulkanDevice:
    return VulkanDevice(name=name, kind=kind, icd=icd, api_version="1.3.0", vendor_id=1, missing_features=missing)


def test_hardware_first_then_swiftshader_then_other_software_never_a_refused_one():
    lavapipe = Candidate("lvp.json", "standard folder",
                         (_device("llvmpipe", 4, "lvp.json", ("shaderStorageImageArrayDynamicIndexing",)),))
    other = Candidate("soft.json", "standard folder", (_device("Some CPU Vulkan", 4, "soft.json"),))
    swiftshader = Candidate("ss.json", "SwiftShader", (_device("SwiftShader Device (Subzero)", 4, "ss.json"),))
    hardware = Candidate("gpu.json", "standard folder", (_device("Real GPU", 2, "gpu.json"),))
    assert choose([lavapipe, other, swiftshader, hardware]).name == "Real GPU"
    assert choose([lavapipe, other, swiftshader]).name.startswith("SwiftShader")
    assert choose([lavapipe, other]).name == "Some CPU Vulkan"
    assert choose([lavapipe]) is None
    named = Candidate("mine.json", "environment", (_device("User's choice", 4, "mine.json"),))
    assert choose([hardware, named]).name == "User's choice"
    refused = HostGpu(None, (lavapipe,))
    assert "llvmpipe" in refused.describe() and "Dawn requires" in refused.describe()
