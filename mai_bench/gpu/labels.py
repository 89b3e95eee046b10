"""What a result records about the GPU that ran it, and how reports name a software one.

LiteRT's GPU accelerator names the adapter it selected in its own log line ("Selected adapter: SwiftShader
Device (Subzero), arch=swiftshader, vendor=google, backend=Vulkan, adapterType=CPU / Software"). A result whose
log has that line records it in its device properties (`gpu.adapter`, `gpu.adapter_type`, `gpu.backend`,
`gpu.software`), on the host and on a loopback device alike. A software adapter (SwiftShader, llvmpipe) is a
CPU emulating a GPU: its timings are labelled "software GPU" and never set beside a phone's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

_ADAPTER = re.compile(r"Selected adapter: (?P<name>.+?), arch=(?P<arch>[^,]*), vendor=(?P<vendor>[^,]*), "
                      r"backend=(?P<backend>[^,]*), adapterType=(?P<type>[^\r\n]+?)\s*$", re.MULTILINE)
SOFTWARE_PROPERTY = "gpu.software"
ADAPTER_PROPERTY = "gpu.adapter"


def adapter_properties(log: str) -> dict[str, str]:
    """The adapter the GPU accelerator selected, from the last such line in `log`; empty when it names none."""
    matches = list(_ADAPTER.finditer(log or ""))
    if not matches:
        return {}
    m = matches[-1]
    kind = m.group("type").strip()
    software = "software" in kind.lower() or kind.upper().startswith("CPU")
    return {ADAPTER_PROPERTY: m.group("name").strip(), "gpu.adapter_type": kind, "gpu.backend": m.group("backend"),
            "gpu.vendor": m.group("vendor"), SOFTWARE_PROPERTY: "true" if software else "false"}


def with_adapter(device: Any, log: str) -> Any:
    """`device` (a DeviceRef) with the adapter properties its log names added."""
    found = adapter_properties(log)
    if not found:
        return device
    return replace(device, properties={**device.properties, **found})


def software_gpu(device: Any) -> str | None:
    """"software GPU (SwiftShader Device (Subzero))" for a device whose GPU runs in software, else None."""
    properties = getattr(device, "properties", None) or {}
    if properties.get(SOFTWARE_PROPERTY) != "true":
        return None
    name = properties.get(ADAPTER_PROPERTY) or properties.get("gpu.vulkan")
    return f"software GPU ({name})" if name else "software GPU"


def host_gpu_label(device: Any) -> str | None:
    """"host GPU (NAME)" for a hardware GPU recorded on the host, else None."""
    properties = getattr(device, "properties", None) or {}
    if properties.get(SOFTWARE_PROPERTY) != "false":
        return None
    return f"host GPU ({properties.get(ADAPTER_PROPERTY) or properties.get('gpu.vulkan') or 'Vulkan'})"


def gpu_cost(result: Any) -> dict[str, Any] | None:
    """What the GPU path cost in fidelity for this result: its output against the CPU FP32 output of the same
    input (`extra.gpu_vs_cpu`, a local GPU run), or None when the result holds no such comparison."""
    record = (result.extra or {}).get("gpu_vs_cpu")
    if not isinstance(record, dict) or "max_abs_error" not in record:
        return None
    return record


def gpu_cost_note(result: Any) -> str | None:
    """One line for reports: `model / gpu: output vs CPU FP32 on the same input: max |error| ..., PSNR ... dB`."""
    record = gpu_cost(result)
    if record is None:
        return None
    psnr = record.get("psnr_db")
    psnr_text = "identical outputs" if psnr is None else f"PSNR {psnr:.1f} dB against it"
    return (f"{result.model.name} / {result.delegate}: the GPU output against the CPU FP32 output of the same input: "
            f"max |error| {record['max_abs_error']:.3g}, mean {record.get('mean_abs_error', float('nan')):.3g}, "
            f"{psnr_text}")
