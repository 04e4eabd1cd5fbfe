"""One card per detection on the alert page: what was observed, what was expected, and why it matters here.

The observed and expected sentences are the detector's own (written in human units by the detectors). When
the finding kept its measure (``details.measure``: what the detector compared), the card also states the
amount and how it compares in human units (:mod:`nhiwatch.alerts.units`): "18.7 MB", "1,407× the largest hour
before". The time is in the integration's own zone, UTC beside it. Why it matters is said against the integration's
declared purpose and the sensitivity of its data, from the inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nhiwatch.alerts.model import VALUE_KEYS, Alert
from nhiwatch.alerts.units import ratio
from nhiwatch.detectors.base import DetectorMeta, Finding
from nhiwatch.redact import redact
from nhiwatch.server.human import amount, span

# What each kind of deviation usually means when a machine identity shows it.
WHY = {
    "volume_spike": "moving far more than it ever has is how bulk theft through a trusted integration looks",
    "unticketed_burst": "planned bulk work comes with a change ticket; a burst without one is unplanned",
    "new_destination": "data sent to a host it never used is the way out for a stolen token (paste sites, "
    "webhooks, attacker storage)",
    "new_network": "the same credential used from a new network or client usually means a copy of it is in "
    "someone else's hands",
    "off_hours": "automation keeps to its schedule; work outside it is often a person driving its credential",
    "scope_expansion": "reaching objects, actions or scopes beyond its purpose widens what a stolen token can do",
    "fan_out": "touching many resources it never touched before in one hour is how worm-like abuse of a token "
    "spreads",
    "cadence_change": "a job that suddenly runs to another rhythm is driven by something other than its scheduler",
    "dormant_reactivation": "a credential that wakes after a long silence is one nobody watches, which is why "
    "attackers like it",
    "new_credential_then_anomaly": "a new credential followed by never-seen behaviour is the pattern of a "
    "planted backdoor",
    "consent_chain": "a person granting an app more than declared gives it access the inventory does not know of",
    "probing": "failures across many operations are someone testing what a stolen token can do",
}
# Deviations that are not part of any purpose, and those through which data leaves.
OUTSIDE_PURPOSE = {
    "new_destination",
    "new_network",
    "scope_expansion",
    "off_hours",
    "consent_chain",
    "fan_out",
}
EXFILTRATION = {
    "volume_spike",
    "unticketed_burst",
    "new_destination",
    "fan_out",
    "new_credential_then_anomaly",
}
SENSITIVITY = {
    "restricted": "restricted data: the most sensitive it holds",
    "confidential": "confidential data",
    "internal": "internal data",
    "public": "public data",
}


@dataclass
class Card:
    detector: str
    title: str
    when: str
    summary: str
    observed: str
    expected: str
    figure: str = ""  # the measured amount in human units, when the detector kept its measure
    ratios: list[str] = field(default_factory=list)
    new_values: list[str] = field(default_factory=list)
    why: str = ""
    deviation: float = 0.0


def _text(value: Any, limit: int = 400) -> str:
    return redact(str(value or "")).strip()[:limit]


def _measured(m: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(the measured amount, how it compares) from a finding's measure, or None when it is not one."""
    try:
        observed, bound, unit = float(m["observed"]), float(m["bound"]), str(m["unit"])
    except (KeyError, TypeError, ValueError):
        return None
    largest = m.get("largest")
    ratios = []
    if m.get("direction", "above") == "above":
        if isinstance(largest, int | float) and largest > 0:
            ratios.append(ratio(observed, float(largest), "the usual maximum"))
        if bound > 0:
            ratios.append(ratio(observed, bound, "the detector's bound"))
    return amount(observed, unit), ratios


def context(alert: Alert) -> str:
    """What the integration is for, the data it handles and whether anyone owns it: what every card's
    reason is read against (said once, above the cards)."""
    name = alert.integration_name or alert.integration_id
    purpose = (alert.purpose or "").strip().rstrip(".")
    parts = [f"{name} is declared for: {purpose}." if purpose else f"{name} has no declared purpose."]
    data = SENSITIVITY.get((alert.data_sensitivity or "").lower())
    if data:
        parts.append(f"It handles {data}.")
    if not alert.owner:
        parts.append("Nobody owns it, so nobody else will notice what it does.")
    return _text(" ".join(parts), 700)


def why_it_matters(alert: Alert, detector: str, meta: DetectorMeta | None) -> str:
    """The detection's meaning for this integration: what the deviation usually is, against its purpose."""
    reason = (
        WHY.get(detector) or (meta.description if meta else "") or "it is outside what this integration does"
    )
    reason = reason[0].upper() + reason[1:].rstrip(".") + "."
    if alert.purpose and detector in OUTSIDE_PURPOSE:
        reason += " Nothing in its declared purpose calls for it."
    sensitivity = (alert.data_sensitivity or "").lower()
    if sensitivity in ("restricted", "confidential") and detector in EXFILTRATION:
        reason += f" The data at stake is {sensitivity}."
    return _text(reason, 700)


def new_values(details: Mapping[str, Any]) -> list[str]:
    """The values a finding names as new: lists under the value keys, and ``{"new": [...]}`` per dimension."""
    out: list[str] = []
    for key, value in details.items():
        if isinstance(value, Mapping) and isinstance(value.get("new"), list):
            out += [str(v) for v in value["new"]]
        elif key in VALUE_KEYS and isinstance(value, list):
            out += [str(v) for v in value]
    return list(dict.fromkeys(out))


def cards(alert: Alert, findings: list[Finding], metas: dict[str, DetectorMeta], tz: str) -> list[Card]:
    out = []
    for f in sorted(findings, key=lambda f: (-f.deviation, f.first_seen)):
        meta = metas.get(f.detector)
        d = f.details
        headline = d.get("headline") if isinstance(d.get("headline"), str) else None
        figure, ratios = (_measured(d["measure"]) if isinstance(d.get("measure"), dict) else None) or ("", [])
        out.append(
            Card(
                detector=f.detector,
                title=_text(headline or (meta.title if meta else f.detector.replace("_", " ")), 200),
                when=span(f.first_seen, f.last_seen, tz),
                summary=_text(f.summary),
                observed=_text(f.observed),
                expected=_text(f.expected),
                figure=figure,
                ratios=ratios,
                new_values=[_text(v, 80) for v in new_values(d)[:8]],
                why=why_it_matters(alert, f.detector, meta),
                deviation=round(float(f.deviation), 2),
            )
        )
    return out
