"""Value sets per integration: destinations, resources, types, tenants, networks, agents, scopes, credentials.

``baseline_values`` keeps every (integration, dimension, value) seen in the history window with first
seen, last seen and event count. ``baseline_novelty`` summarises each (integration, dimension) for the
Good-Turing estimate of how often a *new* value is normal: with ``n`` events carrying the dimension and
``singletons`` values seen exactly once, the chance that the next event shows an unseen value is about
``singletons / n`` (Good 1953). A stable set (no singletons) makes any new value surprising; a churning
one (cloud egress IPs) does not, and detections then look at coarser dimensions (/24, ASN).

Events are not independent draws: one run of a job repeats the same host or address many times, so a set
that gains a new value on every weekly run has no event-level singletons and would look stable. The same
estimate is therefore also kept per *day*: ``days`` (UTC days on which the dimension was seen) and
``day_singletons`` (values seen on exactly one day), so ``day_singletons / days`` is the chance that an
active day brings a value never seen before.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.contract import HistoryWindow, rows_as_dicts
from nhiwatch.dimensions import DIMENSIONS
from nhiwatch.store import Store

DDL_VALUES = """CREATE TABLE IF NOT EXISTS baseline_values (
    integration_id VARCHAR, dimension VARCHAR, value VARCHAR, first_seen TIMESTAMP, last_seen TIMESTAMP,
    events BIGINT, days INTEGER)"""
DDL_NOVELTY = """CREATE TABLE IF NOT EXISTS baseline_novelty (
    integration_id VARCHAR, dimension VARCHAR, n BIGINT, distinct_values BIGINT, singletons BIGINT,
    last_new TIMESTAMP, days BIGINT, day_singletons BIGINT)"""


def value_rows_sql(where: str, dims: tuple[str, ...] | None = None) -> str:
    """(integration_id, dimension, value, time, metadata_uid) for the dimensions (default all) of the events
    matching ``where``."""
    parts = [
        f"SELECT e.integration_id, '{dim}' AS dimension, {expr} AS value, e.time, e.metadata_uid FROM events e "
        f"WHERE {where} AND ({expr}) IS NOT NULL"
        for dim, expr in DIMENSIONS.items()
        if dims is None or dim in dims
    ]
    if dims is None or "scope" in dims:
        parts.append(
            "SELECT e.integration_id, 'scope' AS dimension, unnest(e.scopes) AS value, e.time, e.metadata_uid FROM events e "
            f"WHERE {where} AND len(e.scopes) > 0"
        )
    return " UNION ALL ".join(parts)


class Values:
    name = "values"
    tables = ("baseline_values", "baseline_novelty")
    ddl = (DDL_VALUES, DDL_NOVELTY)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        store.execute("DELETE FROM baseline_values")
        store.execute("DELETE FROM baseline_novelty")
        # Day-grain rollups: the window's first and last days count whole.
        span = [window.start, window.until, window.start, window.until]
        where = "day >= CAST(? AS DATE) AND day < ? AND last_seen >= ? AND first_seen < ?"
        store.execute(
            f"""INSERT INTO baseline_values
            SELECT integration_id, dimension, value, min(first_seen), max(last_seen), sum(events), count(*)
            FROM rollup_values WHERE {where} GROUP BY integration_id, dimension, value""",
            span,
        )
        store.execute(
            f"""INSERT INTO baseline_novelty
            SELECT v.integration_id, v.dimension, sum(v.events), count(*), count(*) FILTER (v.events = 1),
                   max(v.first_seen), any_value(dd.days), count(*) FILTER (v.days = 1)
            FROM baseline_values v JOIN (SELECT integration_id, dimension, count(DISTINCT day) AS days
                                         FROM rollup_values WHERE {where} GROUP BY ALL) dd
              USING (integration_id, dimension)
            GROUP BY ALL""",
            span,
        )
        return int(store.scalar("SELECT count(*) FROM baseline_values") or 0)

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        nov = rows_as_dicts(
            store,
            """SELECT dimension, n AS events, distinct_values, singletons, days, day_singletons, last_new
               FROM baseline_novelty
               WHERE integration_id = ? ORDER BY dimension""",
            [integration_id],
        )
        top = rows_as_dicts(
            store,
            """SELECT dimension, value, first_seen, last_seen, events FROM (
                 SELECT *, row_number() OVER (PARTITION BY dimension ORDER BY events DESC, value) AS rk
                 FROM baseline_values WHERE integration_id = ?) WHERE rk <= 10 ORDER BY dimension, rk""",
            [integration_id],
        )
        return {"novelty": nov, "top_values": top}
