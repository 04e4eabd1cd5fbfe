"""Inventory gaps: non-human actors nobody declared, and declared integrations with no owner or purpose."""

from __future__ import annotations

from dataclasses import dataclass

from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.store import Store


@dataclass(frozen=True)
class Gap:
    integration_id: str
    gap: str  # discovered | ownerless | no purpose | ownerless, no purpose
    identity: str
    events: int
    last_seen: str


def gaps(store: Store) -> list[Gap]:
    ensure_tables(store)
    rows = store.fetchall(
        """SELECT i.id,
                  CASE WHEN i.discovered THEN 'discovered (in no inventory)'
                       ELSE concat_ws(', ', CASE WHEN i.owner IS NULL THEN 'ownerless' END,
                                            CASE WHEN i.purpose IS NULL THEN 'no purpose' END) END,
                  coalesce(i.discovered_source || ': ' || i.discovered_identity, i.name),
                  (SELECT count(*) FROM events e WHERE e.integration_id = i.id),
                  coalesce(strftime(i.last_seen, '%Y-%m-%d %H:%M'), 'never')
           FROM integrations i
           WHERE i.discovered OR i.owner IS NULL OR i.purpose IS NULL
           ORDER BY i.discovered DESC, i.id"""
    )
    return [Gap(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]
