"""LiteRT's real GPU accelerator on this machine: find a Vulkan device (`vulkan`), compile and run a model with
the accelerator while reading its own decisions (`accelerator`), and ask it about a model without running it
(`probe`). A software Vulkan device (SwiftShader) is always labelled as such (`labels`)."""
