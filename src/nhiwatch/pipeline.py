"""The library layer the CLI and the server share: ingest with inventory and tickets, in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nhiwatch import rollups
from nhiwatch.ingest import IngestReport, ingest
from nhiwatch.inventory import load_inventory
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
) -> IngestOutcome:
    """Validate inventory and tickets first (a bad file changes nothing), then ingest and resolve."""
    inv = load_inventory(inventory) if inventory else None
    tix = load_tickets(tickets) if tickets else None
    ensure_tables(store)
    report = ingest(store, list(paths), source=source, progress=progress)
    outcome = IngestOutcome(report)
    if inv is not None:
        apply_inventory(store, inv)
        outcome.inventory_size = len(inv.integrations)
    outcome.resolved = resolve(store, everything=inv is not None)
    if inv is not None:
        rollups.rebuild(store)  # history may have been re-attributed
    else:
        rollups.advance(store)
    if tix is not None:
        outcome.tickets = store_tickets(store, tix, str(tickets))
    return outcome
