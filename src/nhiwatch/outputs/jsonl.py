"""Alerts as JSON Lines: one self-contained object per alert, times in ISO 8601 UTC, secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from nhiwatch.alerts.model import Alert
from nhiwatch.redact import redact_value

FIELDS = (
    "alert_id",
    "kind",
    "status",
    "integration_id",
    "integration_name",
    "owner",
    "purpose",
    "risk_tier",
    "data_sensitivity",
    "detectors",
    "first_seen",
    "last_seen",
    "risk_score",
    "severity",
    "title",
    "explanation",
    "evidence",
    "references",
    "score_factors",
    "suppressed_by",
    "run_id",
    "created_at",
)


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alert_record(a: Alert) -> dict[str, Any]:
    """The alert as JSON-ready data, secrets masked (a store written before a rule existed may hold them)."""
    rec = {k: getattr(a, k) for k in FIELDS}
    for k in ("first_seen", "last_seen", "created_at"):
        rec[k] = iso(rec[k])
    return dict(redact_value(rec))


def to_jsonl(alerts: Iterable[Alert]) -> str:
    return "".join(orjson.dumps(alert_record(a)).decode() + "\n" for a in alerts)
