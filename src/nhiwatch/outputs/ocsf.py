"""Alerts as OCSF Detection Findings (class 2004, schema 1.3.0).

Each alert becomes one finding: ``finding_info`` carries the title, the explanation, the detectors as
the analytic and the evidence count and time span; ``attacks`` the ATT&CK techniques; ``resources`` the
integration; ``evidences`` the evidence events (their ``metadata_uid``, with API, actor and source
endpoint when the events are passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from nhiwatch import __version__
from nhiwatch.alerts.model import Alert
from nhiwatch.redact import redact_value

OCSF_VERSION = "1.3.0"
SEVERITY_ID = {"low": 2, "medium": 3, "high": 4, "critical": 5}
STATUS_ID = {
    "open": (1, "New"),
    "malicious": (2, "In Progress"),
    "suppressed": (3, "Suppressed"),
    "benign": (4, "Resolved"),
}


def _ms(t: datetime) -> int:
    return int(t.replace(tzinfo=UTC).timestamp() * 1000)


def _evidence(uid: str, event: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"data": {"metadata_uid": uid}}
    if event:
        out["data"].update({k: str(v) for k, v in event.items() if v is not None and k != "metadata_uid"})
        if event.get("api_operation"):
            out["api"] = {"operation": event["api_operation"]}
        if event.get("src_endpoint_ip"):
            out["src_endpoint"] = {"ip": event["src_endpoint_ip"]}
        if event.get("actor_user_name") or event.get("actor_app_name"):
            out["actor"] = {
                "user": {"name": event.get("actor_user_name")},
                "app_name": event.get("actor_app_name"),
            }
    return out


def detection_finding(a: Alert, events: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The alert as an OCSF Detection Finding, secrets in any of its texts or evidence events masked."""
    return dict(redact_value(_finding(a, events)))


def _finding(a: Alert, events: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    status_id, status = STATUS_ID.get(a.status, (99, a.status))
    created = a.created_at or a.last_seen
    return {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": _ms(created),
        "severity_id": SEVERITY_ID.get(a.severity, 0),
        "severity": a.severity.capitalize(),
        "status_id": status_id,
        "status": status,
        "status_detail": a.status,
        "risk_score": a.risk_score,
        "message": a.title,
        "finding_info": {
            "uid": a.alert_id,
            "title": a.title,
            "desc": a.explanation,
            "types": [a.kind, *a.detectors],
            "analytic": {
                "name": " + ".join(a.detectors),
                "uid": ",".join(a.detectors),
                "type_id": 2 if a.kind == "behaviour" else 1,
                "type": "Behavioral" if a.kind == "behaviour" else "Rule",
            },
            "related_events_count": len(a.evidence),
            "first_seen_time": _ms(a.first_seen),
            "last_seen_time": _ms(a.last_seen),
            "created_time": _ms(created),
        },
        "attacks": [
            {"technique": {"uid": t["id"], "name": t["name"], "src_url": t.get("url")}, "version": "17"}
            for t in a.references.get("attack", [])
        ],
        "evidences": [_evidence(u, (events or {}).get(u)) for u in a.evidence] or [{"data": {}}],
        "resources": [
            {
                "uid": a.integration_id,
                "name": a.integration_name,
                "type": "Integration",
                "owner": {"name": a.owner} if a.owner else None,
                "labels": [f"risk_tier:{a.risk_tier}", f"data_sensitivity:{a.data_sensitivity}"],
            }
        ],
        "metadata": {
            "version": OCSF_VERSION,
            "uid": a.alert_id,
            "product": {"name": "nhiwatch", "vendor_name": "nhiwatch project", "version": __version__},
        },
        "unmapped": {
            "owasp_nhi": a.references.get("owasp_nhi", []),
            "nist_csf": a.references.get("nist_csf", []),
            "purpose": a.purpose,
            "score_factors": a.score_factors,
        },
    }


def to_ocsf(alerts: Iterable[Alert], events: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """One Detection Finding per line (JSON Lines)."""
    return "".join(orjson.dumps(detection_finding(a, events)).decode() + "\n" for a in alerts)


def evidence_events(store: Any, alerts: Iterable[Alert]) -> dict[str, dict[str, Any]]:
    """The evidence events of ``alerts`` from the store, keyed by ``metadata_uid`` (for richer evidences)."""
    uids = sorted({u for a in alerts for u in a.evidence})
    if not uids:
        return {}
    rows = store.records(
        "SELECT metadata_uid, time, source, api_operation, action_class, status, actor_user_name, "
        "actor_app_name, "
        "src_endpoint_ip, resource_name, dst_endpoint_hostname, records FROM events "
        "WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[]))",
        [uids],
    )
    return {r["metadata_uid"]: r for r in rows}
