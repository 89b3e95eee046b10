"""Benchmarks on Android devices over ADB: staging, detached runs, thermal gating."""
