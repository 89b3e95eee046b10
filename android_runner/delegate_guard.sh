#!/system/bin/sh
# mai-bench's device-side delegate guard (POSIX sh; Android's toybox/mksh shell).
#
# usage: sh delegate_guard.sh LOG COMMAND [ARG...]
#
# Runs COMMAND (benchmark_model asked for a GPU, NNAPI or Hexagon delegate) in this very process: `exec` keeps
# the PID the run wrapper recorded, so its time limit and the host's stop still reach the benchmark. Beside it,
# a watcher reads LOG (the file COMMAND's output goes to) once a second until benchmark_model has applied its
# delegates. When those lines say the delegate could not be created, took no node, left part of the graph to
# the CPU, or was ignored as an unknown flag, the watcher adds one line naming the log line that decided it and
# stops the benchmark, so no CPU fallback is timed in the delegate's place. A build that honours
# --require_full_delegation stops by itself; older ones go on on the CPU when no delegate could be created
# (and the oldest do not know the flag): this catches them. The watcher ends once the delegate is known to run
# the graph, or the timed runs start, so it never wakes the device during a measurement.
log=$1
shift
target=$$
(
  while kill -0 "$target" 2>/dev/null; do
    sleep 1
    n=0
    hit=
    while IFS= read -r line || [ -n "$line" ]; do
      n=$((n + 1))
      case $line in
        # Over (the summary, or a failure the binary reports itself): nothing left to spare.
        *"Inference timings in us"* | *"Benchmarking failed"* | *"Disallowed CPU fallback detected"*) exit 0 ;;
      esac
      [ -n "$hit" ] && continue
      case $line in
        *"will be completely executed"*) exit 0 ;;
        *"Could not create "*"elegate"* | *"acceleration is unsupported on this platform"* \
          | *"will not be executed by the delegate"* | *"will be partially executed"* \
          | *"Unconsumed cmdline flags"*"--use_gpu"* | *"Unconsumed cmdline flags"*"--use_nnapi"* \
          | *"Unconsumed cmdline flags"*"--use_hexagon"*)
          hit=$n ;;
        # The delegates are applied before the first run: no verdict by now means none will come.
        *"Running benchmark for at least"*) exit 0 ;;
      esac
    done < "$log"
    if [ -n "$hit" ]; then
      echo "mai-bench delegate guard: stopped benchmark_model at log line $hit: the requested delegate does not" \
        "run the whole graph, and a CPU fallback is not timed in its place"
      kill "$target" 2>/dev/null
      exit 0
    fi
  done
) </dev/null &
exec "$@"
