"""The ``fleet_events`` table: one row per outage or silence of a peer group, kept across runs.

Writing is idempotent: an event found again (a re-run, the next micro-batch, the next day's look-back) is
merged with the stored rows of the same group and kind whose window overlaps it — the union of their
windows and affected integrations — and stored under an id derived from the group, the kind and the hour
it started, so the same outage keeps one id however often and in whatever slices it is scored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS fleet_events (
    event_id VARCHAR PRIMARY KEY,     -- fe- + hash of kind, group and start hour
    kind VARCHAR,                     -- outage | silence
    group_kind VARCHAR,               -- source (the platform called) | vendor (the integrations' publisher)
    group_name VARCHAR,               -- e.g. salesforce
    label VARCHAR,                    -- display name, e.g. Salesforce
    start_time TIMESTAMP,             -- first failure (outage) or first silent hour (silence), UTC
    end_time TIMESTAMP,               -- last failure, or end of the last silent hour
    affected INTEGER,                 -- integrations hit
    total INTEGER,                    -- integrations of the group active (or expected) in those hours
    integrations VARCHAR[],           -- the affected integrations
    reasons VARCHAR[],                -- failure reasons shared by the affected (outage)
    failures BIGINT,                  -- failures of the affected integrations in the window (outage)
    summary VARCHAR,                  -- one sentence
    updated_at TIMESTAMP
)"""
COLUMNS = (
    "event_id",
    "kind",
    "group_kind",
    "group_name",
    "label",
    "start_time",
    "end_time",
    "affected",
    "total",
    "integrations",
    "reasons",
    "failures",
    "summary",
    "updated_at",
)
LABELS = {
    "salesforce": "Salesforce",
    "gws": "Google Workspace",
    "github": "GitHub",
    "okta": "Okta",
    "microsoft": "Microsoft",
    "entra": "Microsoft Entra",
    "graph": "Microsoft Graph",
    "aws": "AWS",
    "cloudtrail": "AWS",
    "slack": "Slack",
    "squid": "the egress proxy",
    "vpcflow": "VPC flow",
    "zeek": "Zeek",
}


def ensure(store: Store) -> None:
    store.ensure(DDL)


def label(group_name: str) -> str:
    return LABELS.get(group_name.lower(), group_name)


def event_id(kind: str, group_kind: str, group_name: str, start: datetime) -> str:
    key = f"{kind}|{group_kind}|{group_name}|{start:%Y-%m-%dT%H}"
    return "fe-" + hashlib.sha1(key.encode()).hexdigest()[:12]


def summary(e: dict[str, Any]) -> str:
    """One sentence: "Salesforce outage 2026-03-26 14:10-16:40 UTC hit 9 of 11 Salesforce integrations"."""
    who = e["label"] if e["group_kind"] == "source" else f"vendor {e['label']}"
    span = f"{e['start_time']:%Y-%m-%d %H:%M}-{e['end_time']:%H:%M} UTC"
    if e["end_time"].date() != e["start_time"].date():
        span = f"{e['start_time']:%Y-%m-%d %H:%M} - {e['end_time']:%Y-%m-%d %H:%M} UTC"
    if e["kind"] == "outage":
        why = f" ({', '.join(e['reasons'][:3])})" if e["reasons"] else ""
        return (
            f"{e['label']} outage {span} hit {e['affected']} of {e['total']} {who} integrations: "
            f"{e['failures']:,} failures{why}"
        )
    return f"{who} silence {span}: {e['affected']} of {e['total']} always-on {who} integrations sent nothing"


def store_events(store: Store, found: Iterable[dict[str, Any]], now: datetime) -> list[str]:
    """Merge ``found`` into ``fleet_events``; returns the ids written."""
    ensure(store)
    ids: list[str] = []
    with store.transaction():
        for e in found:
            old = store.records(
                """SELECT * FROM fleet_events WHERE kind = ? AND group_kind = ? AND group_name = ?
                   AND start_time <= ? AND end_time >= ?""",
                [
                    e["kind"],
                    e["group_kind"],
                    e["group_name"],
                    e["end_time"] + timedelta(hours=1),
                    e["start_time"] - timedelta(hours=1),
                ],
            )
            row = _merge(e, old)
            row["label"] = label(row["group_name"])
            row["event_id"] = event_id(row["kind"], row["group_kind"], row["group_name"], row["start_time"])
            row["summary"] = summary(row)
            row["updated_at"] = now
            store.execute(
                "DELETE FROM fleet_events WHERE event_id IN (SELECT unnest(?::VARCHAR[]))",
                [[o["event_id"] for o in old] + [row["event_id"]]],
            )
            store.insert_rows("fleet_events", COLUMNS, [tuple(row[c] for c in COLUMNS)])
            ids.append(row["event_id"])
    return ids


def _merge(e: dict[str, Any], old: list[dict[str, Any]]) -> dict[str, Any]:
    row = dict(e)
    row["integrations"] = sorted(set(e["integrations"] or ()))
    for o in old:
        row["start_time"] = min(row["start_time"], o["start_time"])
        row["end_time"] = max(row["end_time"], o["end_time"])
        row["integrations"] = sorted(set(row["integrations"]) | set(o["integrations"] or ()))
        row["total"] = max(int(row["total"]), int(o["total"] or 0))
        row["failures"] = max(int(row["failures"] or 0), int(o["failures"] or 0))
        row["reasons"] = list(dict.fromkeys([*(row["reasons"] or ()), *(o["reasons"] or ())]))
    row["affected"] = len(row["integrations"])
    row["total"] = max(int(row["total"]), row["affected"])
    row["reasons"] = list(row["reasons"] or ())
    row["failures"] = int(row["failures"] or 0)
    return row


def load_events(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    kind: str | None = None,
    group: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, the page of events overlapping ``[since, until)``), newest first. Read-only: a store
    where no fleet event was ever searched for has none."""
    if not store.table_exists("fleet_events"):
        return 0, []
    where = ["(? IS NULL OR end_time >= ?)", "(? IS NULL OR start_time < ?)"]
    params: list[Any] = [since, since, until, until]
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if group:
        where.append("(group_name = ? OR lower(label) = lower(?))")
        params += [group, group]
    cond = " AND ".join(where)
    total = int(store.scalar(f"SELECT count(*) FROM fleet_events WHERE {cond}", params) or 0)
    rows = store.records(
        f"SELECT * FROM fleet_events WHERE {cond} ORDER BY start_time DESC, event_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return total, rows
