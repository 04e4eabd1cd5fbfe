"""The tables the alert stage owns, and reading/writing alerts and findings.

``alerts`` keeps one row per alert id: a re-run over the same data updates the row but never the
analyst's verdict. ``triage_log`` is append-only. ``allowances`` are learned from benign verdicts;
``suppressions`` are rules written by people; ``detection_runs`` records every run's window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from nhiwatch.alerts.model import Alert, finding_id
from nhiwatch.detectors.base import FINDINGS_DDL, Finding
from nhiwatch.store import Store

ALERTS_DDL = """CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR, integration_id VARCHAR,
    integration_name VARCHAR, owner VARCHAR, purpose VARCHAR, risk_tier VARCHAR, data_sensitivity VARCHAR,
    detectors VARCHAR[],
    first_seen TIMESTAMP, last_seen TIMESTAMP, risk_score INTEGER, severity VARCHAR, title VARCHAR,
    explanation VARCHAR, evidence VARCHAR[], "references" JSON, status VARCHAR, suppressed_by VARCHAR,
    finding_ids VARCHAR[], score_factors JSON, created_at TIMESTAMP, updated_at TIMESTAMP)"""
TRIAGE_DDL = """CREATE TABLE IF NOT EXISTS triage_log (
    triaged_at TIMESTAMP, analyst VARCHAR, alert_id VARCHAR, verdict VARCHAR, previous_status VARCHAR,
    note VARCHAR, effect VARCHAR)"""
ALLOWANCES_DDL = """CREATE TABLE IF NOT EXISTS allowances (
    allowance_id VARCHAR PRIMARY KEY, integration_id VARCHAR, detector VARCHAR, signature VARCHAR,
    max_deviation DOUBLE, alert_id VARCHAR, created_at TIMESTAMP, created_by VARCHAR, note VARCHAR,
    expires TIMESTAMP)"""
SUPPRESSIONS_DDL = """CREATE TABLE IF NOT EXISTS suppressions (
    rule_id VARCHAR PRIMARY KEY, integration_id VARCHAR, detector VARCHAR, match JSON, reason VARCHAR,
    owner VARCHAR, expires TIMESTAMP, created_at TIMESTAMP, created_by VARCHAR)"""
RUNS_DDL = """CREATE TABLE IF NOT EXISTS detection_runs (
    run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, since TIMESTAMP, "until" TIMESTAMP, findings INTEGER,
    alerts INTEGER, posture_alerts INTEGER, suppressed INTEGER, allowed INTEGER, seconds DOUBLE)"""

ALERT_COLUMNS = [
    "alert_id",
    "run_id",
    "kind",
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
    "status",
    "suppressed_by",
    "finding_ids",
    "score_factors",
    "created_at",
]


def ensure(store: Store) -> None:
    store.ensure(FINDINGS_DDL, ALERTS_DDL, TRIAGE_DDL, ALLOWANCES_DDL, SUPPRESSIONS_DDL, RUNS_DDL)
    if not store.fetchall(
        "SELECT 1 FROM duckdb_columns() WHERE table_name = 'allowances' AND column_name = 'expires'"
        " AND database_name = current_database() AND schema_name = 'main'"
    ):
        # Stores written before allowances expired: theirs stay unlimited, as they were granted.
        store.execute("ALTER TABLE allowances ADD COLUMN IF NOT EXISTS expires TIMESTAMP")


def _json(v: Any) -> str:
    return orjson.dumps(v, default=str).decode()


def save_findings(store: Store, findings: Sequence[Finding], run_id: str) -> None:
    rows = {}
    for f in findings:
        fid = finding_id(f)
        rows[fid] = (
            fid,
            run_id,
            f.detector,
            f.kind,
            f.integration_id,
            f.first_seen,
            f.last_seen,
            float(f.deviation),
            f.observed,
            f.expected,
            f.summary,
            list(f.evidence),
            _json(dict(f.details)),
        )
    if not rows:
        return
    with store.transaction():
        store.execute("DELETE FROM findings WHERE finding_id IN (SELECT unnest(?::VARCHAR[]))", [list(rows)])
        store.insert_rows(
            "findings",
            [
                "finding_id",
                "run_id",
                "detector",
                "kind",
                "integration_id",
                "first_seen",
                "last_seen",
                "deviation",
                "observed",
                "expected",
                "summary",
                "evidence",
                "details",
            ],
            list(rows.values()),
        )


def save_alerts(store: Store, alerts: Sequence[Alert], now: datetime) -> None:
    """Insert or update by id; an analyst's verdict (benign/malicious) on an existing alert is kept."""
    if not alerts:
        return
    with store.transaction():
        ids = [a.alert_id for a in alerts]
        kept = dict(
            store.fetchall(
                "SELECT alert_id, status FROM alerts WHERE alert_id IN (SELECT unnest(?::VARCHAR[])) "
                "AND status IN ('benign', 'malicious')",
                [ids],
            )
        )
        created = dict(
            store.fetchall(
                "SELECT alert_id, created_at FROM alerts WHERE alert_id IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
        )
        rows = []
        for a in alerts:
            a.status = kept.get(a.alert_id, a.status)
            a.created_at = created.get(a.alert_id) or now
            row = [getattr(a, c) for c in ALERT_COLUMNS]
            row[ALERT_COLUMNS.index("references")] = _json(a.references)
            row[ALERT_COLUMNS.index("score_factors")] = _json(a.score_factors)
            rows.append([*row, now])
        store.execute("DELETE FROM alerts WHERE alert_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        cols = [f'"{c}"' if c == "references" else c for c in ALERT_COLUMNS]
        store.insert_rows("alerts", [*cols, "updated_at"], rows)


def load_alerts(store: Store, where: str = "true", params: Sequence[Any] | None = None) -> list[Alert]:
    ensure(store)
    cols = ", ".join(f'"{c}"' if c == "references" else c for c in ALERT_COLUMNS)
    out = []
    for r in store.records(f"SELECT {cols} FROM alerts WHERE {where} ORDER BY first_seen, alert_id", params):
        r["references"] = orjson.loads(r["references"]) if r["references"] else {}
        r["score_factors"] = orjson.loads(r["score_factors"]) if r["score_factors"] else {}
        r["detectors"] = list(r["detectors"] or [])
        r["evidence"] = list(r["evidence"] or [])
        r["finding_ids"] = list(r["finding_ids"] or [])
        out.append(Alert(**r))
    return out


def load_findings(store: Store, ids: Sequence[str]) -> list[Finding]:
    rows = store.records(
        "SELECT detector, integration_id, first_seen, last_seen, deviation, observed, expected, summary, "
        "evidence, details, kind FROM findings WHERE finding_id IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY first_seen",
        [list(ids)],
    )
    return [
        Finding(
            r["detector"],
            r["integration_id"],
            r["first_seen"],
            r["last_seen"],
            r["deviation"],
            r["observed"],
            r["expected"],
            r["summary"],
            tuple(r["evidence"] or ()),
            orjson.loads(r["details"]) if r["details"] else {},
            r["kind"],
        )
        for r in rows
    ]
