"""Active-hours envelope: when, in its own local time, an integration has been seen working.

One row per (integration, local hour of week) with activity: ``how`` = (ISO weekday - 1) * 24 + local hour,
the number of distinct local days active in that slot and the events seen. Local time follows the
integration's declared time zone through DST, so a 09:00 job stays a 09:00 job in both seasons.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.contract import HistoryWindow, rows_as_dicts
from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS baseline_envelope (
    integration_id VARCHAR, how INTEGER, days_active INTEGER, events BIGINT)"""


class Envelope:
    name = "envelope"
    tables = ("baseline_envelope",)
    ddl = (DDL,)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        store.execute("DELETE FROM baseline_envelope")
        store.execute(
            """INSERT INTO baseline_envelope
            SELECT integration_id, (isodow(lt) - 1) * 24 + hour(lt), count(DISTINCT CAST(lt AS DATE)),
                   sum(events)
            FROM nw_hours WHERE action_class = '*' GROUP BY ALL"""
        )
        return int(store.scalar("SELECT count(*) FROM baseline_envelope") or 0)

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        rows = rows_as_dicts(
            store,
            "SELECT how, days_active, events FROM baseline_envelope WHERE integration_id = ? ORDER BY how",
            [integration_id],
        )
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        hours: dict[str, list[int]] = {}
        for r in rows:
            hours.setdefault(days[r["how"] // 24], []).append(r["how"] % 24)
        return {"active_local_hours": hours}
