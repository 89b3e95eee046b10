#!/system/bin/sh
# mai-bench's device-side run wrapper (POSIX sh; Android's toybox/mksh shell).
#
# usage: sh run_benchmark.sh RUN_DIR LIMIT_S BINARY [ARG...]
#
# Started detached by the host (nohup ... &), so a USB hiccup during a long run loses nothing: the benchmark's
# combined output goes to RUN_DIR/log, its exit status to RUN_DIR/rc (written last, atomically), and the host's
# wait shell learns of it at once through the fifo RUN_DIR/wake when there is one. A run longer than LIMIT_S
# seconds is killed on the device and RUN_DIR/timed_out is left.
#
# While the benchmark runs nothing here wakes up or starts a process: the wrapper waits for it, and the watchdog
# waits out the limit in one timed `read` (a shell builtin) on the fifo RUN_DIR/timer, which nobody writes. A
# shell without `read -t` and $SECONDS (the host's dash on a lenient loopback device), or a device without fifos,
# falls back to one `sleep 1` per second.
run_dir=$1
limit=$2
shift 2
cd "$run_dir" || exit 2
echo $$ > wrapper.pid
"$@" > log 2>&1 &
child=$!
echo "$child" > child.pid
(
  waited=0
  if [ -p timer ] && [ -n "$SECONDS" ]; then
    start=$SECONDS
    read -t "$limit" line <> timer 2>/dev/null
    waited=$((SECONDS - start))
  fi
  while [ "$waited" -lt "$limit" ]; do
    sleep 1
    kill -0 "$child" 2>/dev/null || exit 0
    waited=$((waited + 1))
  done
  echo "$limit" > timed_out
  kill -9 "$child" 2>/dev/null
) &
watchdog=$!
wait "$child"
rc=$?
kill "$watchdog" 2>/dev/null
echo "$rc" > rc.tmp && mv rc.tmp rc
# Opened read-write, the fifo never blocks this write; a wait shell that holds it open reads the line at once.
if [ -p wake ]; then echo "$rc" 1<> wake; fi
