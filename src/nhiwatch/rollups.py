"""Rollups: per-integration summaries of the event history, maintained as events arrive.

Two tables summarise what baselines need, so that learning reads summaries, not the raw history:

- ``rollup_hourly``: per integration x UTC hour x action class x status — events, records, bytes,
  failures, and the distinct resources, destinations and tenants touched. Rows with ``action_class = '*'``
  and/or ``status = '*'`` hold the totals over classes/statuses (distinct counts do not add up, so they are
  counted at each level).
- ``rollup_values``: per integration x dimension x value x UTC day — first seen, last seen, events; the
  dimensions are those of :data:`nhiwatch.baseline.values.DIMENSIONS` plus ``scope``.

**Exactly once.** Every stored event carries ``ingest_batch``, a number that grows with each insert
statement. :func:`advance` folds the events of batches past a cursor into the rollups and moves the cursor,
all in the caller's transaction: at-least-once delivery plus the store's uid de-duplication plus one cursor
committed with the rollups it produced gives each event counted exactly once, whatever the order, repetition
or interruption of the ingests that stored it. Hours are *recounted* from the events (idempotent, exact
distinct counts) while their raw events are retained; for an hour older than the raw retention horizon a
late event is *added* to what the rollup holds (its distinct counts then become lower bounds).

Events that no identity resolves (people) have no integration and are not rolled up. When the inventory
changes and history is re-attributed, :func:`rebuild` recomputes the rollups over the retained events.
"""

from __future__ import annotations

from datetime import datetime

from nhiwatch.baseline.values import DIMENSIONS
from nhiwatch.store import Store

HOURLY_DDL = """CREATE TABLE IF NOT EXISTS rollup_hourly (
    integration_id VARCHAR, hour TIMESTAMP, action_class VARCHAR, status VARCHAR, events BIGINT,
    records BIGINT, bytes BIGINT, failures BIGINT, resources BIGINT, destinations BIGINT, tenants BIGINT)"""
VALUES_DDL = """CREATE TABLE IF NOT EXISTS rollup_values (
    integration_id VARCHAR, dimension VARCHAR, value VARCHAR, day DATE, first_seen TIMESTAMP,
    last_seen TIMESTAMP, events BIGINT)"""
STATE_DDL = "CREATE TABLE IF NOT EXISTS rollup_state (name VARCHAR PRIMARY KEY, value BIGINT)"
BATCH_SEQUENCE = "CREATE SEQUENCE IF NOT EXISTS nw_ingest_batch START 1"
DDL = (HOURLY_DDL, VALUES_DDL, STATE_DDL, BATCH_SEQUENCE)

CURSOR = "cursor"  # last ingest_batch folded into the rollups
HORIZON = "raw_horizon"  # epoch microseconds before which raw events may have been pruned

_HOURLY_GROUPS = (
    "GROUPING SETS ((integration_id, hr, action_class, status), (integration_id, hr, action_class),"
    " (integration_id, hr))"
)
_HOURLY_AGG = f"""
    SELECT integration_id, hr AS hour,
           CASE WHEN grouping(action_class) = 1 THEN '*' ELSE coalesce(action_class, '?') END AS action_class,
           CASE WHEN grouping(status) = 1 THEN '*' ELSE coalesce(status, '?') END AS status,
           count(*) AS events, sum(records) AS records, sum(bytes) AS bytes,
           count(*) FILTER (status = 'Failure') AS failures,
           count(DISTINCT resource_name) AS resources, count(DISTINCT dst) AS destinations,
           count(DISTINCT metadata_tenant_uid) AS tenants
    FROM (SELECT integration_id, date_trunc('hour', time) AS hr, action_class, status, records,
                 CASE WHEN traffic_bytes_in IS NULL AND traffic_bytes_out IS NULL THEN NULL
                      ELSE coalesce(traffic_bytes_in, 0) + coalesce(traffic_bytes_out, 0) END AS bytes,
                 resource_name, lower(dst_endpoint_hostname) AS dst, metadata_tenant_uid
          FROM {{source}})
    GROUP BY {_HOURLY_GROUPS}"""


def ensure_tables(store: Store) -> None:
    """Create the rollup tables; a store from before rollups gets ``ingest_batch`` and its rollups built."""
    fresh = not store.table_exists("rollup_state")
    store.ensure(*DDL)
    store.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS ingest_batch BIGINT")
    if fresh and store.scalar("SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1)"):
        rebuild(store)


def next_batch(store: Store) -> int:
    """A new ``ingest_batch`` number for one insert statement."""
    ensure_tables(store)
    return int(store.scalar("SELECT nextval('nw_ingest_batch')"))


def _get(store: Store, name: str, default: int = 0) -> int:
    value = store.scalar("SELECT value FROM rollup_state WHERE name = ?", [name])
    return default if value is None else int(value)


def _set(store: Store, name: str, value: int) -> None:
    store.execute(
        "INSERT INTO rollup_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [name, value],
    )


def cursor(store: Store) -> int:
    ensure_tables(store)
    return _get(store, CURSOR)


def set_raw_horizon(store: Store, horizon: datetime) -> None:
    """Record that raw events before ``horizon`` (naive UTC) may be gone: hours before it are added to,
    not recounted. Called by pruning; the horizon is taken back to its day's start so that a day of
    ``rollup_values`` is either wholly recountable or wholly kept."""
    ensure_tables(store)
    micros = int(store.scalar("SELECT epoch_us(date_trunc('day', ?::TIMESTAMP))", [horizon]))
    _set(store, HORIZON, max(micros, _get(store, HORIZON)))


def advance(store: Store, *, own_transaction: bool = True) -> int:
    """Fold the events stored since the cursor into the rollups; returns how many were folded.

    With ``own_transaction=False`` it runs inside the caller's open transaction, so the cursor commits
    with whatever else the caller writes (the resolution of those same events)."""
    ensure_tables(store)
    if not own_transaction:
        return _advance(store)
    store.execute("BEGIN TRANSACTION")
    try:
        folded = _advance(store)
        store.execute("COMMIT")
    except BaseException:
        store.execute("ROLLBACK")
        raise
    return folded


def _advance(store: Store) -> int:
    lo = _get(store, CURSOR)
    hi = store.scalar("SELECT max(ingest_batch) FROM events WHERE ingest_batch > ?", [lo])
    if hi is None:
        return 0
    hi = int(hi)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_roll_new AS
        SELECT * FROM events WHERE ingest_batch > ? AND ingest_batch <= ? AND integration_id IS NOT NULL""",
        [lo, hi],
    )
    folded = int(store.scalar("SELECT count(*) FROM nw_roll_new") or 0)
    if folded:
        _fold_hourly(store)
        _fold_values(store)
    store.execute("DROP TABLE IF EXISTS nw_roll_new")
    _set(store, CURSOR, hi)
    return folded


def _fold_hourly(store: Store) -> None:
    horizon = _get(store, HORIZON)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_roll_touched AS
        SELECT integration_id, date_trunc('hour', time) AS hr, epoch_us(date_trunc('hour', time)) >= ? AS retained
        FROM nw_roll_new GROUP BY ALL""",
        [horizon],
    )
    # Retained hours: recounted from every stored event of the hour (exact, and idempotent).
    store.execute(
        """DELETE FROM rollup_hourly r USING nw_roll_touched t
        WHERE t.retained AND r.integration_id = t.integration_id AND r.hour = t.hr"""
    )
    bounds = store.fetchall("SELECT min(hr), max(hr) FROM nw_roll_touched WHERE retained")[0]
    if bounds[0] is not None:
        recount = (
            "(SELECT e.* FROM events e SEMI JOIN nw_roll_touched t ON t.retained"
            " AND e.integration_id = t.integration_id AND date_trunc('hour', e.time) = t.hr"
            " WHERE e.time >= ? AND e.time < ? + INTERVAL 1 HOUR)"
        )
        store.execute(
            "INSERT INTO rollup_hourly " + _HOURLY_AGG.format(source=recount), [bounds[0], bounds[1]]
        )
    # Hours whose raw events may be pruned: the late events are added to what the rollup holds.
    late = "(SELECT n.* FROM nw_roll_new n SEMI JOIN nw_roll_touched t ON NOT t.retained AND n.integration_id = t.integration_id AND date_trunc('hour', n.time) = t.hr)"
    if store.scalar("SELECT count(*) FROM nw_roll_touched WHERE NOT retained"):
        store.execute("CREATE OR REPLACE TEMP TABLE nw_roll_late AS " + _HOURLY_AGG.format(source=late))
        _merge(
            store,
            "rollup_hourly",
            "nw_roll_late",
            keys=("integration_id", "hour", "action_class", "status"),
            add=("events", "records", "bytes", "failures"),
            most=("resources", "destinations", "tenants"),
        )
        store.execute("DROP TABLE nw_roll_late")
    store.execute("DROP TABLE nw_roll_touched")


def _fold_values(store: Store) -> None:
    parts = [
        f"SELECT e.integration_id, '{dim}' AS dimension, {expr} AS value, e.time FROM nw_roll_new e"
        f" WHERE ({expr}) IS NOT NULL"
        for dim, expr in DIMENSIONS.items()
    ]
    parts.append(
        "SELECT e.integration_id, 'scope', unnest(e.scopes), e.time FROM nw_roll_new e WHERE len(e.scopes) > 0"
    )
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_roll_vals AS
        SELECT integration_id, dimension, value, CAST(time AS DATE) AS day, min(time) AS first_seen,
               max(time) AS last_seen, count(*) AS events
        FROM ({" UNION ALL ".join(parts)}) GROUP BY ALL"""
    )
    _merge(
        store,
        "rollup_values",
        "nw_roll_vals",
        keys=("integration_id", "dimension", "value", "day"),
        add=("events",),
        least=("first_seen",),
        most=("last_seen",),
        day_column="day",
    )
    store.execute("DROP TABLE nw_roll_vals")


def _merge(
    store: Store,
    target: str,
    delta: str,
    *,
    keys: tuple[str, ...],
    add: tuple[str, ...] = (),
    least: tuple[str, ...] = (),
    most: tuple[str, ...] = (),
    day_column: str | None = None,
) -> None:
    """Upsert ``delta`` into ``target``: matching keys add, take the least or the greatest; new keys insert.

    Table and column names are this module's own constants, never data."""
    on = " AND ".join(f"t.{k} = d.{k}" for k in keys)
    sets = [f"{c} = t.{c} + d.{c}" for c in add]
    sets += [f"{c} = least(t.{c}, d.{c})" for c in least]
    sets += [f"{c} = greatest(t.{c}, d.{c})" for c in most]
    # The delta covers a few days (or hours): bounding the target by them lets zone maps skip the rest.
    span = ""
    col = day_column or ("hour" if "hour" in keys else None)
    if col:
        span = f" AND t.{col} BETWEEN (SELECT min({col}) FROM {delta}) AND (SELECT max({col}) FROM {delta})"
    store.execute(f"UPDATE {target} t SET {', '.join(sets)} FROM {delta} d WHERE {on}{span}")
    cols = ", ".join((*keys, *add, *least, *most))
    store.execute(
        f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {delta} d "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on}{span})"
    )


def rebuild(store: Store) -> int:
    """Recompute the rollups of every retained event (after the inventory re-attributed history).

    Hours before the raw horizon keep what they hold: their events are gone."""
    ensure_tables(store)
    horizon = _get(store, HORIZON)
    store.execute("DELETE FROM rollup_hourly WHERE epoch_us(hour) >= ?", [horizon])
    store.execute("DELETE FROM rollup_values WHERE epoch_us(CAST(day AS TIMESTAMP)) >= ?", [horizon])
    hi = int(store.scalar("SELECT coalesce(max(ingest_batch), 0) FROM events") or 0)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_roll_new AS
        SELECT * FROM events WHERE integration_id IS NOT NULL AND epoch_us(time) >= ?""",
        [horizon],
    )
    folded = int(store.scalar("SELECT count(*) FROM nw_roll_new") or 0)
    store.execute("INSERT INTO rollup_hourly " + _HOURLY_AGG.format(source="nw_roll_new"))
    _fold_values(store)
    store.execute("DROP TABLE nw_roll_new")
    _set(store, CURSOR, hi)
    return folded


__all__ = ["advance", "cursor", "ensure_tables", "next_batch", "rebuild", "set_raw_horizon"]
