"""Why false alerts fire: each false behaviour alert attributed to a cause, so a user sees where they come from.

With labelled (simulated) data the cause is the benign irregularity the alert overlaps: a label on the
alert's integration whose window meets the alert's evidence span (widened by the matching slack). Several
labels can overlap; the most specific wins — an outage over a vendor change over a calendar day over an
on-demand burst — because an outage or a vendor change explains a day's oddity better than the day's
place in the month does. Data without labels falls back to the alert's own context (a ``cause`` field,
written by the detectors that know about fleet events, vendor changes or calendars); an alert that says
nothing is ``other``.

>>> from datetime import datetime, timedelta
>>> t = datetime(2026, 12, 11, 17)
>>> lab = [BenignLabel("outage", "vendor_outage", t, t + timedelta(hours=3), frozenset({"a"}))]
>>> attribute(Span("a", t, t + timedelta(hours=1)), lab, timedelta(minutes=30))
('outage', 'vendor_outage')
>>> attribute(Span("b", t, t, cause="holiday"), lab, timedelta(minutes=30))
('other', '')
>>> attribute(Span("b", t, t, cause="holiday"), [], timedelta(minutes=30))
('calendar', 'holiday')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from nhiwatch.evaluate.metrics import Span
from nhiwatch.evaluate.truth import BenignLabel

CAUSES = ("outage", "calendar", "vendor_change", "on_demand", "other")
_PRIORITY = {c: i for i, c in enumerate(("outage", "vendor_change", "calendar", "on_demand", "other"))}
ALIASES = {
    "outage": "outage",
    "vendor_outage": "outage",
    "fleet": "outage",
    "fleet_event": "outage",
    "fleet_outage": "outage",
    "catch_up": "outage",
    "calendar": "calendar",
    "holiday": "calendar",
    "backlog": "calendar",
    "month_end": "calendar",
    "quarter_end": "calendar",
    "year_end": "calendar",
    "business_event": "calendar",
    "vendor_change": "vendor_change",
    "sdk_upgrade": "vendor_change",
    "network_move": "vendor_change",
    "user_agent_change": "vendor_change",
    "on_demand": "on_demand",
}


def normalise(cause: str) -> tuple[str, str]:
    """(cause bucket, detail) for a cause name as a label or an alert writes it."""
    key = cause.strip().lower().replace("-", "_").replace(" ", "_")
    bucket = ALIASES.get(key, "other")
    return bucket, "" if key == bucket else key


def _cause_in(value: Any) -> str:
    """A cause named in a context value: a string, ``{"cause": ...}``, or a list of such mappings."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = value.get("cause") or value.get("kind")
        return inner if isinstance(inner, str) else ""
    if isinstance(value, list):
        for v in value:
            found = _cause_in(v) if isinstance(v, Mapping) else ""
            if found:
                return found
    return ""


def alert_cause(alert: Mapping[str, Any]) -> str:
    """The cause an alert carries in its own context, or ``""``: its ``cause`` field, a ``context`` (or
    ``fleet_event``) mapping, the same inside ``score_factors`` or ``references``, or its kind/detectors
    naming a vendor change. Tolerates every field being absent or of another type."""
    for holder in (alert, alert.get("score_factors"), alert.get("references")):
        if not isinstance(holder, Mapping):
            continue
        for key in ("cause", "context"):
            found = _cause_in(holder.get(key))
            if found:
                return found
        if holder.get("fleet_event"):  # context naming the fleet event it belongs to: an outage
            return _cause_in(holder["fleet_event"]) or "outage"
    if alert.get("kind") == "vendor_change":
        return "vendor_change"
    detectors = alert.get("detectors")
    if (
        isinstance(detectors, list)
        and detectors
        and all(str(d).startswith("vendor_change") for d in detectors)
    ):
        return "vendor_change"
    return ""


def attribute(span: Span, labels: Sequence[BenignLabel], slack: timedelta) -> tuple[str, str]:
    """(cause, detail) of one false alert: from ``labels`` when there are any, else from its own context."""
    if not labels:
        return normalise(span.cause) if span.cause else ("other", "")
    best: tuple[str, str] | None = None
    for lab in labels:
        if span.integration_id not in lab.integrations:
            continue
        if span.first <= lab.end + slack and span.last >= lab.start - slack:
            bucket = lab.cause if lab.cause in _PRIORITY else "other"
            if best is None or _PRIORITY[bucket] < _PRIORITY[best[0]]:
                best = (bucket, lab.detail)
    return best or ("other", "")


def by_cause(
    false_alerts: Sequence[Span], labels: Sequence[BenignLabel], slack: timedelta
) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """False alerts counted per cause, and per (cause, detail)."""
    causes: Counter[str] = Counter()
    details: Counter[tuple[str, str]] = Counter()
    for s in false_alerts:
        cause, detail = attribute(s, labels, slack)
        causes[cause] += 1
        details[(cause, detail)] += 1
    return causes, details


__all__ = ["ALIASES", "CAUSES", "alert_cause", "attribute", "by_cause", "normalise"]
