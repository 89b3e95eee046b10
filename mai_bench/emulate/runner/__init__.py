"""The host runner's parts, one module per concern, from flags to the benchmark itself.

`flags` (benchmark_model's flags and parameter echo), `stats` (tsl::Stat lines), `inputs` (--input_layer* and
random input data), `delegation` (what the XNNPACK delegate took), `memory`, `output` (the tool's log lines and
clock), `errors` (its two ways to fail) and `benchmark` (one run). `mai_bench.emulate.host_runner` is the entry
point; none of these imports LiteRT or numpy until a benchmark runs.
"""
