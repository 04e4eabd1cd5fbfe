"""The alert record, and the stable identities of findings and alerts.

A finding's *signature* is what makes two findings "the same behaviour": its detector plus the new
values it reports (a destination, an IP, a scope ...) when it reports any, else the metric it measured.
Benign verdicts and suppression rules are matched against signatures, never against free text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nhiwatch.detectors.base import Finding

Status = Literal["open", "benign", "malicious", "suppressed"]
STATUSES: tuple[str, ...] = ("open", "benign", "malicious", "suppressed")

# details keys whose values name *what* was new or unusual (checked in this order)
VALUE_KEYS = (
    "new_values",
    "new_value",
    "values",
    "value",
    "destinations",
    "destination",
    "hosts",
    "host",
    "ips",
    "ip",
    "asns",
    "asn",
    "user_agents",
    "user_agent",
    "scopes",
    "scope",
    "resources",
    "resource",
    "objects",
    "object",
    "operations",
    "operation",
    "tenants",
    "tenant",
)
METRIC_KEYS = ("metric", "feature", "measure", "action_class", "field")


def _digest(*parts: object, n: int = 16) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:n]


def _as_values(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list | tuple | set | frozenset):
        return sorted(str(x) for x in v)
    if isinstance(v, Mapping):
        return sorted(str(k) for k in v)
    return [str(v)]


def new_values(details: Mapping[str, Any]) -> list[str]:
    """The values a finding reports as new or unusual (empty for pure magnitude findings)."""
    for key in VALUE_KEYS:
        if key in details and _as_values(details[key]):
            return _as_values(details[key])
    return []


def signature(f: Finding) -> str:
    """``detector|kind-of-deviation``: the new values if any, else ``metric=<name>``, else ``magnitude``."""
    values = new_values(f.details)
    if values:
        return f"{f.detector}|values=" + ",".join(values)
    for key in METRIC_KEYS:
        if f.details.get(key):
            return f"{f.detector}|{key}={f.details[key]}"
    return f"{f.detector}|magnitude"


def finding_id(f: Finding) -> str:
    """Stable: the same detector, integration, first evidence time and signature give the same id."""
    return "fi-" + _digest(f.detector, f.integration_id, f.first_seen.isoformat(), signature(f))


def alert_id(
    kind: str,
    integration_id: str,
    first_seen: datetime,
    detectors: tuple[str, ...] = (),
    *,
    suppressed: bool = False,
) -> str:
    """Stable across re-runs over the same data. Posture alerts are keyed by detector, not by time;
    what a rule suppresses is kept apart from what still alerts in the same episode."""
    tag = "suppressed:" if suppressed else ""
    if kind == "posture":
        return "al-" + _digest(tag + "posture", integration_id, *detectors, n=12)
    return "al-" + _digest(tag + "behaviour", integration_id, first_seen.isoformat(), n=12)


@dataclass
class Alert:
    alert_id: str
    kind: str
    integration_id: str
    integration_name: str
    owner: str | None
    purpose: str | None
    risk_tier: str | None
    data_sensitivity: str | None
    detectors: list[str]
    first_seen: datetime
    last_seen: datetime
    risk_score: int
    severity: str
    title: str
    explanation: str
    evidence: list[str]
    references: dict[str, Any]
    finding_ids: list[str]
    score_factors: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    suppressed_by: str | None = None
    run_id: str | None = None
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
