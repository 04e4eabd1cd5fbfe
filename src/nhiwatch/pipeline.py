"""The library layer the CLI and the server share: ingest with inventory and tickets, in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nhiwatch import rollups
from nhiwatch.ingest import IngestReport, ingest
from nhiwatch.inventory import load_inventory
from nhiwatch.inventory.model import Inventory
from nhiwatch.inventory.resolve import apply_inventory, ensure_tables, resolve
from nhiwatch.store import Store
from nhiwatch.tickets import load_tickets, store_tickets


@dataclass
class IngestOutcome:
    report: IngestReport
    inventory_size: int | None = None
    resolved: int = 0
    tickets: int | None = None


def ingest_all(
    store: Store,
    paths: Iterable[str | Path],
    *,
    inventory: str | Path | None = None,
    tickets: str | Path | None = None,
    source: str | None = None,
    progress: Callable[[int], None] | None = None,
    keep_copy: bool = False,
) -> IngestOutcome:
    """Validate inventory and tickets first (a bad file changes nothing), then ingest and resolve.

    ``keep_copy``: the inputs are transient; see :func:`nhiwatch.ingest.ingest`."""
    inv = load_inventory(inventory) if inventory else None
    tix = load_tickets(tickets) if tickets else None
    ensure_tables(store)
    report = ingest(store, list(paths), source=source, progress=progress, keep_copy=keep_copy)
    outcome = IngestOutcome(report)
    changed = False
    if inv is not None:
        changed = replace_inventory(store, inv)
        outcome.inventory_size = len(inv.integrations)
    outcome.resolved = attribute(store, everything=changed)
    if tix is not None:
        outcome.tickets = store_tickets(store, tix, str(tickets))
    return outcome


def identities_digest(store: Store) -> str:
    """A fingerprint of how events are attributed: every declared identity and its integration."""
    ensure_tables(store)
    return str(
        store.scalar(
            "SELECT md5(coalesce(string_agg(concat_ws(chr(31), integration_id, source, key, value), chr(30)"
            " ORDER BY integration_id, source, key, value), '')) FROM identities"
        )
    )


def replace_inventory(store: Store, inventory: Inventory) -> bool:
    """Store ``inventory``; True when it changed how events are attributed (its identities)."""
    before = identities_digest(store)
    apply_inventory(store, inventory)
    return identities_digest(store) != before


def attribute(store: Store, *, everything: bool = False) -> int:
    """Resolve the events stored since the rollups last advanced and fold them into the rollups, in one
    transaction; ``everything`` re-attributes all stored events and rebuilds the rollups (after the
    inventory's identities changed). Returns the events resolved."""
    with store.transaction():
        resolved = resolve(store, everything=everything)
        if everything:
            rollups.rebuild(store)
        else:
            rollups.advance(store)
    return resolved
