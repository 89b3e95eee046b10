"""Delegate lines: partitioning, the fallback verdict, failures, unsupported ops, NNAPI accelerators."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mai_bench.parse.lines import Line
from mai_bench.parse.numeric import INTEGER, to_int
from mai_bench.parse.run import DelegateApplication

_NAME = r"\((.{1,200}?)\) node"
_PARTITIONS = r",? yielding (" + INTEGER + r") partitions?"
_SUBGRAPH = r"(?: for (?:subgraph (" + INTEGER + r")|the whole graph))?"
_REPLACING_OF = re.compile(r"Replacing (" + INTEGER + r") out of (" + INTEGER + r") node\(s\) with delegate "
                           + _NAME + _PARTITIONS + _SUBGRAPH)
_REPLACING = re.compile(r"Replacing (" + INTEGER + r") node\(s\) with delegate " + _NAME + _PARTITIONS + _SUBGRAPH)
# (?<!\S): try the name only from the start of a word, or a long word costs quadratic backtracking.
_HEXAGON = re.compile(r"(?<!\S)(\S{1,200}) delegate: (" + INTEGER + r") nodes delegated out of (" + INTEGER
                      + r") nodes(?: with (" + INTEGER + r") partitions?)?")

_FULL = re.compile(r"will be completely executed")
_PARTIAL = re.compile(r"will be partially executed(?: by the delegate)?(?: w/ (" + INTEGER + r") delegate kernels)?")
_NONE = re.compile(r"will not be executed by the delegate")
_VERDICT_NAME = re.compile(r"(?:Explicitly applied|Applied|Though) (\S{1,80}?) delegate\b")
_RANK = {"none": 0, "partial": 1, "full": 2}

_FAILURES = (
    re.compile(r"Could not create .{0,200}?delegate"),
    re.compile(r"Failed to apply .{0,200}?delegate"),
    _NONE,
    re.compile(r"Disallowed CPU fallback detected"),
    # benchmark_model's own words when it cannot make the GPU delegate on this platform (it then runs on the CPU)
    re.compile(r"GPU acceleration is unsupported on this platform"),
    re.compile(r"Restored original execution plan after delegate application failure"),
    re.compile(r"Node number " + INTEGER + r" \(\S*Delegate\S*\) failed to prepare"),
    # The GPU delegate's OpenCL kernels did not compile (an old or broken driver): the delegate is not applied.
    re.compile(r"Failed to build program executable"),
)
# A failure that leaves the whole graph on the CPU, where no verdict line says otherwise.
_UNDONE = re.compile(r"Failed to apply|Could not create|Restored original execution plan"
                     r"|acceleration is unsupported on this platform|Failed to build program executable")
# Which delegate a failure line is about, from the words it uses; "" when it names none.
_KEYS = (("gpu", re.compile(r"GPU|Gpu|OpenCL|Failed to build program executable")),
         ("nnapi", re.compile(r"NNAPI|Nnapi|NN API")),
         ("hexagon", re.compile(r"Hexagon")),
         ("xnnpack", re.compile(r"XNNPACK|XNNPack")))

_UNSUPPORTED = re.compile(r"(?:Following|Next) operations are not supported by .{1,80}? delegate")
_OP = re.compile(r"([A-Z][A-Z0-9_]*(?: [^:\s]{1,200})?):(?:\s|$)")
_ACCELERATORS = re.compile(r"NNAPI accelerators available:\s*\[([^\]]*)\]")


@dataclass(frozen=True)
class Delegation:
    applications: tuple[DelegateApplication, ...]
    names: tuple[str, ...]
    verdict: str | None
    kernels: int | None
    failed: bool
    failure_lines: tuple[Line, ...]
    error_lines: tuple[Line, ...]  # the failure lines that are errors, not just a "none" verdict
    unsupported_ops: tuple[str, ...]
    accelerators: tuple[str, ...]
    nodes_delegated: int | None
    nodes_total: int | None
    failed_keys: tuple[str, ...]  # the delegates the failures name ("gpu", "nnapi", ...; "" for none named)


def delegate_key(text: str) -> str:
    """Which delegate a name or a line is about: "gpu", "nnapi", "hexagon", "xnnpack", or "" for none of these."""
    return next((key for key, pattern in _KEYS if pattern.search(text)), "")


def _application(text: str) -> DelegateApplication | None:
    match = _REPLACING_OF.search(text)
    if match:
        replaced, total, name, partitions, subgraph = match.groups()
    else:
        match = _REPLACING.search(text)
        if match:
            replaced, name, partitions, subgraph = match.groups()
            total = None
        else:
            match = _HEXAGON.search(text)
            if not match:
                return None
            name, replaced, total, partitions = match.groups()
            subgraph = None
    replaced_n, total_n = to_int(replaced), to_int(total)
    if replaced_n is None or (total_n is not None and replaced_n > total_n) or not name.strip():
        return None  # a damaged line: no trustworthy numbers
    return DelegateApplication(name=name.strip(), nodes_replaced=replaced_n, nodes_total=total_n,
                               partitions=to_int(partitions), subgraph=to_int(subgraph))


def _node_counts(applications: tuple[DelegateApplication, ...]) -> tuple[int | None, int | None]:
    """N/M over the original graph: the first application on each subgraph saw it whole; later ones
    (a second delegate) only see what the first left."""
    first: dict[int | None, DelegateApplication] = {}
    for application in applications:
        first.setdefault(application.subgraph, application)
    if not first:
        return None, None
    delegated = sum(a.nodes_replaced for a in first.values())
    totals = [a.nodes_total for a in first.values()]
    return delegated, (None if None in totals else sum(totals))


def _unsupported_ops(lines: tuple[Line, ...]) -> tuple[str, ...]:
    ops: list[str] = []
    listing = False
    for line in lines:
        if _UNSUPPORTED.search(line.text):
            listing = True
            continue
        if listing:
            match = _OP.match(line.text)
            if match:
                if match.group(1) not in ops:
                    ops.append(match.group(1))
            elif line.text:
                listing = False  # "63 operations will run on the GPU, ..." ends the list
    return tuple(ops)


def read_delegation(lines: tuple[Line, ...]) -> Delegation:
    """Everything the log says about delegates, in the order it says it."""
    # Every line below names a delegate, a fallback or the accelerators; a substring test first keeps
    # the patterns (some with bounded backtracking) off the bulk of a long log.
    relevant = [line for line in lines if "elegate" in line.text or "fallback" in line.text
                or "accelerat" in line.text or "program executable" in line.text]
    applications: list[DelegateApplication] = []
    verdicts: list[tuple[str, str | None, int | None]] = []  # (verdict, delegate name, kernels)
    applied_at: dict[str, int] = {}  # delegate key -> last line saying it runs (part of) the graph
    failures: list[tuple[Line, str, bool]] = []  # (line, delegate key or "", whether it leaves all on the CPU)
    zero_lines: set[Line] = set()
    accelerators: tuple[str, ...] = ()
    for line in relevant:
        text = line.text
        application = _application(text)
        if application is not None:
            applications.append(application)
            if application.nodes_replaced == 0:
                # A delegate that took none of the nodes it was offered failed, whatever follows (or is cut).
                failures.append((line, delegate_key(application.name), True))
                zero_lines.add(line)
        name_match = _VERDICT_NAME.search(text)
        name = name_match.group(1) if name_match else None
        partial = _PARTIAL.search(text)
        if _FULL.search(text):
            verdicts.append(("full", name, None))
        elif partial:
            verdicts.append(("partial", name, to_int(partial.group(1))))
        elif _NONE.search(text):
            verdicts.append(("none", name, None))
        if name and (_FULL.search(text) or partial):
            applied_at[delegate_key(name)] = line.index
        if any(pattern.search(text) for pattern in _FAILURES):
            # "Restored original execution plan ..." names no delegate: it is about the one that just failed.
            key = delegate_key(text) or (failures[-1][1] if failures else "")
            failures.append((line, key, bool(_UNDONE.search(text))))
        match = _ACCELERATORS.search(text)
        if match:
            accelerators = tuple(item.strip() for item in match.group(1).split(",") if item.strip())
    # A delegate that later says it runs the graph recovered (the GPU delegate retries OpenGL when its OpenCL
    # programs do not build): its earlier failure lines are not its outcome.
    failures = [f for f in failures if not (f[1] and applied_at.get(f[1], -1) > f[0].index)]
    failure_lines = [line for line, _, _ in failures]
    failed_keys = [key for _, key, _ in failures]
    undone = any(leaves_cpu for _, _, leaves_cpu in failures)

    nodes_delegated, nodes_total = _node_counts(tuple(applications))
    if verdicts:
        # With two delegates the graph falls back to the CPU only as far as the best of them leaves it.
        verdict, _, _ = max(verdicts, key=lambda v: _RANK[v[0]])
        kernels = next((k for v, _, k in verdicts if v == verdict and k is not None), None)
    else:
        kernels = None
        if undone:
            verdict = "none"
        elif nodes_delegated is not None and nodes_total:
            verdict = "full" if nodes_delegated == nodes_total else "partial" if nodes_delegated else "none"
        else:
            verdict = None
    names = [a.name for a in applications]
    if not names:  # no partition line: fall back to the names the verdict lines give
        names = [name for v, name, _ in verdicts if name and v != "none"]
    return Delegation(applications=tuple(applications), names=tuple(dict.fromkeys(names)), verdict=verdict,
                      kernels=kernels, failed=bool(failure_lines), failure_lines=tuple(failure_lines),
                      error_lines=tuple(line for line in failure_lines
                                        if not _NONE.search(line.text) and line not in zero_lines),
                      unsupported_ops=_unsupported_ops(lines), accelerators=accelerators,
                      nodes_delegated=nodes_delegated, nodes_total=nodes_total,
                      failed_keys=tuple(dict.fromkeys(failed_keys)))
