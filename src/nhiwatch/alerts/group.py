"""Grouping findings into episodes: one alert per integration per burst of related findings.

Behaviour findings of one integration whose time spans lie within ``gap`` of each other belong to one
episode (the chain is transitive: A near B near C is one episode). Posture findings describe a standing
condition rather than a moment, so they are grouped per integration and detector.

Vendor changes (``details.change == "vendor_change"``: a vendor's new SDK or addresses, behaviour
unchanged) are grouped per vendor instead: one alert names every integration the change reached in the
same stretch of time. A vendor-change finding stays with its own integration when that integration has
other behaviour findings within ``gap`` of it, so it can only add to, never dilute, an episode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from nhiwatch.alerts.units import plural
from nhiwatch.detectors.base import Finding

VENDOR_CHANGE = "vendor_change"
# a vendor's staged rollout reaches its integrations region by region over days (each scored in its own
# daily step): one alert while each next integration follows within three days of the last
VENDOR_GAP = timedelta(hours=72)


def is_vendor_change(f: Finding) -> bool:
    return f.kind == "behaviour" and f.details.get("change") == VENDOR_CHANGE


def group_findings(findings: Iterable[Finding], gap: timedelta) -> list[list[Finding]]:
    """Episodes, each a list of findings sorted by first evidence; episodes ordered by start time."""
    findings = list(findings)
    by_vendor = _vendor_changes(findings, gap)
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    taken = {id(f) for items in by_vendor.values() for f in items}
    for f in findings:
        if id(f) in taken:
            continue
        key = (f.integration_id, f.detector) if f.kind == "posture" else (f.integration_id, "")
        by_key[key].append(f)
    groups: list[list[Finding]] = []
    for items in by_vendor.values():
        items.sort(key=lambda f: (f.first_seen, f.last_seen, f.integration_id))
        groups.extend(_chain(items, max(gap, VENDOR_GAP)))
    for (_, detector), items in by_key.items():
        items.sort(key=lambda f: (f.first_seen, f.last_seen, f.detector))
        if detector:  # posture: one group
            groups.append(items)
            continue
        groups.extend(_chain(items, gap))
    groups.sort(key=lambda g: (g[0].first_seen, g[0].integration_id))
    return groups


def vendor_title(group: Sequence[Finding]) -> str | None:
    """The title of a vendor-change alert ("Vendor change at Zapier: 5 integrations (zap-1, ...)"), or None."""
    if not group or not all(is_vendor_change(f) for f in group):
        return None
    integs = sorted({f.integration_id for f in group})
    vendor = next((str(f.details["vendor"]) for f in group if f.details.get("vendor")), "an unknown vendor")
    names = ", ".join(integs[:5]) + (f" and {len(integs) - 5} more" if len(integs) > 5 else "")
    return f"Vendor change at {vendor}: {plural(len(integs), 'integration')} ({names}), behaviour unchanged"


def _vendor_changes(findings: list[Finding], gap: timedelta) -> dict[str, list[Finding]]:
    """Vendor-change findings by vendor, leaving out those whose integration has other behaviour nearby."""
    others: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind == "behaviour" and not is_vendor_change(f):
            others[f.integration_id].append(f)
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if not is_vendor_change(f):
            continue
        near = any(
            o.first_seen <= f.last_seen + gap and f.first_seen <= o.last_seen + gap
            for o in others[f.integration_id]
        )
        if not near:
            vendor = str(f.details.get("vendor") or "").strip().lower()
            out[f"vendor:{vendor}" if vendor else f"integration:{f.integration_id}"].append(f)
    return out


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
