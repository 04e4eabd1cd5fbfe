"""What the store knows about an alert's integration and time: inventory facts and covering tickets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.store import Store


@dataclass(frozen=True)
class IntegrationInfo:
    id: str
    name: str
    owner: str | None
    purpose: str | None
    risk_tier: str
    data_sensitivity: str
    partner_managed: bool
    discovered: bool
    tz: str = "UTC"  # the schedule's time zone: explanations give local times with it


def integrations(store: Store, ids: Iterable[str]) -> dict[str, IntegrationInfo]:
    """Inventory facts per id; an id not in the inventory counts as discovered, ownerless, medium."""
    ensure_tables(store)
    wanted = sorted(set(ids))
    rows = store.fetchall(
        "SELECT id, name, owner, purpose, risk_tier, data_sensitivity, partner_managed, discovered, "
        "coalesce(json_extract_string(schedule, '$.timezone'), 'UTC') FROM integrations WHERE id IN (SELECT unnest(?::VARCHAR[]))",
        [wanted],
    )
    out = {
        r[0]: IntegrationInfo(
            r[0], r[1] or r[0], r[2], r[3], r[4] or "medium", r[5] or "internal", bool(r[6]), bool(r[7]), r[8]
        )
        for r in rows
    }
    for i in wanted:
        out.setdefault(i, IntegrationInfo(i, i, None, None, "medium", "internal", False, True))
    return out


class Tickets:
    """All change tickets and business events, looked up by integration and time overlap."""

    def __init__(self, store: Store) -> None:
        self.rows: list[dict[str, Any]] = store.records(
            "SELECT id, start_time, end_time, integration_id, summary, kind FROM tickets ORDER BY start_time"
        )

    def covering(
        self, integration_id: str, start: datetime, end: datetime
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(tickets for this integration, company-wide events) whose window overlaps ``[start, end]``."""
        own, company = [], []
        for t in self.rows:
            if t["start_time"] <= end and t["end_time"] >= start:
                if t["integration_id"] == integration_id:
                    own.append(t)
                elif t["integration_id"] is None:
                    company.append(t)
        return own, company
