"""Reads the API, the console and the CLI share: alerts with filters, evidence events, the integration
inventory and its gaps, the quarantine.

Everything that leaves the server passes :func:`nhiwatch.redact.redact_value` here, so a secret that
reached a title, an explanation, a reference or an evidence event is masked in JSON and HTML alike.
Alerts are loaded through the alert stage's own :func:`nhiwatch.alerts.tables.load_alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import STATUSES
from nhiwatch.errors import ConfigError, NotFoundError
from nhiwatch.evidence import original_records
from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.redact import redact, redact_value
from nhiwatch.store import Store

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"


@dataclass
class AlertFilter:
    status: str | None = None
    severity: str | None = None
    integration: str | None = None
    detector: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    offset: int = 0

    def where(self) -> tuple[str, list[Any]]:
        conds: list[str] = ["true"]
        params: list[Any] = []
        if self.status is not None:
            if self.status not in STATUSES:
                raise ConfigError(f"status must be one of {', '.join(STATUSES)}")
            conds.append("status = ?")
            params.append(self.status)
        if self.severity is not None:
            if self.severity not in SEVERITIES:
                raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}")
            conds.append("severity = ?")
            params.append(self.severity)
        for col, val in (("integration_id", self.integration), ("kind", self.kind)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        if self.detector is not None:
            conds.append("list_contains(detectors, ?)")
            params.append(self.detector)
        if self.since is not None:
            conds.append("last_seen >= ?")
            params.append(self.since)
        if self.until is not None:
            conds.append("first_seen < ?")
            params.append(self.until)
        return " AND ".join(conds), params


def alert_dict(a: Any) -> dict[str, Any]:
    return dict(redact_value(a.as_dict()))


def list_alerts(store: Store, f: AlertFilter) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, one page of alerts: highest severity and risk first, then newest)."""
    tables.ensure(store)
    where, params = f.where()
    total = int(store.scalar(f"SELECT count(*) FROM alerts WHERE {where}", params) or 0)
    ids = [
        r[0]
        for r in store.fetchall(
            f"SELECT alert_id FROM alerts WHERE {where} ORDER BY {SEVERITY_ORDER} DESC, risk_score DESC, "
            "last_seen DESC, alert_id LIMIT ? OFFSET ?",
            [*params, f.limit, f.offset],
        )
    ]
    if not ids:
        return total, []
    by_id = {
        a.alert_id: a for a in tables.load_alerts(store, "alert_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    }
    return total, [alert_dict(by_id[i]) for i in ids if i in by_id]


def last_verdict(store: Store, alert_id: str) -> dict[str, Any] | None:
    """The alert's latest triage entry (for the message shown after a verdict), redacted."""
    tables.ensure(store)
    rows = store.records(
        "SELECT alert_id, verdict, previous_status, effect FROM triage_log WHERE alert_id = ? "
        "ORDER BY triaged_at DESC LIMIT 1",
        [alert_id],
    )
    return dict(redact_value(rows[0])) if rows else None


def get_alert(store: Store, alert_id: str) -> dict[str, Any]:
    tables.ensure(store)
    found = tables.load_alerts(store, "alert_id = ?", [alert_id])
    if not found:
        raise NotFoundError(f"no alert {alert_id!r}")
    out = alert_dict(found[0])
    out["triage"] = redact_value(
        store.records(
            "SELECT triaged_at, analyst, verdict, previous_status, note, effect FROM triage_log "
            "WHERE alert_id = ? ORDER BY triaged_at",
            [alert_id],
        )
    )
    return out


EVIDENCE_COLUMNS = (
    "metadata_uid, time, source, action_class, api_operation, status, actor_user_name, actor_app_name, "
    "src_endpoint_ip, dst_endpoint_hostname, resource_name"
)


def evidence_events(store: Store, uids: list[str], limit: int = 50) -> list[dict[str, Any]]:
    """The evidence events of an alert (redacted), oldest first, each with its original record as
    ``raw_data`` (re-read from its file: :mod:`nhiwatch.evidence`) and what became of it (``raw_status``,
    ``raw_note``: verified, moved, changed ...)."""
    if not uids:
        return []
    rows = store.records(
        f"SELECT {EVIDENCE_COLUMNS} FROM events WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY time LIMIT ?",
        [uids[: limit * 2], limit],
    )
    originals = original_records(store, [str(r["metadata_uid"]) for r in rows])
    out = []
    for r in rows:
        found = originals.get(str(r["metadata_uid"]))
        r["raw_data"] = found.record if found else None
        r["raw_status"] = found.status if found else None
        r["raw_note"] = found.note if found else None
        out.append(dict(redact_value(r)))
    return out


INTEGRATION_SQL = """
WITH act AS (SELECT integration_id, max(time) AS last_activity, count(*) AS events
             FROM events WHERE integration_id IS NOT NULL GROUP BY integration_id),
     al AS (SELECT integration_id, count(*) FILTER (WHERE status = 'open') AS open_alerts,
                   max(risk_score) FILTER (WHERE status = 'open') AS max_open_risk
            FROM alerts GROUP BY integration_id)
SELECT i.id, i.name, i.owner, i.purpose, i.kind, i.vendor, i.risk_tier, i.data_sensitivity,
       coalesce(i.discovered, false) AS discovered, i.discovered_source, i.discovered_identity,
       i.last_seen, a.last_activity, coalesce(a.events, 0) AS events, coalesce(al.open_alerts, 0) AS open_alerts,
       al.max_open_risk
FROM integrations i LEFT JOIN act a ON a.integration_id = i.id LEFT JOIN al ON al.integration_id = i.id
"""


def _baseline(store: Store) -> dict[str, dict[str, Any]]:
    if not store.table_exists("baseline_integrations"):
        return {}
    rows = store.records(
        "SELECT integration_id, state, history_start, until, events, active_days, duty_cycle, period_s "
        "FROM baseline_integrations"
    )
    return {r.pop("integration_id"): r for r in rows}


def list_integrations(store: Store) -> list[dict[str, Any]]:
    """Inventory and discovered integrations; ownerless and discovered ones and open alerts first."""
    ensure_tables(store)
    tables.ensure(store)
    rows = store.records(
        INTEGRATION_SQL + " ORDER BY open_alerts DESC, (i.owner IS NULL OR i.owner = '') DESC, "
        "discovered DESC, i.name"
    )
    base = _baseline(store)
    for r in rows:
        r["ownerless"] = not r["owner"]
        r["baseline"] = base.get(r["id"])
    return [dict(redact_value(r)) for r in rows]


def get_integration(store: Store, integration_id: str) -> dict[str, Any]:
    ensure_tables(store)
    tables.ensure(store)
    rows = store.records(INTEGRATION_SQL + " WHERE i.id = ?", [integration_id])
    if not rows:
        raise NotFoundError(f"no integration {integration_id!r}")
    r = rows[0]
    r["ownerless"] = not r["owner"]
    r["baseline"] = _baseline(store).get(integration_id)
    extra = store.records(
        "SELECT allowed_destinations, scopes, schedule, partner_managed, first_seen, last_seen "
        "FROM integrations WHERE id = ?",
        [integration_id],
    )[0]
    r.update(extra)
    return dict(redact_value(r))


def quarantine(store: Store, limit: int, raw_chars: int = 1000) -> dict[str, Any]:
    """Quarantined records (most recent first, ``limit`` of them) and a count per reason, redacted.

    Each raw record is redacted whole and then cut to ``raw_chars``: a secret cut short first might no
    longer look like one."""
    by_reason = store.fetchall(
        "SELECT regexp_replace(reason, ' \\(.*', ''), count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    rows = store.fetchall(
        "SELECT ingest_file, ingest_line, source, reason, left(coalesce(raw_data, ''), 65536) FROM quarantine "
        "ORDER BY quarantined_at DESC, ingest_file, ingest_line LIMIT ?",
        [limit],
    )
    return {
        "by_reason": [{"reason": redact(str(r)), "records": int(n)} for r, n in by_reason],
        "records": [
            {
                "file": redact(str(f)),
                "line": line,
                "source": src,
                "reason": redact(str(reason)),
                "raw": redact(raw)[:raw_chars],
            }
            for f, line, src, reason, raw in rows
        ],
    }


def inventory_gaps(store: Store) -> list[dict[str, Any]]:
    """Discovered integrations and declared ones with no owner or purpose (:mod:`nhiwatch.inventory.gaps`)."""
    from dataclasses import asdict

    from nhiwatch.inventory.gaps import gaps

    return [dict(redact_value(asdict(g))) for g in gaps(store)]
