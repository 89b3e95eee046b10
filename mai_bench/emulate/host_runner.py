"""The host runner: TFLite's `benchmark_model` contract, running real LiteRT on this machine's CPU.

Same flags (`--name=value` only; anything else is echoed as "Unconsumed cmdline flags" and ignored), same lines
(INFO/WARN on stdout; ERROR, FATAL and the runtime's own lines on stderr, each line flushed), same exit codes
(0; 1 after "Benchmarking failed."; SIGABRT after a FATAL check). It runs `mai-bench run --device local`, and it
is the `benchmark_model` a loopback device carries:

- GPU: LiteRT's real GPU accelerator on this machine's Vulkan device (a hardware GPU, or SwiftShader, a software
  one), the CPU taking what it leaves; its decisions printed in the phone's format (see `runner.gpu`). A parent
  that makes the GPU absent (a loopback device whose spec says `gpu: false`) gets a phone without a GPU
  delegate: "GPU acceleration is unsupported on this platform." and the run goes on on the CPU, as the tool does
  whenever a delegate provider returns no delegate.
- Hexagon: "Could not create Hexagon delegate: ..." and the run goes on on the CPU.
- NNAPI: an NNAPI with no device. The delegate is created and takes no node ("Though NNAPI delegate is explicitly
  applied, ..."), the graph runs on the plain CPU kernels; naming an accelerator fails as it does on a phone that
  lacks it ("Could not find the specified NNAPI accelerator: ...").
- XNNPACK is LiteRT's own. LiteRT's Python API does not say what the delegate took, so the
  "Replacing N out of M node(s)" line is read back from the interpreter's nodes (see `read_delegation`).
- `--enable_op_profiling`: LiteRT's Python API has no op profiler. The "Summary by node type" table lists the
  node types of the execution plan with their real counts; its time columns print `nan` (never measured), and
  its "Timings" line holds the measured per-invoke wall times.

Memory figures follow the tool: the peak resident set size (getrusage ru_maxrss, i.e. VmHWM) as a delta from the
start of the tool; the periodic monitor samples the same counter. Random inputs follow the tool too: one
std::mt19937 with its default seed, floats uniform in [-0.5, 0.5) unless --input_layer_value_range says otherwise.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from mai_bench.emulate.runner.errors import Failure, Fatal
from mai_bench.emulate.runner.flags import parse_flags, usage_text
from mai_bench.emulate.runner.gpu import benchmark_for
from mai_bench.emulate.runner.output import _emit, error, info, warn


def main(argv: Sequence[str] | None = None) -> int:
    """Run benchmark_model's contract on `argv` (default: the command line); the process exit status."""
    # A killed benchmark_model dies at once; Python would otherwise wait for invoke() to return.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = list(sys.argv[1:] if argv is None else argv)
    info("STARTING!")
    try:
        flags = parse_flags(args)
        for line in flags.errors:
            error(line)
        if flags.errors or flags.wants_help:
            raise Failure(usage_text(sys.argv[0] if sys.argv and sys.argv[0] else "benchmark_model"))
        if flags.unconsumed:
            warn("Unconsumed cmdline flags: " + " ".join(flags.unconsumed))
        benchmark_for(flags).run()
    except Failure as failure:
        for line in failure.lines:
            error(line)
        error("Benchmarking failed.")
        return 1
    except Fatal as fatal:
        _emit(sys.stderr, f"FATAL: {fatal}")
        os.abort()
    return 0


if __name__ == "__main__":
    sys.exit(main())
