"""Device locks: one mai-bench at a time per device, across processes and hosts.

The lock lives on the device itself, so every host that reaches the device sees it: a folder
`/data/local/tmp/mai-bench/lock` made with `mkdir` (atomic: of two callers exactly one creates it) holding an
`owner` file with the owner, host, boot id, pid, a random token, the device's clock when taken (refreshed by
the holder's heartbeat) and the age after which the lock counts as stale. A stale lock (its holder died
without releasing it, e.g. the device dropped before the release) is broken by the next caller. Times come
from the device's own clock, so hosts whose clocks disagree still agree on a lock's age. A lock left by a
process of this very machine (same boot id) that is no longer running, or by this process under a token it
no longer holds, is an orphan and is broken at once instead of after its expiry.

Every device command passes user text (owner, host) as positional arguments of a fixed script, never inside it.

Every `mkdir`, `rm` and owner-file write is checked on the device, and a failure comes back with the device's own
error (`Permission denied` for a folder left by a run as root after `adb root`, `No space left on device`) as
LockUnusable (exit 3) with the fix, at once: never as a busy device, and never retried until the wait is over.
Every loop is bounded by the wait limit.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from mai_bench.device.device import Device
from mai_bench.device.errors import DeviceError

LOCK_PATH = "/data/local/tmp/mai-bench/lock"
DEFAULT_STALE_S = 180.0  # a holder refreshes every HEARTBEAT_S; three missed minutes mean it is gone
HEARTBEAT_S = 30.0
# A heartbeat held back during a timed run (`quiet`) still comes this long before the lock would go stale.
QUIET_MARGIN_S = 10.0
LOCK_WAIT_S = 600.0  # default wait for a device another mai-bench is using
LOCK_TIMEOUT_S = 10.0  # each lock command is one short shell round trip
# A live taker writes the owner file within moments of `mkdir`; a lock folder still without one after this long
# was left by a mai-bench killed in between (SIGKILL, a dropped link) and is broken.
OWNERLESS_STALE_S = 15.0
POLL_FIRST_S = 0.25  # waiting polls start fast (a short run ahead of us) and slow down to POLL_MAX_S
POLL_MAX_S = 2.0

# One attempt: take the lock, or report who holds it and the device's clock. $1 lock folder, $2 owner, $3 host,
# $4 pid, $5 token, $6 stale seconds, $7 boot id of the host. Answers (first line): `acquired`; `held` and the
# holder; `retry` (the lock was released between our `mkdir` and our look at it); `error` and the device's own
# error text (a folder it cannot create, an owner file it cannot write).
_ACQUIRE = r"""d=$1
p=${d%/*}
now=$(date +%s)
fail() { echo error; printf '%s\n' "$1"; exit 0; }
if [ ! -d "$p" ]; then
  e=$(mkdir -p "$p" 2>&1) || fail "$e"
fi
if e=$(mkdir "$d" 2>&1); then
  if e=$( { printf 'owner=%s\nhost=%s\npid=%s\ntoken=%s\ntime=%s\nstale_s=%s\nmachine=%s\n' \
      "$2" "$3" "$4" "$5" "$now" "$6" "$7" > "$d/owner.tmp"; } 2>&1 ) && e=$(mv "$d/owner.tmp" "$d/owner" 2>&1)
  then
    echo acquired
    exit 0
  fi
  r=$(rm -rf "$d" 2>&1) || e="$e; the lock folder it had just made could not be removed either: $r"
  fail "$e"
fi
if [ ! -e "$d" ]; then
  case $e in *[Ee]xists*) echo retry; exit 0 ;; esac
  fail "$e"
fi
[ -w "$p" ] || fail "$p is not writable by the shell: the lock can neither be taken nor given back"
echo held
echo "now=$now"
echo "mtime=$(stat -c %Y "$d" 2>/dev/null)"
cat "$d/owner" 2>/dev/null
exit 0
"""

# Is the lock still the one with token $2 ("" for a lock without an owner file)? Shell built-ins only.
_HOLDS = r"""holds() {
  t=
  while IFS= read -r line; do
    case $line in token=*) t=${line#token=} ;; esac
  done < "$1/owner"
  [ "$t" = "$2" ]
} 2>/dev/null
"""

# Remove the lock only while it still carries the token we judged stale or hold ourselves. Between the check
# and the `rm` another caller could break the same stale lock and take a new one; the window is a few
# microseconds and opens only when a holder died and two callers break its lock at the same instant.
# Answers `removed`, `kept` (no longer that lock), or `failed` and the device's error (`rm` exits 0 with -f
# only when it removed everything, and the folder must be gone).
_REMOVE = _HOLDS + r"""if [ -e "$1" ] && holds "$1" "$2"; then
  if e=$(rm -rf "$1" 2>&1) && [ ! -e "$1" ]; then echo removed; else echo failed; printf '%s\n' "$e"; fi
else
  echo kept
fi
exit 0
"""

# Heartbeat: rewrite the owner file with the device's clock, only while the lock is still ours.
_REFRESH = _HOLDS + r"""d=$1
if holds "$d" "$5"; then
  printf 'owner=%s\nhost=%s\npid=%s\ntoken=%s\ntime=%s\nstale_s=%s\nmachine=%s\n' \
    "$2" "$3" "$4" "$5" "$(date +%s)" "$6" "$7" > "$d/owner.tmp" && mv "$d/owner.tmp" "$d/owner" && echo refreshed
else
  echo lost
fi
"""

# Who holds the lock; `error` and why when its folder exists but the shell cannot write it (a lock there could be
# neither taken nor given back). Always exit 0: a lock folder without an owner file is an answer, not a failure.
_READ = r"""d=$1
p=${d%/*}
if [ -d "$p" ] && [ ! -w "$p" ]; then
  echo error
  echo "$p is not writable by the shell: the lock can neither be taken nor given back"
  exit 0
fi
if [ -e "$d" ]; then
  echo held
  echo "now=$(date +%s)"
  echo "mtime=$(stat -c %Y "$d" 2>/dev/null)"
  cat "$d/owner" 2>/dev/null
else
  echo free
fi
exit 0
"""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"

# Tokens of the locks this process holds right now: a lock of ours under any other token is a leftover.
_held_tokens: set[str] = set()
_held_guard = threading.Lock()
# Token -> time.monotonic() until which the holder's heartbeat stays off the device (a timed run: `quiet`).
_quiet_until: dict[str, float] = {}


def boot_id() -> str:
    """This machine's boot id (Linux), "" where there is none: then orphans are found by expiry alone."""
    try:
        with open(BOOT_ID_FILE, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class DeviceBusy(DeviceError):
    """Another mai-bench holds the device's lock and did not release it within the wait."""

    def __init__(self, message: str, fix: str, *, holder: LockInfo, **context):
        self.holder = holder
        super().__init__(message, fix, **context)


class LockUnusable(DeviceError):
    """The device cannot create, write or remove its lock folder: `detail` is the device's own error (a folder
    left owned by root after `adb root`, full storage). Waiting does not help; the fix names what does."""

    def __init__(self, device: Device, path: str, what: str, detail: str):
        self.detail = detail.strip() or "no error text"
        super().__init__(f"cannot {what} the lock {path}: {self.detail}", unusable_fix(device, path, self.detail),
                         serial=device.serial, server=device.server)


def unusable_fix(device: Device, path: str, detail: str) -> str:
    """What to type when the device refused a lock command with `detail`."""
    adb = f"adb {device.address.adb_flags()}-s {device.serial}"
    folder = posixpath.dirname(path)
    if "space" in detail.lower():
        return f"free space on the device (`{adb} shell df -h {folder}`), then run again"
    return (f"{folder} is probably left owned by root by a run after `adb root`: remove it as root and go back to "
            f"the shell user: `{adb} root; {adb} shell rm -rf {folder}; {adb} unroot` (where adb root is not "
            f"available: `{adb} shell su 0 rm -rf {folder}`); if the device's storage is full, free space")


@dataclass(frozen=True)
class LockInfo:
    """Who holds a device's lock. `time` and `now` are the device's clock (epoch seconds); `age_s` is None
    when the lock shows no time at all."""

    owner: str | None
    host: str | None
    pid: int | None
    token: str
    time: int | None
    now: int | None
    stale_s: float
    machine: str = ""

    @property
    def age_s(self) -> float | None:
        if self.time is None or self.now is None:
            return None
        return max(0.0, float(self.now - self.time))

    @property
    def ownerless(self) -> bool:
        """A lock folder without an owner file: its taker stopped between `mkdir` and writing it."""
        return not self.token and self.owner is None

    @property
    def stale(self) -> bool:
        return self.age_s is not None and self.age_s > self.stale_s

    @property
    def orphaned(self) -> bool:
        """Left by a process of this machine that is gone, or by this process under a token it no longer holds
        (its release could not reach the device)."""
        if not self.machine or self.machine != boot_id() or self.pid is None:
            return False
        if self.pid == os.getpid():
            with _held_guard:
                return self.token not in _held_tokens
        return not _alive(self.pid)

    def describe(self) -> str:
        """"mai-bench run (pid 4242 on build-7), taken 12 s ago"."""
        who = self.owner or ("a lock folder without an owner file (a mai-bench stopped while taking it)"
                             if self.ownerless else "an unknown owner")
        where = ", ".join(filter(None, (f"pid {self.pid}" if self.pid is not None else None,
                                        f"on {self.host}" if self.host else None)))
        age = "at an unknown time" if self.age_s is None else f"{self.age_s:.0f} s ago"
        stale = ", its process is gone" if self.orphaned else f", stale after {self.stale_s:.0f} s" if self.stale \
            else ""
        return f"{who}{f' ({where})' if where else ''}, taken {age}{stale}"

    def to_dict(self) -> dict:
        return {"owner": self.owner, "host": self.host, "pid": self.pid, "time": self.time, "age_s": self.age_s,
                "stale_s": self.stale_s, "stale": self.stale, "orphaned": self.orphaned, "ownerless": self.ownerless}


@dataclass(frozen=True)
class Lock:
    """A lock this process holds on `device`; give it back with `release`."""

    device: Device = field(compare=False, repr=False)
    serial: str
    path: str
    owner: str
    host: str
    pid: int
    token: str
    stale_s: float
    machine: str = ""
    waited_s: float = 0.0
    broke: LockInfo | None = None  # the stale lock broken to take this one

    def _args(self) -> list[str]:
        return [self.path, self.owner, self.host, str(self.pid), self.token, f"{self.stale_s:g}", self.machine or "-"]

    def refresh(self, timeout: float = LOCK_TIMEOUT_S) -> bool:
        """Renew the lock's time on the device; False when it is no longer ours (broken as stale)."""
        result = self.device.shell(["sh", "-c", _REFRESH, "lock", *self._args()], timeout, check=True)
        return result.out.strip() == "refreshed"


def _clean(text: str) -> str:
    return _UNSAFE.sub(" ", text).strip() or "-"


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().lstrip("-").isdigit() else None


def parse_lock_state(text: str, default_stale_s: float = DEFAULT_STALE_S) -> LockInfo | None:
    """The holder described by the `held` answer of the device scripts; None when the answer says free.
    A lock without an owner file (its taker died between `mkdir` and writing it, or a release was cut short)
    ages from its folder's time and goes stale after OWNERLESS_STALE_S."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "held":
        return None
    values: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        if sep:
            values.setdefault(key.strip(), value.strip())
    try:
        stale_s = float(values.get("stale_s", ""))
    except ValueError:
        stale_s = default_stale_s if "token" in values else min(default_stale_s, OWNERLESS_STALE_S)
    taken = _int(values.get("time")) if "token" in values else _int(values.get("mtime"))
    machine = values.get("machine", "")
    return LockInfo(owner=values.get("owner"), host=values.get("host"), pid=_int(values.get("pid")),
                    token=values.get("token", ""), time=taken, now=_int(values.get("now")),
                    stale_s=stale_s if stale_s > 0 else default_stale_s, machine="" if machine == "-" else machine)


def read_lock(device: Device, *, path: str = LOCK_PATH, timeout: float = LOCK_TIMEOUT_S,
              default_stale_s: float = DEFAULT_STALE_S) -> LockInfo | None:
    """Who holds the device's lock, or None when nobody does. Raises LockUnusable when the lock's folder is not
    writable by the shell (no lock could be taken or given back)."""
    result = device.shell(["sh", "-c", _READ, "lock", path], timeout, check=True)
    _raise_error_answer(device, path, "use", result.out)
    return parse_lock_state(result.out, default_stale_s)


def _raise_error_answer(device: Device, path: str, what: str, answer: str) -> None:
    """Raise LockUnusable with the device's error text when a lock script answered `error`."""
    head, _, detail = answer.partition("\n")
    if head.strip() == "error":
        raise LockUnusable(device, path, what, detail)


def acquire(device: Device, owner: str, wait_s: float, *, stale_s: float = DEFAULT_STALE_S,
            path: str = LOCK_PATH, timeout: float = LOCK_TIMEOUT_S,
            sleep: Callable[[float], None] = time.sleep,
            on_wait: Callable[[LockInfo, float], None] | None = None) -> Lock:
    """Take the device's lock, waiting at most `wait_s` seconds while someone else holds it (0: do not wait).

    A lock older than its holder's `stale_s` is broken. Raises DeviceBusy when the wait is over, LockUnusable at
    once when the device cannot create, write or remove the lock (its own error and the fix), and DeviceError
    subclasses when the device does not answer. `on_wait(holder, waited_s)` is told each time the lock is found
    held. Every pass of the loop is bounded by the wait: past it, one more attempt right after breaking a stale
    lock (so that `wait_s=0` can still take over a dead holder's lock), then DeviceBusy.
    """
    if wait_s < 0 or stale_s <= 0:
        raise ValueError("wait_s must be >= 0 and stale_s > 0")
    mine = Lock(device, device.serial, path, _clean(owner), _clean(socket.gethostname()), os.getpid(),
                secrets.token_hex(8), stale_s, boot_id())
    start = time.monotonic()
    delay = POLL_FIRST_S
    broke: LockInfo | None = None
    holder: LockInfo | None = None
    late = False  # the one attempt allowed past the wait limit has been used
    while True:
        result = device.shell(["sh", "-c", _ACQUIRE, "lock", *mine._args()], timeout)
        answer = result.out
        head = answer.split("\n", 1)[0].strip()
        if result.ok and head == "acquired":
            with _held_guard:
                _held_tokens.add(mine.token)
            return replace(mine, waited_s=time.monotonic() - start, broke=broke)
        if result.ok:
            _raise_error_answer(device, path, "take", answer)
        waited = time.monotonic() - start
        if result.ok and head == "retry":  # released between our mkdir and our look: try again, within the wait
            if waited < wait_s or not late:
                late = waited >= wait_s
                continue
        else:
            holder = parse_lock_state(answer, stale_s) if result.ok else None
            if holder is None:
                raise DeviceError(f"cannot take the lock {path}: {(answer + result.err).strip() or 'no answer'}",
                                  "check that /data/local/tmp is writable (`adb shell touch /data/local/tmp/x`)",
                                  serial=device.serial, server=device.server, command=result.argv,
                                  exit_status=result.exit_code)
            if (holder.stale or holder.orphaned) and (waited < wait_s or not late):
                if _remove(device, path, holder.token, timeout):
                    broke = holder
                late = waited >= wait_s
                continue
        if waited >= wait_s:
            raise _busy(device, path, holder, waited)
        if on_wait is not None and holder is not None:
            on_wait(holder, waited)
        sleep(min(delay, max(0.0, wait_s - waited)))
        delay = min(delay * 2, POLL_MAX_S)


def _busy(device: Device, path: str, holder: LockInfo | None, waited: float) -> DeviceBusy:
    adb = f"adb {device.address.adb_flags()}-s {device.serial}"
    who = holder.describe() if holder is not None else "another mai-bench (it kept taking and releasing the lock)"
    return DeviceBusy(
        f"the device is in use by {who}; waited {waited:.0f} s",
        f"wait for it to finish, pick another device of the same profile, or raise the lock wait; if "
        f"that process is gone, the lock expires by itself, or remove it: `{adb} shell rm -r {path}`",
        holder=holder or LockInfo(None, None, None, "", None, None, DEFAULT_STALE_S),
        serial=device.serial, server=device.server)


def release(lock: Lock, timeout: float = LOCK_TIMEOUT_S) -> bool:
    """Give the lock back; False when it was no longer ours (someone broke it as stale). A release that cannot
    reach the device leaves an orphan that this process breaks when it next asks for the device."""
    with _held_guard:
        _held_tokens.discard(lock.token)
    return _remove(lock.device, lock.path, lock.token, timeout)


def _remove(device: Device, path: str, token: str, timeout: float) -> bool:
    """Remove the lock if it still carries `token`: True when removed, False when it is no longer that lock.
    Raises LockUnusable with the device's error when `rm` failed."""
    result = device.shell(["sh", "-c", _REMOVE, "lock", path, token], timeout, check=True)
    head, _, detail = result.out.partition("\n")
    if head.strip() == "failed":
        raise LockUnusable(device, path, "remove", detail)
    return head.strip() == "removed"


@contextmanager
def held(device: Device, owner: str, wait_s: float, *, stale_s: float = DEFAULT_STALE_S,
         heartbeat_s: float = HEARTBEAT_S, path: str = LOCK_PATH,
         on_wait: Callable[[LockInfo, float], None] | None = None,
         on_release_error: Callable[[DeviceError], None] | None = None) -> Iterator[Lock]:
    """Hold the device's lock for the `with` block, refreshing it every `heartbeat_s` (held back while a timed
    run is `quiet`) so a long run never looks stale. Leaving the block releases it; a device that is gone by then is no error (its lock expires).
    A release the device refused (LockUnusable: the next run cannot take the lock either) goes to
    `on_release_error`."""
    if heartbeat_s >= stale_s:
        raise ValueError("the heartbeat must come more often than the lock goes stale")
    lock = acquire(device, owner, wait_s, stale_s=stale_s, path=path, on_wait=on_wait)
    stop = threading.Event()

    def beat() -> None:
        due = time.monotonic() + heartbeat_s
        while not stop.wait(max(0.0, due - time.monotonic())):
            with _held_guard:
                hold = _quiet_until.get(lock.token, 0.0)
            if time.monotonic() < hold:  # a timed run: not now
                due = hold
                continue
            try:
                lock.refresh()
            except DeviceError:
                pass  # the run itself notices a lost device; the lock then expires by itself
            with _held_guard:
                if lock.token in _quiet_until:  # a run longer than the lock's expiry: the next one as late
                    _quiet_until[lock.token] = time.monotonic() + lock.stale_s - QUIET_MARGIN_S
            due = time.monotonic() + heartbeat_s

    heart = threading.Thread(target=beat, name=f"lock-heartbeat-{device.serial}", daemon=True)
    heart.start()
    try:
        yield lock
    finally:
        stop.set()
        heart.join()
        try:
            release(lock)
        except LockUnusable as error:
            if on_release_error is not None:
                on_release_error(error)
        except DeviceError:
            pass


@contextmanager
def quiet(lock: Lock) -> Iterator[None]:
    """Keep the holder's heartbeat off the device for the `with` block (a timed run): the lock is refreshed once
    now and then not until the block ends, or until QUIET_MARGIN_S before it would go stale, so a run shorter
    than the lock's expiry sees no refresh at all and a longer one keeps its lock with as few refreshes as can
    be. A refresh that fails now changes nothing: the heartbeat keeps its usual pace."""
    try:
        fresh = lock.refresh()
    except DeviceError:
        fresh = False
    if fresh:
        with _held_guard:
            _quiet_until[lock.token] = time.monotonic() + lock.stale_s - QUIET_MARGIN_S
    try:
        yield
    finally:
        with _held_guard:
            _quiet_until.pop(lock.token, None)
