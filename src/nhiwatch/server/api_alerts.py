"""``/api/v1/alerts``: list with filters, one alert with its evidence, triage (analyst), suppress (admin).

Triage calls :func:`nhiwatch.alerts.triage.triage`; suppression stores rules through
:func:`nhiwatch.alerts.suppress.add_rule` (one per detector of the alert, scoped to its integration) and
marks the alert suppressed now, so it leaves the queue without waiting for the next scoring run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from nhiwatch.alerts import tables
from nhiwatch.alerts.response import guidance
from nhiwatch.alerts.suppress import add_rule, make_rule
from nhiwatch.alerts.triage import triage, undo
from nhiwatch.errors import NotFoundError
from nhiwatch.outputs.sinks import spool
from nhiwatch.redact import redact, redact_value
from nhiwatch.server import queries
from nhiwatch.server.auth import Require
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal, now_utc
from nhiwatch.server.values import MAX_OFFSET, UtcTime, utc_time

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
StateDep = Annotated[ServerState, Depends(get_state)]


class TriageIn(BaseModel):
    verdict: Literal["benign", "malicious"]
    note: str = Field("", max_length=4000)


class SuppressIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    expires: UtcTime | None = None
    owner: str | None = Field(None, max_length=200)


@router.get("")
def list_alerts(
    state: StateDep,
    _: Annotated[Principal, Depends(Require("viewer"))],
    status: Annotated[str | None, Query(max_length=40)] = None,
    severity: Annotated[str | None, Query(max_length=40)] = None,
    integration: Annotated[str | None, Query(max_length=400)] = None,
    detector: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[UtcTime | None, Query()] = None,
    until: Annotated[UtcTime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Alerts, most severe first. Times are ISO 8601 (UTC when no offset is given), 1970 to 2200."""
    f = queries.AlertFilter(
        status,
        severity,
        integration,
        detector,
        kind,
        since,
        until,
        limit,
        offset,
    )
    with state.reader() as store:
        total, items = queries.list_alerts(store, f)
    return {"total": total, "limit": limit, "offset": offset, "alerts": items}


@router.get("/{alert_id}")
def get_alert(
    alert_id: str, state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]
) -> dict[str, Any]:
    """One alert with its explanation, references, triage history and evidence events (redacted)."""
    with state.reader() as store:
        out = queries.get_alert(store, alert_id)
        out["evidence_events"] = queries.evidence_events(store, list(out["evidence"]))
        out["response"] = redact_value(
            guidance(store, tables.load_alerts(store, "alert_id = ?", [alert_id])[0]).as_dict()
        )
        out["deliveries"] = spool.for_alert(store, alert_id)
    return out


@router.get("/{alert_id}/deliveries")
def alert_deliveries(
    alert_id: str, state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]
) -> dict[str, Any]:
    """Where the alert was delivered: per sink and update, status, attempts, last error (redacted)."""
    with state.reader() as store:
        queries.get_alert(store, alert_id)  # 404 for an unknown alert
        return {"alert_id": alert_id, "deliveries": spool.for_alert(store, alert_id)}


@router.post("/{alert_id}/triage/undo")
def undo_triage(
    alert_id: str, state: StateDep, who: Annotated[Principal, Depends(Require("analyst"))]
) -> dict[str, Any]:
    """Take the alert's last verdict back (its status returns; a benign verdict's allowances are removed)."""
    with state.db() as store:
        queries.get_alert(store, alert_id)  # 404 for an unknown alert
        out = undo(store, alert_id, analyst=who.name, now=now_utc())
    return {"alert_id": out.alert_id, "previous_status": out.previous_status, "effect": out.effect}


@router.post("/{alert_id}/triage")
def triage_alert(
    alert_id: str,
    body: TriageIn,
    state: StateDep,
    who: Annotated[Principal, Depends(Require("analyst"))],
) -> dict[str, Any]:
    """Record a verdict; benign teaches the alert stage that this behaviour is fine for the integration."""
    with state.db() as store:
        out = triage(store, alert_id, body.verdict, note=body.note, analyst=who.name, now=now_utc())
    state.metrics.inc("triage_verdicts")
    return {
        "alert_id": out.alert_id,
        "verdict": out.verdict,
        "previous_status": out.previous_status,
        "effect": out.effect,
    }


def suppress_alert(
    state: ServerState, alert_id: str, reason: str, expires: datetime | None, owner: str, by: str
) -> dict[str, Any]:
    """Shared by the API and the console: rules for the alert's detectors, then the alert marked."""
    now = now_utc()
    with state.db() as store:
        row = store.fetchone(
            "SELECT integration_id, detectors, status FROM alerts WHERE alert_id = ?", [alert_id]
        ) if store.table_exists("alerts") else None  # fmt: skip
        if row is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        integration_id, detectors, previous = row[0], list(row[1] or []), row[2]
        exp = utc_time(expires) if expires else None
        rules = []
        for det in detectors or [None]:
            rule = make_rule(
                integration_id=integration_id, detector=det, reason=reason, owner=owner, expires=exp
            )
            add_rule(store, rule, now=now, by=by)
            rules.append(rule.rule_id)
        store.execute(
            "UPDATE alerts SET status = 'suppressed', suppressed_by = ?, updated_at = ? WHERE alert_id = ?",
            [",".join(rules), now, alert_id],
        )
        store.insert_rows(
            "triage_log",
            ["triaged_at", "analyst", "alert_id", "verdict", "previous_status", "note", "effect"],
            [
                (
                    now,
                    by,
                    alert_id,
                    "suppressed",
                    previous,
                    redact(reason),
                    "suppression rule(s) " + ", ".join(rules),
                )
            ],
        )
    return {"alert_id": alert_id, "status": "suppressed", "rules": rules, "expires": exp}


@router.post("/{alert_id}/suppress")
def suppress(
    alert_id: str,
    body: SuppressIn,
    state: StateDep,
    who: Annotated[Principal, Depends(Require("admin"))],
) -> dict[str, Any]:
    """Suppress the alert's behaviour for its integration (a rule per detector, with reason and expiry)."""
    return suppress_alert(state, alert_id, body.reason, body.expires, body.owner or who.name, who.name)
