"""The library layer the CLI and the server share: ingest with inventory and tickets, in one call; and the
streaming micro-batch (:func:`score_new`), which scores only the events that arrived since the last one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from nhiwatch import rollups
from nhiwatch.alerts.config import AlertConfig
from nhiwatch.detection import DetectionResult, Learner, run_detection
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


# --- streaming: score what arrived since the last micro-batch -------------------------------------------

STREAM_DDL = "CREATE TABLE IF NOT EXISTS stream_state (name VARCHAR PRIMARY KEY, value BIGINT)"
SCORED = "scored"  # last ingest_batch whose events a micro-batch scored


@dataclass
class StreamBatch:
    """What one micro-batch scored: the new events' hours, as spans, and the cursor it moved to."""

    after: int  # events with ingest_batch past this ...
    upto: int  # ... up to this one (the rollups' cursor) were new
    events: int
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    results: list[DetectionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # spans whose scoring failed (the others were scored)


def scored_cursor(store: Store) -> int | None:
    """The last ``ingest_batch`` scored by a micro-batch (None: this store was never streamed)."""
    store.ensure(STREAM_DDL)
    value = store.scalar("SELECT value FROM stream_state WHERE name = ?", [SCORED])
    return None if value is None else int(value)


def set_scored_cursor(store: Store, value: int) -> None:
    store.ensure(STREAM_DDL)
    store.execute(
        "INSERT INTO stream_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [SCORED, value],
    )


def start_streaming(store: Store) -> int:
    """Score only what arrives from now on: a store that was never streamed starts at the events it holds
    (history is scored by ``nhiwatch detect``, not replayed by the server). Returns the cursor."""
    cursor = scored_cursor(store)
    if cursor is None:
        cursor = rollups.cursor(store)
        set_scored_cursor(store, cursor)
    return cursor


def new_hours(store: Store, after: int, upto: int) -> list[tuple[datetime, int]]:
    """The UTC hours the attributed events of ``ingest_batch`` in ``(after, upto]`` fall in, with counts.

    ``ingest_batch`` grows with every insert, so the filter reads only the newest row groups (DuckDB skips
    the others by their min/max): the cost follows the new events, not the history."""
    return [
        (h, int(n))
        for h, n in store.fetchall(
            "SELECT date_trunc('hour', time) AS h, count(*) FROM events WHERE ingest_batch > ? AND "
            "ingest_batch <= ? AND integration_id IS NOT NULL GROUP BY h ORDER BY h",
            [after, upto],
        )
    ]


def spans(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Whole hours to score, joined per UTC day: one detection run per day the new events touch, as a daily
    run steps (a window across midnight would mix two days' counts and dilute what stands out in one), and a
    late event of last week is scored in its own day, not by scoring the week between.

    >>> from datetime import datetime as d
    >>> spans([d(2025, 6, 1, 9), d(2025, 6, 1, 11), d(2025, 6, 3, 0)])  # doctest: +NORMALIZE_WHITESPACE
    [(datetime.datetime(2025, 6, 1, 9, 0), datetime.datetime(2025, 6, 1, 12, 0)),
     (datetime.datetime(2025, 6, 3, 0, 0), datetime.datetime(2025, 6, 3, 1, 0))]
    """
    out: list[tuple[datetime, datetime]] = []
    for h in sorted(hours):
        end = h + timedelta(hours=1)
        if out and out[-1][0].date() == h.date():
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((h, end))
    return out


def score_new(
    store: Store,
    *,
    learner: Learner | None = None,
    config: AlertConfig | None = None,
    other: Store | None = None,
) -> StreamBatch:
    """One micro-batch: score the hours of the events attributed since the last one, then move the cursor.

    Call after the events were ingested and attributed (:func:`ingest_all` advances the rollups). Detectors
    read the scored hours' events plus rollups and the learned baselines; ``learner`` decides when those
    are refreshed (the server learns once per day scored, not per micro-batch); ``other``, a second
    connection, runs half the detectors beside the rest (:func:`nhiwatch.detection.beside`). Scoring the
    same hours again is harmless — alert ids are stable — so a crash before the cursor moves only repeats
    work.
    """
    after = start_streaming(store)
    upto = rollups.cursor(store)
    batch = StreamBatch(after, upto, 0)
    if upto <= after:
        return batch
    hours = new_hours(store, after, upto)
    batch.events = sum(n for _, n in hours)
    batch.spans = spans(h for h, _ in hours)
    for since, until in batch.spans:
        try:
            batch.results.append(run_detection(store, since, until, config, learner=learner, other=other))
        except Exception as exc:  # one failing span must not stall the stream: it is reported, not retried
            batch.errors.append(
                f"scoring {since:%Y-%m-%d %H:%M} - {until:%H:%M}: {type(exc).__name__}: {exc}"
            )
    set_scored_cursor(store, upto)
    return batch
