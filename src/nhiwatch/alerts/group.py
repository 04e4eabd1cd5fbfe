"""Grouping findings into episodes: one alert per integration per burst of related findings.

Behaviour findings of one integration whose time spans lie within ``gap`` of each other belong to one
episode (the chain is transitive: A near B near C is one episode). Posture findings describe a standing
condition rather than a moment, so they are grouped per integration and detector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from nhiwatch.detectors.base import Finding


def group_findings(findings: Iterable[Finding], gap: timedelta) -> list[list[Finding]]:
    """Episodes, each a list of findings sorted by first evidence; episodes ordered by start time."""
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        key = (f.integration_id, f.detector) if f.kind == "posture" else (f.integration_id, "")
        by_key[key].append(f)
    groups: list[list[Finding]] = []
    for (_, detector), items in by_key.items():
        items.sort(key=lambda f: (f.first_seen, f.last_seen, f.detector))
        if detector:  # posture: one group
            groups.append(items)
            continue
        groups.extend(_chain(items, gap))
    groups.sort(key=lambda g: (g[0].first_seen, g[0].integration_id))
    return groups


def _chain(items: Sequence[Finding], gap: timedelta) -> list[list[Finding]]:
    out: list[list[Finding]] = []
    current: list[Finding] = []
    end = None
    for f in items:
        if current and end is not None and f.first_seen <= end + gap:
            current.append(f)
            end = max(end, f.last_seen)
        else:
            if current:
                out.append(current)
            current, end = [f], f.last_seen
    if current:
        out.append(current)
    return out
