"""A tiny world builder for baseline and detection tests: integrations, events on a schedule, tickets.

Events are built in Python (tests only) and inserted in one Arrow batch, so a month of a polling
integration costs milliseconds. Times are naive UTC.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa

from nhiwatch.baseline import learn
from nhiwatch.detectors.base import DetectContext, Detector, Finding
from nhiwatch.errors import NhiwatchError
from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.schema import EVENT_COLUMNS
from nhiwatch.store import Store

T0 = datetime(2026, 9, 1)  # a Tuesday
_ARROW = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UBIGINT": pa.uint64(),
    "VARCHAR[]": pa.list_(pa.string()),
}
SCHEMA = pa.schema([(c.name, _ARROW[c.sql_type]) for c in EVENT_COLUMNS])


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[dict[str, Any]] = []
        self.tz: dict[str, str] = {}
        self._ids = itertools.count(1)
        ensure_tables(store)

    def integration(
        self,
        id: str,
        *,
        kind: str = "oauth_app",
        vendor: str = "salesforce",
        owner: str | None = "a@x.io",
        purpose: str | None = "sync",
        tz: str = "UTC",
        days: str = "mon-sun",
        hours: str = "00:00-24:00",
        every: str | None = None,
        schedule: bool = True,
        allowed: Iterable[str] = (),
        scopes: Iterable[str] = (),
        bursty: Iterable[dict[str, Any]] = (),
        discovered: bool = False,
        country: str | None = None,
    ) -> str:
        sched = (
            orjson.dumps({"timezone": tz, "days": days, "hours": hours, "every": every}).decode()
            if schedule
            else None
        )
        self.tz[id] = tz
        self.store.execute(
            """INSERT INTO integrations (id, name, owner, purpose, kind, vendor, risk_tier, data_sensitivity,
                 partner_managed, allowed_destinations, scopes, schedule, bursty_windows, discovered,
                 discovered_source, discovered_identity, country)
               VALUES (?, ?, ?, ?, ?, ?, 'medium', 'internal', false, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                id,
                id,
                owner,
                purpose,
                kind,
                vendor,
                list(allowed),
                list(scopes),
                sched,
                orjson.dumps(list(bursty)).decode(),
                discovered,
                "github" if discovered else None,
                "app_name=" + id if discovered else None,
                country,
            ],
        )
        return id

    def event(self, integ: str, t: datetime, **cols: Any) -> str:
        uid = cols.pop("metadata_uid", None) or f"{integ}-{next(self._ids)}"
        row = {
            "time": t,
            "metadata_uid": uid,
            "source": cols.pop("source", "salesforce"),
            "integration_id": integ,
            "action_class": "read",
            "status": "Success",
            "actor_user_type": "oauth_app",
            "actor_app_name": integ,
            "src_endpoint_ip": "52.10.1.5",
            "src_endpoint_asn": 16509,
            "http_request_user_agent": "sync-agent/1.0",
            "actor_user_credential_uid": f"tok-{integ}",
            "metadata_tenant_uid": "org-1",
            "resource_type": "Account",
            "resource_name": "Account",
        }
        row.update(cols)
        self.rows.append(row)
        return uid

    def local(self, integ: str, day: datetime, hour: int, minute: int = 0) -> datetime:
        """UTC time of a local wall-clock time for the integration."""
        lt = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(self.tz.get(integ, "UTC")))
        return lt.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    def daily(
        self,
        integ: str,
        start: datetime,
        days: int,
        hours: Iterable[int],
        per_hour: int = 3,
        weekdays: Iterable[int] = range(1, 8),
        minute: int = 5,
        **cols: Any,
    ) -> list[str]:
        """``per_hour`` events at each listed local hour of each day (ISO weekdays filter)."""
        wd, hs, out = set(weekdays), list(hours), []
        for d in range(days):
            day = start + timedelta(days=d)
            if day.isoweekday() not in wd:
                continue
            for h in hs:
                t = self.local(integ, day, h, minute)
                out += [self.event(integ, t + timedelta(seconds=7 * i), **cols) for i in range(per_hour)]
        return out

    def every(self, integ: str, start: datetime, end: datetime, step: timedelta, **cols: Any) -> list[str]:
        out, t = [], start
        while t < end:
            out.append(self.event(integ, t, **cols))
            t += step
        return out

    def ticket(
        self, id: str, start: datetime, end: datetime, integ: str | None, summary: str = "change"
    ) -> None:
        self.store.execute(
            "INSERT INTO tickets (id, start_time, end_time, integration_id, summary, kind) "
            "VALUES (?, ?, ?, ?, ?, 'change')",
            [id, start, end, integ, summary],
        )

    def flush(self) -> None:
        if self.rows:
            cols = {c: [r.get(c) for r in self.rows] for c in SCHEMA.names}
            tbl = pa.table(cols, schema=SCHEMA)
            self.store.con.register("nw_test_rows", tbl)
            self.store.execute("INSERT INTO events BY NAME SELECT * FROM nw_test_rows")
            self.store.con.unregister("nw_test_rows")
            self.rows = []

    def detect(
        self,
        det: Detector,
        since: datetime,
        until: datetime,
        history_days: float = 35,
        params: dict[str, Any] | None = None,
    ) -> list[Finding]:
        self.flush()
        with contextlib.suppress(NhiwatchError):  # no history at all: detections run on declarations alone
            learn(self.store, until=since, history_days=history_days)
        return det.run(DetectContext(self.store, since, until, params or {}))
