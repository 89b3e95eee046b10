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
)
# A failure that leaves the whole graph on the CPU, where no verdict line says otherwise.
_UNDONE = re.compile(r"Failed to apply|Could not create|Restored original execution plan"
                     r"|acceleration is unsupported on this platform")

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
                or "accelerat" in line.text]
    applications = tuple(a for a in (_application(line.text) for line in relevant) if a is not None)
    verdicts: list[tuple[str, str | None, int | None]] = []  # (verdict, delegate name, kernels)
    failure_lines: list[Line] = []
    undone = False
    accelerators: tuple[str, ...] = ()
    for line in relevant:
        text = line.text
        name_match = _VERDICT_NAME.search(text)
        name = name_match.group(1) if name_match else None
        partial = _PARTIAL.search(text)
        if _FULL.search(text):
            verdicts.append(("full", name, None))
        elif partial:
            verdicts.append(("partial", name, to_int(partial.group(1))))
        elif _NONE.search(text):
            verdicts.append(("none", name, None))
        if any(pattern.search(text) for pattern in _FAILURES):
            failure_lines.append(line)
            undone = undone or bool(_UNDONE.search(text))
        match = _ACCELERATORS.search(text)
        if match:
            accelerators = tuple(item.strip() for item in match.group(1).split(",") if item.strip())

    nodes_delegated, nodes_total = _node_counts(applications)
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
    return Delegation(applications=applications, names=tuple(dict.fromkeys(names)), verdict=verdict,
                      kernels=kernels, failed=bool(failure_lines), failure_lines=tuple(failure_lines),
                      error_lines=tuple(line for line in failure_lines if not _NONE.search(line.text)),
                      unsupported_ops=_unsupported_ops(lines), accelerators=accelerators,
                      nodes_delegated=nodes_delegated, nodes_total=nodes_total)
