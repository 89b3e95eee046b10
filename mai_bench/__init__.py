"""mai-bench: runtime and fidelity benchmarks for learned camera ISP TFLite models."""

__version__ = "0.1.0"
