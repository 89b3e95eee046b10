"""A Python adbd: the device side of the ADB transport protocol, serving a sandbox folder as the device.

Layout: `protocol` (wire format), `transport` (one server connection: handshake, streams, flow control,
link faults), `services` -> `shell` / `sync`, `sandbox` (the device file tree and path rules), `spec`
(profile and fault values), `stand_ins` (the preinstalled benchmark_model and df), `daemon` (the process).
Start devices with `mai_bench.emulate.loopback`.
"""
