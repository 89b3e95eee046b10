"""What a benchmark_model binary made of the flags it was given: the ones it ignored, the threads it used.

benchmark_model warns `Unconsumed cmdline flags: ...` about a flag it does not know and runs anyway, without it.
A setting carried by such a flag was not applied: it is never reported as applied, and a run whose binary
ignored the delegate or the precision flag measured another configuration than the one asked for.
"""

from __future__ import annotations

from mai_bench.parse.params import flag_name
from mai_bench.plan import DECISIVE_SETTINGS, DEFAULT_CPU_THREADS, FLAG_SETTINGS

FIX = "use a benchmark_model build that knows the flag (the nightly one: drop --benchmark-binary)"


def setting_of(flag: str) -> str | None:
    """The setting an ignored argv item carried (`--use_gpu=true` -> "delegate"), or None when it is no known flag."""
    return FLAG_SETTINGS.get(flag_name(flag))


def decisive_ignored(ignored_flags: tuple[str, ...]) -> tuple[str, ...]:
    """The ignored flags that carried the delegate or the precision."""
    return tuple(flag for flag in ignored_flags if setting_of(flag) in DECISIVE_SETTINGS)


def effective_threads(requested: int | None, echoed: int | None, ignored_flags: tuple[str, ...]) -> int:
    """The CPU threads the run's kernels used: the default when the binary ignored --num_threads; else the count
    it echoed; else the one asked for; else the default."""
    if any(setting_of(flag) == "threads" for flag in ignored_flags):
        return DEFAULT_CPU_THREADS
    if echoed is not None and echoed >= 1:
        return echoed
    if requested is not None and requested >= 1:
        return requested
    return DEFAULT_CPU_THREADS


def ignored_flag_warnings(ignored_flags: tuple[str, ...]) -> list[str]:
    """One warning per ignored flag: what it carried, that it was not applied, and the fix."""
    notes = []
    for flag in ignored_flags:
        setting = setting_of(flag)
        if setting is None:
            notes.append(f"benchmark_model ignored {flag!r} (\"Unconsumed cmdline flags\") and ran without it")
            continue
        note = f"benchmark_model ignored {flag!r} (\"Unconsumed cmdline flags\"): the {setting} setting was not applied"
        if setting in DECISIVE_SETTINGS:
            note += "; these numbers are not those of the configuration asked for (status flag-ignored)"
        elif setting == "threads":
            note += f"; the CPU kernels ran on the default {DEFAULT_CPU_THREADS} thread"
        notes.append(f"{note}; {FIX}")
    return notes
