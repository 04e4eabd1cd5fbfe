"""The server's audit log: who asked for what, when, and what came of it (append-only).

Every one-click response attempt writes rows here: ``requested`` (a description and a confirmation were
issued), ``confirmed`` (the admin confirmed; the vendor is called next), ``succeeded``, ``failed`` (with
the vendor's HTTP status and a scrubbed message), ``refused`` (off, not allowed, no or a wrong
confirmation) and ``already_done``. Details are redacted before they are stored: a vendor's answer may
echo what it was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nhiwatch.redact import redact
from nhiwatch.store import Store

AUDIT_DDL = """CREATE TABLE IF NOT EXISTS audit_log (
    happened_at TIMESTAMP, actor VARCHAR, role VARCHAR, event VARCHAR, alert_id VARCHAR, action VARCHAR,
    object VARCHAR, status INTEGER, detail VARCHAR)"""
COLUMNS = ["happened_at", "actor", "role", "event", "alert_id", "action", "object", "status", "detail"]
MAX_DETAIL = 2000


def ensure(store: Store) -> None:
    store.ensure(AUDIT_DDL)


def record(
    store: Store,
    *,
    at: datetime,
    actor: str,
    role: str,
    event: str,
    alert_id: str,
    action: str,
    object: str = "",
    status: int | None = None,
    detail: str = "",
) -> None:
    ensure(store)
    text = redact(detail)[:MAX_DETAIL]
    row = (at, actor, role, event, alert_id[:400], action[:200], redact(object)[:400], status, text)
    store.insert_rows("audit_log", COLUMNS, [row])


def succeeded(store: Store, action: str, object: str) -> dict[str, Any] | None:
    """The last success of ``action`` on ``object``, or None."""
    ensure(store)
    rows = store.records(
        "SELECT happened_at, actor, alert_id, detail FROM audit_log WHERE event = 'succeeded' AND action = ? "
        "AND object = ? ORDER BY happened_at DESC LIMIT 1",
        [action, redact(object)[:400]],
    )
    return rows[0] if rows else None


def recent(store: Store, limit: int = 200, alert_id: str | None = None) -> list[dict[str, Any]]:
    """The newest rows first (of one alert when ``alert_id`` is given)."""
    if not store.table_exists("audit_log"):
        return []
    where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id else ("", [])
    return store.records(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log {where} ORDER BY happened_at DESC, event LIMIT ?",
        [*params, limit],
    )
