"""What detections read of the fleet: the events around the scored window, found and stored once per window.

:func:`ensure` searches ``[since - lookback_hours, until)`` for fleet events (:mod:`.find`), merges them into
``fleet_events`` (:mod:`.table`), and builds three temp tables for the detections' SQL:

- ``nw_fleet_events``: stored events whose window or catch-up reaches into the scored window;
- ``nw_fleet``: one row per (event, integration it touched) with the event's window, ``catchup_end`` and
  summary: what a per-integration finding is compared with. Touched: hit, or (outages) failing on the
  platform in the event's window with one of its reasons — one failed run in the outage is not improbable
  alone, but it is the outage's;
- ``nw_fleet_backlog``: per affected integration, class and metric, what the event held back
  (:mod:`.backlog`).

The search is done once per (window, rollup cursor) and connection: the five detections that consult the
fleet share it, and a window scored again after more events arrived is searched again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nhiwatch import rollups
from nhiwatch.detectors.base import DetectContext
from nhiwatch.fleet import table
from nhiwatch.fleet.backlog import build_backlog
from nhiwatch.fleet.find import PARAMS, FleetParams, find_events
from nhiwatch.store import Store

MARK_DDL = "CREATE TEMP TABLE IF NOT EXISTS nw_fleet_window (since TIMESTAMP, until TIMESTAMP, cursor BIGINT)"


def ensure(ctx: DetectContext, p: FleetParams = PARAMS) -> None:
    """Find, store and expose the fleet events around ``ctx``'s window (see the module docstring)."""
    store = ctx.store
    table.ensure(store)
    cursor = rollups.cursor(store)
    store.ensure(MARK_DDL)
    if store.scalar(
        "SELECT count(*) FROM nw_fleet_window WHERE since = ? AND until = ? AND cursor = ?",
        [ctx.since, ctx.until, cursor],
    ):
        return
    if store.table_exists("baseline_integrations"):
        found = find_events(store, ctx.since - timedelta(hours=p.lookback_hours), ctx.until, p)
        if found:
            table.store_events(store, found, datetime.now(UTC).replace(tzinfo=None))
    expose(store, ctx.since, ctx.until, p)
    store.execute("DELETE FROM nw_fleet_window")
    store.execute("INSERT INTO nw_fleet_window VALUES (?, ?, ?)", [ctx.since, ctx.until, cursor])


def expose(store: Store, since: datetime, until: datetime, p: FleetParams = PARAMS) -> None:
    """The temp tables over the stored events that reach into ``[since, until)``."""
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_fleet_events AS SELECT * FROM fleet_events
           WHERE end_time + to_hours($catchup) >= $since AND start_time - to_minutes($margin) < $until""",
        {"catchup": p.catchup_hours, "margin": p.margin_minutes, "since": since, "until": until},
    )
    # the integrations an event hit, and those of its platform that failed with its reasons in its window
    # without being hit (one failed run in the outage is not improbable alone, but it is the outage's)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_fleet AS
           WITH touched AS (
             SELECT event_id, unnest(integrations) AS integration_id FROM nw_fleet_events
             UNION
             SELECT f.event_id, e.integration_id FROM events e JOIN nw_fleet_events f
               ON f.kind = 'outage' AND f.group_kind = 'source' AND e.source = f.group_name
               AND e.time >= f.start_time - to_minutes($margin) AND e.time <= f.end_time + to_minutes($margin)
             WHERE e.status = 'Failure' AND e.integration_id IS NOT NULL
               AND list_contains(f.reasons, coalesce(e.status_detail, '?')))
           SELECT f.event_id, t.integration_id, f.kind, f.group_kind, f.group_name, f.label, f.start_time,
                  f.end_time, f.start_time - to_minutes($margin) AS from_time,
                  f.end_time + to_minutes($margin) AS to_time, f.end_time + to_hours($catchup) AS catchup_end,
                  f.reasons, f.summary
           FROM touched t JOIN nw_fleet_events f USING (event_id)""",
        {"catchup": p.catchup_hours, "margin": p.margin_minutes},
    )
    build_backlog(store, p)


def fleet_text(store: Store, event_id: str) -> str:
    """The stored event's one-sentence summary (empty when unknown)."""
    return str(store.scalar("SELECT summary FROM fleet_events WHERE event_id = ?", [event_id]) or "")
