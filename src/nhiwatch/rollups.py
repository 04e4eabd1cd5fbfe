"""Rollups: per-integration summaries of the event history, maintained as events arrive.

Four tables summarise what baselines and detections need, so that learning reads summaries, not the raw history:

- ``rollup_hourly``: per integration x UTC hour x action class x status — events, records, bytes and
  failures. Rows with ``status = '*'`` (per class, and with ``action_class = '*'`` over all classes) hold the
  totals and the distinct resources, destinations and tenants touched (distinct counts do not add up, so
  they are counted at each of those two levels, not per status). The all-classes row of an hour also keeps what cadence and failure runs need: the
  active minutes (a 60-bit map) and the failures before its first success, between successes (the longest
  run) and after its last success, so runs that cross hours can be stitched together when learning.
- ``rollup_sizes``: per integration x UTC day x action class, a histogram of records and bytes per event in
  buckets of a quarter octave of ``1 + x`` (count, sum and maximum per bucket): the per-operation quantiles
  without the events, within a bucket (about ±9 %), and exact where a bucket holds one size.
- ``rollup_values``: per integration x dimension x value x UTC day — first seen, last seen, events, for
  the dimensions of :data:`DIMENSIONS` (destinations, resources, tenants, networks, agents, scopes, ...),
  plus the credentials and scopes actually used (``credential_use``, ``scope_used``).
- ``rollup_lifecycle``: the events that issue or revoke credentials and grant scopes, whole: they are few,
  and posture and consent checks need each one for as long as the rollups are kept.

**Exactly once.** Every stored event carries ``ingest_batch``, a number that grows with each insert
statement (ingest stamps one per statement; any other writer gets the column's default, the next value of
the same sequence). :func:`advance` folds the events of batches past a cursor into the rollups and moves the
cursor, in one transaction with the caller's (``pipeline.attribute`` resolves those events in it too): at-least-once delivery plus the store's uid de-duplication plus one cursor
committed with the rollups it produced gives each event counted exactly once, whatever the order, repetition
or interruption of the ingests that stored it. Hours are *recounted* from the events (idempotent, exact
distinct counts) while their raw events are retained; for an hour older than the raw retention horizon a
late event is *added* to what the rollup holds (its distinct counts then become lower bounds).

Events that no identity resolves (people) have no integration and are not rolled up. When the inventory
changes and history is re-attributed, :func:`rebuild` recomputes the rollups over the retained events.
"""

from __future__ import annotations

import re
from datetime import datetime

from nhiwatch.dimensions import DIMENSIONS
from nhiwatch.store import Store

HOURLY_DDL = """CREATE TABLE IF NOT EXISTS rollup_hourly (
    integration_id VARCHAR, hour TIMESTAMP, action_class VARCHAR, status VARCHAR, events BIGINT,
    records BIGINT, bytes BIGINT, failures BIGINT, resources BIGINT, destinations BIGINT, tenants BIGINT,
    minutes UBIGINT, has_success BOOLEAN, fail_lead BIGINT, fail_inner BIGINT, fail_trail BIGINT)"""
SIZES_DDL = """CREATE TABLE IF NOT EXISTS rollup_sizes (
    integration_id VARCHAR, day DATE, action_class VARCHAR, metric VARCHAR, bucket INTEGER, n BIGINT,
    total DOUBLE, max DOUBLE)"""
VALUES_DDL = """CREATE TABLE IF NOT EXISTS rollup_values (
    integration_id VARCHAR, dimension VARCHAR, value VARCHAR, day DATE, first_seen TIMESTAMP,
    last_seen TIMESTAMP, events BIGINT)"""
LIFECYCLE_DDL = """CREATE TABLE IF NOT EXISTS rollup_lifecycle (
    integration_id VARCHAR, time TIMESTAMP, metadata_uid VARCHAR, action_class VARCHAR, api_operation VARCHAR,
    status VARCHAR, resource_name VARCHAR, actor_user_credential_uid VARCHAR, actor_user_name VARCHAR,
    actor_user_uid VARCHAR, actor_user_type VARCHAR, on_behalf_of VARCHAR, scopes VARCHAR[])"""
LIFECYCLE_CLASSES = ("credential_issue", "credential_revoke", "scope_grant")
STATE_DDL = "CREATE TABLE IF NOT EXISTS rollup_state (name VARCHAR PRIMARY KEY, value BIGINT)"
DDL = (HOURLY_DDL, SIZES_DDL, VALUES_DDL, LIFECYCLE_DDL, STATE_DDL)
# Value sets kept beside the baseline dimensions: what credentials and scopes were *used* for (lifecycle
# events, which issue, revoke or grant them, left out), for posture checks over the long memory.
USE_DIMENSIONS: dict[str, str] = {
    "credential_use": "CASE WHEN e.action_class NOT IN ('credential_issue', 'credential_revoke')"
    " THEN e.actor_user_credential_uid END",
}
_EVENT_COLUMN = re.compile(r"\be\.(\w+)")  # the event columns a dimension's expression reads
BUCKETS_PER_OCTAVE = 4  # size histogram resolution: a bucket spans 2^(1/4) of 1 + x, about 19 %

CURSOR = "cursor"  # last ingest_batch folded into the rollups
HORIZON = "raw_horizon"  # epoch microseconds before which raw events may have been pruned
_HOUR_US = 3_600_000_000

_HOURLY_BASE = """
    SELECT integration_id, time, date_trunc('hour', time) AS hr, action_class, status, records,
           CASE WHEN traffic_bytes_in IS NULL AND traffic_bytes_out IS NULL THEN NULL
                ELSE coalesce(traffic_bytes_in, 0) + coalesce(traffic_bytes_out, 0) END AS bytes,
           resource_name, lower(dst_endpoint_hostname) AS dst, metadata_tenant_uid
    FROM {source}"""
# Counts per status add up; distinct targets are counted per class and over all classes, not per status.
# The all-classes row of an hour (``whole``) also takes its active minutes and whether anything succeeded
# in the same pass.
_HOURLY_AGG = f"""
    SELECT integration_id, hr AS hour,
           CASE WHEN grouping(action_class) = 1 THEN '*' ELSE coalesce(action_class, '?') END AS action_class,
           '*' AS status, count(*) AS events, sum(records) AS records, sum(bytes) AS bytes,
           count(*) FILTER (status = 'Failure') AS failures, count(DISTINCT resource_name) AS resources,
           count(DISTINCT dst) AS destinations, count(DISTINCT metadata_tenant_uid) AS tenants,
           grouping(action_class) = 1 AS whole,
           CASE WHEN grouping(action_class) = 1 AND hr IS NOT NULL
                THEN bit_or(1::UBIGINT << minute(time)) END AS minutes,
           CASE WHEN grouping(action_class) = 1 AND hr IS NOT NULL THEN bool_or(status = 'Success') END
             AS has_success
    FROM ({_HOURLY_BASE})
    GROUP BY GROUPING SETS ((integration_id, hr, action_class), (integration_id, hr))
    UNION ALL
    SELECT integration_id, hr, coalesce(action_class, '?'), coalesce(status, '?'), count(*), sum(records),
           sum(bytes), count(*) FILTER (status = 'Failure'), NULL, NULL, NULL, false, NULL, NULL
    FROM ({_HOURLY_BASE}) GROUP BY integration_id, hr, coalesce(action_class, '?'), coalesce(status, '?')"""

# Failure runs of the hours that had failures: the hour's outcomes in time order as a string of S and F,
# split at the successes — the first piece is the failures before the first success, the last those after
# the last one, the longest of the others the longest run between two successes. A failure and a success at
# the same instant are taken failure first: in the order they were read, the same events could give two shapes.
_FAIL_SHAPE = """
    SELECT integration_id, hr, length(parts[1]) AS fail_lead,
           CASE WHEN len(parts) > 2 THEN list_max(list_transform(parts[2:-2], lambda p: length(p))) END
             AS fail_inner,
           CASE WHEN len(parts) > 1 THEN length(parts[-1]) END AS fail_trail
    FROM (SELECT integration_id, hr,
                 string_split(string_agg(CASE status WHEN 'Success' THEN 'S' ELSE 'F' END, '' ORDER BY time, status), 'S')
                   AS parts
          FROM (SELECT integration_id, date_trunc('hour', time) AS hr, time, status FROM {source} e
                SEMI JOIN ({failed}) f ON f.integration_id = e.integration_id AND f.hr = date_trunc('hour', e.time)
                WHERE status IN ('Success', 'Failure'))
          GROUP BY ALL)"""

_SIZES_AGG = """
    SELECT integration_id, day, coalesce(action_class, '?') AS action_class, metric,
           CAST(floor({per_octave} * log2(1 + v)) AS INTEGER) AS bucket, count(*) AS n, sum(v) AS total,
           max(v) AS max
    FROM (UNPIVOT (SELECT integration_id, CAST(time AS DATE) AS day, action_class,
                          CAST(records AS DOUBLE) AS records_per_op,
                          CASE WHEN traffic_bytes_in IS NULL AND traffic_bytes_out IS NULL THEN NULL
                               ELSE CAST(coalesce(traffic_bytes_in, 0) + coalesce(traffic_bytes_out, 0) AS DOUBLE)
                          END AS bytes_per_op
                   FROM {source})
          ON records_per_op, bytes_per_op INTO NAME metric VALUE v)
    WHERE v >= 0 GROUP BY ALL"""


def ensure_tables(store: Store) -> None:
    """Create the rollup tables; a store from before rollups gets ``ingest_batch`` and its rollups built."""
    fresh = not store.table_exists("rollup_state")
    store.ensure(*DDL)
    store.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS ingest_batch BIGINT DEFAULT nextval('nw_ingest_batch')"
    )
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


def raw_horizon(store: Store) -> datetime | None:
    """The time before which raw events may have been pruned (None: nothing was ever pruned)."""
    ensure_tables(store)
    micros = _get(store, HORIZON)
    return None if micros == 0 else store.scalar("SELECT make_timestamp(?)", [micros])


def set_raw_horizon(store: Store, horizon: datetime) -> None:
    """Record that raw events before ``horizon`` (naive UTC) may be gone: hours before it are added to,
    not recounted. Called by pruning; the horizon is taken back to its day's start so that a day of
    ``rollup_values`` is either wholly recountable or wholly kept."""
    ensure_tables(store)
    micros = int(store.scalar("SELECT epoch_us(date_trunc('day', ?::TIMESTAMP))", [horizon]))
    _set(store, HORIZON, max(micros, _get(store, HORIZON)))


def advance(store: Store) -> int:
    """Fold the events stored since the cursor into the rollups; returns how many were folded.

    One transaction, or part of the caller's (:meth:`Store.transaction` nests), so the cursor commits with
    whatever else the caller writes — the resolution of those same events."""
    ensure_tables(store)
    with store.transaction():
        return _advance(store)


def _advance(store: Store) -> int:
    lo = _get(store, CURSOR)
    hi = store.scalar("SELECT max(ingest_batch) FROM events WHERE ingest_batch > ?", [lo])
    if hi is None:
        return 0
    return _fold(store, f"ingest_batch > {int(lo)} AND ingest_batch <= {int(hi)}", int(hi))


def _fold(store: Store, where: str, cursor_to: int, *, whole_hours: bool = False) -> int:
    """Fold the attributed events matching ``where`` (this module's own predicate, its numbers written in
    by this module) into every rollup and move the cursor to ``cursor_to``. ``whole_hours``: the events are
    every event of the hours they fall in, none of which the rollups hold (a rebuild)."""
    # A view, not a copy: each fold reads only the columns it needs, and the copy cost more than it saved.
    store.execute(
        f"""CREATE OR REPLACE TEMP VIEW nw_roll_new AS
        SELECT {_COLUMNS} FROM events WHERE {where} AND integration_id IS NOT NULL"""
    )
    folded = int(store.scalar("SELECT count(*) FROM nw_roll_new") or 0)
    if folded:
        if whole_hours:
            _recount(store, "nw_roll_new")
        else:
            _fold_hourly(store)
        _fold_values(store)
        _fold_sizes(store)
        _fold_lifecycle(store)
    store.execute("DROP VIEW IF EXISTS nw_roll_new")
    _set(store, CURSOR, cursor_to)
    return folded


_HOURLY_COLUMNS = (
    "integration_id, hour, action_class, status, events, records, bytes, failures, resources, destinations,"
    " tenants, minutes, has_success"
)


def _recount(store: Store, source: str) -> None:
    """Insert the hourly rollups of every event in ``source`` (whole hours)."""
    store.execute("CREATE OR REPLACE TEMP TABLE nw_roll_hr AS " + _HOURLY_AGG.format(source=source))
    failed = "SELECT integration_id, hour AS hr FROM nw_roll_hr WHERE whole AND failures > 0"
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_roll_fail AS {_FAIL_SHAPE.format(source=source, failed=failed)}"""
    )
    cols = ", ".join(f"h.{c.strip()}" for c in _HOURLY_COLUMNS.split(","))
    store.execute(
        f"""INSERT INTO rollup_hourly ({_HOURLY_COLUMNS}, fail_lead, fail_inner, fail_trail)
        SELECT {cols}, CASE WHEN h.whole AND h.hour IS NOT NULL THEN coalesce(f.fail_lead, 0) END, f.fail_inner,
               CASE WHEN h.has_success THEN coalesce(f.fail_trail, 0) END
        FROM nw_roll_hr h LEFT JOIN nw_roll_fail f
          ON h.whole AND f.integration_id = h.integration_id AND f.hr = h.hour"""
    )
    store.execute("DROP TABLE nw_roll_hr")
    store.execute("DROP TABLE nw_roll_fail")


def _fold_hourly(store: Store) -> None:
    horizon = _get(store, HORIZON)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_roll_touched AS
        SELECT integration_id, date_trunc('hour', time) AS hr, epoch_us(date_trunc('hour', time)) >= ? AS retained
        FROM nw_roll_new GROUP BY ALL""",
        [horizon],
    )
    # Retained hours: recounted from every stored event of the hour (exact, and idempotent).
    bounds = store.fetchall("SELECT min(hr), max(hr) FROM nw_roll_touched WHERE retained")[0]
    if bounds[0] is not None:
        store.execute(
            """DELETE FROM rollup_hourly r USING nw_roll_touched t
            WHERE t.retained AND r.integration_id = t.integration_id AND r.hour = t.hr"""
        )
        hours = """SELECT {cols} FROM events e SEMI JOIN nw_roll_touched t ON t.retained
              AND e.integration_id = t.integration_id AND date_trunc('hour', e.time) = t.hr
            WHERE e.time >= ? AND e.time < ? + INTERVAL 1 HOUR"""
        stored = store.scalar(hours.format(cols="count(*)"), [bounds[0], bounds[1]])
        only_new = not store.scalar("SELECT count(*) FROM nw_roll_touched WHERE NOT retained")
        if only_new and stored == store.scalar("SELECT count(*) FROM nw_roll_new"):
            _recount(store, "nw_roll_new")  # the touched hours hold nothing but the new events (a new day)
        else:
            store.execute(
                "CREATE OR REPLACE TEMP TABLE nw_roll_hours AS " + hours.format(cols=_HOURLY_READS),
                [bounds[0], bounds[1]],
            )
            _recount(store, "nw_roll_hours")
            store.execute("DROP TABLE nw_roll_hours")
    # Hours whose raw events may be pruned: the late events are added to what the rollup holds.
    if store.scalar("SELECT count(*) FROM nw_roll_touched WHERE NOT retained"):
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE nw_roll_lateev AS
            SELECT {_HOURLY_READS} FROM nw_roll_new n SEMI JOIN nw_roll_touched t ON NOT t.retained
              AND n.integration_id = t.integration_id AND date_trunc('hour', n.time) = t.hr"""
        )
        store.execute(
            "CREATE OR REPLACE TEMP TABLE nw_roll_late AS " + _HOURLY_AGG.format(source="nw_roll_lateev")
        )
        _merge(
            store,
            "rollup_hourly",
            "nw_roll_late",
            keys=("integration_id", "hour", "action_class", "status"),
            add=("events", "records", "bytes", "failures"),
            most=("resources", "destinations", "tenants"),
            union=("minutes",),
            span_column="hour",
        )
        store.execute("DROP TABLE nw_roll_late")
        store.execute("DROP TABLE nw_roll_lateev")
    store.execute("DROP TABLE nw_roll_touched")


def _reads(expr: str) -> str:
    """The event columns a dimension's expression reads, as ``e.column, ...``."""
    return ", ".join(sorted({f"e.{c}" for c in _EVENT_COLUMN.findall(expr)}))


def _fold_values(store: Store) -> None:
    dims = {**DIMENSIONS, **USE_DIMENSIONS}
    # Events of one integration and day that agree on every column a dimension reads agree on its value:
    # one scan counts such groups, then each dimension groups them by the columns it reads, evaluates its
    # expression once per group (one of them is Python, slow per row) and adds up the groups of each value.
    read = _reads(" ".join(dims.values()))
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_roll_groups AS
        SELECT e.integration_id, CAST(e.time AS DATE) AS day, {read}, min(e.time) AS first_seen,
               max(e.time) AS last_seen, count(*) AS events
        FROM nw_roll_new e GROUP BY ALL"""
    )
    per_dimension = " UNION ALL ".join(
        f"""SELECT integration_id, '{dim}' AS dimension, value, day, min(first_seen) AS first_seen,
               max(last_seen) AS last_seen, CAST(sum(events) AS BIGINT) AS events
        FROM (SELECT e.integration_id, e.day, CAST({expr} AS VARCHAR) AS value, e.first_seen, e.last_seen, e.events
              FROM (SELECT e.integration_id, e.day, {_reads(expr)}, min(e.first_seen) AS first_seen,
                           max(e.last_seen) AS last_seen, sum(e.events) AS events
                    FROM nw_roll_groups e GROUP BY ALL) e)
        WHERE value IS NOT NULL GROUP BY ALL"""
        for dim, expr in dims.items()
    )
    scopes = (
        "SELECT e.integration_id, {dim} AS dimension, unnest(e.scopes) AS value, CAST(e.time AS DATE) AS day,"
        " e.time FROM nw_roll_new e WHERE len(e.scopes) > 0"
    )
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_roll_vals AS
        {per_dimension}
        UNION ALL
        SELECT integration_id, dimension, value, day, min(time), max(time), count(*) FROM (
          {scopes.format(dim="'scope'")}
          UNION ALL {scopes.format(dim="'scope_used'")} AND e.action_class IS DISTINCT FROM 'scope_grant')
        GROUP BY ALL"""
    )
    store.execute("DROP TABLE nw_roll_groups")
    _merge(
        store,
        "rollup_values",
        "nw_roll_vals",
        keys=("integration_id", "dimension", "value", "day"),
        add=("events",),
        least=("first_seen",),
        most=("last_seen",),
        span_column="day",
    )
    store.execute("DROP TABLE nw_roll_vals")


def _fold_sizes(store: Store) -> None:
    store.execute(
        "CREATE OR REPLACE TEMP TABLE nw_roll_sizes AS "
        + _SIZES_AGG.format(source="nw_roll_new", per_octave=BUCKETS_PER_OCTAVE)
    )
    _merge(
        store,
        "rollup_sizes",
        "nw_roll_sizes",
        keys=("integration_id", "day", "action_class", "metric", "bucket"),
        add=("n", "total"),
        most=("max",),
        span_column="day",
    )
    store.execute("DROP TABLE nw_roll_sizes")


def _fold_lifecycle(store: Store) -> None:
    cols = _LIFECYCLE_COLUMNS
    store.execute(
        f"INSERT INTO rollup_lifecycle ({cols}) SELECT {cols} FROM nw_roll_new"
        " WHERE action_class IN (" + ", ".join(f"'{c}'" for c in LIFECYCLE_CLASSES) + ")"
    )


# What the rollups read of an event: everything they summarise, nothing else (not the raw record).
_COLUMNS = """integration_id, time, action_class, status, records, traffic_bytes_in, traffic_bytes_out,
    resource_name, resource_type, dst_endpoint_hostname, metadata_tenant_uid, src_endpoint_ip, src_endpoint_asn,
    http_request_user_agent, actor_user_credential_uid, api_operation, scopes, metadata_uid, actor_user_name,
    actor_user_uid, actor_user_type, on_behalf_of"""
# What the hourly rollup reads (copied for the hours an advance recounts or adds to).
_HOURLY_READS = """integration_id, time, action_class, status, records, traffic_bytes_in, traffic_bytes_out,
    resource_name, dst_endpoint_hostname, metadata_tenant_uid"""
_LIFECYCLE_COLUMNS = (
    "integration_id, time, metadata_uid, action_class, api_operation, status, resource_name,"
    " actor_user_credential_uid, actor_user_name, actor_user_uid, actor_user_type, on_behalf_of, scopes"
)


def _merge(
    store: Store,
    target: str,
    delta: str,
    *,
    keys: tuple[str, ...],
    add: tuple[str, ...] = (),
    least: tuple[str, ...] = (),
    most: tuple[str, ...] = (),
    union: tuple[str, ...] = (),
    span_column: str,
) -> None:
    """Upsert ``delta`` into ``target``: matching keys add, take the least, the greatest or the bitwise
    union; new keys insert. Table and column names are this module's own constants, never data."""
    on = " AND ".join(f"t.{k} = d.{k}" for k in keys)
    sets = [f"{c} = coalesce(t.{c}, 0) + coalesce(d.{c}, 0)" for c in add]
    sets += [f"{c} = least(t.{c}, d.{c})" for c in least]
    sets += [f"{c} = greatest(t.{c}, d.{c})" for c in most]
    sets += [f"{c} = coalesce(t.{c}, 0::UBIGINT) | coalesce(d.{c}, 0::UBIGINT)" for c in union]
    # The delta covers a few days (or hours): bounding the target by them lets zone maps skip the rest.
    span = (
        f" AND t.{span_column} BETWEEN (SELECT min({span_column}) FROM {delta})"
        f" AND (SELECT max({span_column}) FROM {delta})"
    )
    store.execute(f"UPDATE {target} t SET {', '.join(sets)} FROM {delta} d WHERE {on}{span}")
    cols = ", ".join((*keys, *add, *least, *most, *union))
    store.execute(
        f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {delta} d "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on}{span})"
    )


def rebuild(store: Store) -> int:
    """Recompute the rollups of every retained event (after the inventory re-attributed history).

    Hours before the raw horizon keep what they hold: their events are gone."""
    ensure_tables(store)
    horizon = _get(store, HORIZON)
    tables = (
        ("rollup_hourly", "hour"),
        ("rollup_sizes", "day"),
        ("rollup_values", "day"),
        ("rollup_lifecycle", "time"),
    )
    for table, col in tables:
        store.execute(f"DELETE FROM {table} WHERE epoch_us(CAST({col} AS TIMESTAMP)) >= ?", [horizon])
    hi = int(store.scalar("SELECT coalesce(max(ingest_batch), 0) FROM events") or 0)
    # The horizon is a day's start (set_raw_horizon), so every hour is wholly before or after it.
    return _fold(store, f"time >= make_timestamp({int(horizon)})", hi, whole_hours=horizon % _HOUR_US == 0)


__all__ = [
    "DIMENSIONS",
    "advance",
    "cursor",
    "ensure_tables",
    "next_batch",
    "raw_horizon",
    "rebuild",
    "set_raw_horizon",
]
