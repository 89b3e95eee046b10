"""A Python adbd: the device side of the ADB transport protocol, serving a sandbox folder as the device.

Layout: `protocol` (wire format), `transport` (one server connection: handshake, streams, flow control,
link faults), `auth` (RSA keys and signatures, trusted and pending keys), `services` -> `shell` / `sync` /
`forward` (adb forward and reverse), `sandbox` (the device file tree and path rules), `system_bin` (getprop,
dumpsys, pm and the stand-ins' scripts), `jail` (the device's own root, user and PID namespace: bubblewrap)
and `zygote` (the process inside it that forks every shell), `spec` (profile and fault values), `stand_ins`
(the preinstalled benchmark_model and df), `daemon` (the process).
Start devices with `mai_bench.emulate.loopback`.
"""
