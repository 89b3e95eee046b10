"""Ask the Vulkan loader which physical devices one ICD gives, as a script run by `vulkan.find_host_gpu` with
`VK_ICD_FILENAMES` set to that ICD: `python -I -S vkprobe.py` prints one JSON object on stdout.

Standalone (no mai_bench import, no site packages) so that it starts in a few milliseconds, and in a child
process because the loader reads its ICD list once per process and a broken driver may crash it.
"""

import ctypes
import json
import struct
import sys

VK_SUCCESS = 0
VK_INCOMPLETE = 5
STRUCTURE_TYPE_APPLICATION_INFO = 0
STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1
API_VERSION_1_1 = 1 << 22 | 1 << 12
FEATURE_COUNT = 55  # VkBool32 members of VkPhysicalDeviceFeatures (Vulkan 1.0)
PROPERTIES_BYTES = 1024  # VkPhysicalDeviceProperties is 824 bytes on 64-bit
# The VkPhysicalDeviceFeatures members Dawn's Vulkan backend refuses an adapter without (its messages: "Vulkan
# robustBufferAccess feature required", "Vulkan shaderUniform*ArrayDynamicIndexing required").
# VkResult codes a probe meets: a driver for hardware this machine does not have, or no driver at all.
RESULTS = {-1: "VK_ERROR_OUT_OF_HOST_MEMORY", -3: "VK_ERROR_INITIALIZATION_FAILED (no such hardware here)",
           -7: "VK_ERROR_EXTENSION_NOT_PRESENT", -9: "VK_ERROR_INCOMPATIBLE_DRIVER (no usable driver)"}
DAWN_FEATURES = {"robustBufferAccess": 0, "shaderUniformBufferArrayDynamicIndexing": 33,
                 "shaderSampledImageArrayDynamicIndexing": 34, "shaderStorageBufferArrayDynamicIndexing": 35,
                 "shaderStorageImageArrayDynamicIndexing": 36}


class ApplicationInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p), ("pApplicationName", ctypes.c_char_p),
                ("applicationVersion", ctypes.c_uint32), ("pEngineName", ctypes.c_char_p),
                ("engineVersion", ctypes.c_uint32), ("apiVersion", ctypes.c_uint32)]


class InstanceCreateInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p), ("flags", ctypes.c_uint32),
                ("pApplicationInfo", ctypes.POINTER(ApplicationInfo)), ("enabledLayerCount", ctypes.c_uint32),
                ("ppEnabledLayerNames", ctypes.c_void_p), ("enabledExtensionCount", ctypes.c_uint32),
                ("ppEnabledExtensionNames", ctypes.c_void_p)]


def probe() -> dict:
    try:
        vk = ctypes.CDLL("libvulkan.so.1")
    except OSError as error:
        return {"loader": None, "error": f"the Vulkan loader libvulkan.so.1 cannot be loaded: {error}"}
    loader = getattr(vk, "_name", "libvulkan.so.1")
    app = ApplicationInfo(STRUCTURE_TYPE_APPLICATION_INFO, None, b"mai-bench", 0, b"mai-bench", 0, API_VERSION_1_1)
    info = InstanceCreateInfo(STRUCTURE_TYPE_INSTANCE_CREATE_INFO, None, 0, ctypes.pointer(app), 0, None, 0, None)
    instance = ctypes.c_void_p()
    status = vk.vkCreateInstance(ctypes.byref(info), None, ctypes.byref(instance))
    if status != VK_SUCCESS:
        return {"loader": loader, "error": f"vkCreateInstance failed: {RESULTS.get(status, status)}"}
    try:
        count = ctypes.c_uint32(0)
        status = vk.vkEnumeratePhysicalDevices(instance, ctypes.byref(count), None)
        if status not in (VK_SUCCESS, VK_INCOMPLETE):
            return {"loader": loader, "error": f"vkEnumeratePhysicalDevices failed: {RESULTS.get(status, status)}",
                    "devices": []}
        handles = (ctypes.c_void_p * count.value)()
        vk.vkEnumeratePhysicalDevices(instance, ctypes.byref(count), handles)
        devices = []
        for handle in handles[:count.value]:
            properties = ctypes.create_string_buffer(PROPERTIES_BYTES)
            vk.vkGetPhysicalDeviceProperties(ctypes.c_void_p(handle), properties)
            api, driver, vendor, device_id, kind = struct.unpack_from("<5I", properties.raw, 0)
            name = properties.raw[20:276].split(b"\0")[0].decode("utf-8", errors="replace")
            features = (ctypes.c_uint32 * FEATURE_COUNT)()
            vk.vkGetPhysicalDeviceFeatures(ctypes.c_void_p(handle), features)
            missing = [feature for feature, index in DAWN_FEATURES.items() if not features[index]]
            devices.append({"name": name, "type": kind, "vendor_id": vendor, "device_id": device_id,
                            "api_version": f"{api >> 22}.{(api >> 12) & 0x3FF}.{api & 0xFFF}",
                            "driver_version": driver, "missing_features": missing})
        return {"loader": loader, "devices": devices}
    finally:
        vk.vkDestroyInstance(instance, None)


if __name__ == "__main__":
    json.dump(probe(), sys.stdout)
    sys.stdout.write("\n")
