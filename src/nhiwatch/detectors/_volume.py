"""Hourly volume against learned bounds: the kernel shared by volume_spike and unticketed_burst.

For each (integration, action class, clock hour) of the window it measures events, records, bytes and the
largest single operation, and compares each with the bound learned for the same class and regime:
``max(max_ratio x the largest hour seen, median + z x robust sigma, exp(median + z x robust sigma) of
ln(1 + x) - 1)``: the value must be beyond the largest hour *and* far in the tail on both the linear and
the log scale, so a heavy-tailed integration is not flagged for an ordinary big hour. Which learned row applies:

* the integration's own row for the class and regime (the day's regime on declared or learned burst days:
  ``month_end``, ``quarter_end``, ``year_end``, ...; ``normal`` otherwise);
* in a bursty day with no earlier day of its regime observed, the normal row times ``burst_allowance``;
  on a close (month, quarter or year end) also at least the bound of the class's hours at every earlier
  close (``close``), however few: the work a close did before is the close's usual work (with fewer than
  ``min_hours`` of them, the largest times ``burst_allowance``: two hours say nothing about a tail);
* a month end is judged against every earlier close (``close``) as well as against the month ends: every
  quarter and year end is a month end too, and a quarter end's own regime only raises the quarter end's bound;
* the first close of its kind in the integration's memory (its first month, quarter or year end) is allowed
  at least its normal bound times ``burst_allowance``: nothing yet tells how much heavier that close is;
* a class the integration never used falls back to its all-classes row;
* event counts must also be improbable as a Poisson draw around the largest hour seen (``alpha``);
* an integration still ``learning`` (or with fewer than ``min_hours`` active hours) uses its peer group
  (same kind and vendor), or the largest hour it has already shown when that is higher: a new backup job
  that wrote 46 files on its first night is judged on its first night, not again each night it does the
  same; ``provisional`` ones take the larger of their own and the peer bound.

Catch-up after public holidays (:mod:`nhiwatch.baseline.calendar`) follows a backlog model: on the first
business day after weekday holidays, the work the holidays held back may come on top of a normal day, so the
bound of events, records and bytes is raised by the *deficit* of those holidays — for each, the typical
ordinary business day of the class (``baseline_daily``) less what was actually moved that day, never below
zero. The allowance is what went missing, no more: a quiet holiday lets through one day's work, a busy one
nothing, and an export far beyond a day's volume still breaches. Sizes per operation are not raised: a backlog
is more operations, not larger ones.

The catch-up after a fleet event (a vendor outage or silence, :mod:`nhiwatch.fleet`) follows the same model:
for the integrations the event hit, from its first hour until ``catchup_hours`` after it, each row carries
the event's backlog for its class and metric (the volume the integration normally moves in those hours, less
what it moved) and ``fleet_allowance`` = backlog x ``backlog_slack``. The catch-up is what the breaching
hours move beyond their bound, summed in time order per class, metric and event: while it stays within the
allowance it repays the backlog and is explained by the event; the hour that takes it past is still a burst
(so a "catch-up" spread over many hours cannot repay the backlog many times).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nhiwatch.alerts.units import amount
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN, ts
from nhiwatch.baseline.stats import poisson_sf
from nhiwatch.baseline.volume import CLOSE, CLOSES_SQL
from nhiwatch.detectors._common import (
    STATE,
    STATE_JOIN,
    UNPLANNED,
    in_window,
    records,
    shared_done,
    shared_made,
)
from nhiwatch.detectors.base import DetectContext
from nhiwatch.fleet import PARAMS as FLEET
from nhiwatch.fleet import ensure as fleet_context
from nhiwatch.fleet import fleet_text
from nhiwatch.store import Store

HOURLY_METRICS = ("events", "records", "bytes")
OP_METRICS = {"records_op": "records_per_op", "bytes_op": "bytes_per_op"}


ALIASES = ("o", "oc", "onorm", "a", "anorm", "p", "ol")
STATS = ("n", "max", "med", "sigma", "med_log", "sigma_log")


def _bound(alias: str, max_ratio: float, z: float) -> str:
    return (
        f"greatest({alias}_max * {max_ratio}, {alias}_med + {z} * {alias}_sigma, "
        f"exp({alias}_med_log + {z} * {alias}_sigma_log) - 1)"
    )


def stage_hours(ctx: DetectContext, min_hours: int) -> None:
    """Temp table ``nw_volume_hours``: per (integration, class, hour, metric) of the window, the measure
    ``x`` and, flattened as ``<alias>_<stat>``, the learned rows a bound may use (``o`` own class and regime,
    ``oc`` own close days, ``onorm`` own normal, ``a``/``anorm`` own all classes, ``p`` peers, ``ol`` own
    normal with any number of hours), the first close, holiday and fleet backlogs."""
    # built once per step (and ``min_hours``), shared by volume_spike and unticketed_burst: the joins cost
    # more to plan than a micro-batch's hours cost to read
    if shared_done(ctx, ("volume_hours", min_hours)):
        return
    build_backlog(ctx)
    fleet_context(ctx)
    bmetric = (
        "CASE w.metric "
        + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in OP_METRICS.items())
        + " ELSE w.metric END"
    )
    keys = {
        "o": ("w.integration_id", "w.action_class", "w.regime", min_hours),
        "oc": (
            "w.integration_id",
            "w.action_class",
            f"CASE WHEN w.regime IN ({CLOSES_SQL}) THEN '{CLOSE}' END",
            1,
        ),
        "onorm": ("w.integration_id", "w.action_class", "'normal'", min_hours),
        "a": ("w.integration_id", "'*'", "w.regime", min_hours),
        "anorm": ("w.integration_id", "'*'", "'normal'", min_hours),
        "p": ("'peer:' || w.peer_group", "w.action_class", "'normal'", 1),
        "ol": ("w.integration_id", "w.action_class", "'normal'", 1),
    }
    joins = "\n".join(
        f"LEFT JOIN baseline_volume {a} ON {a}.integration_id = {i} AND {a}.action_class = {k} "
        f"AND {a}.regime = {r} AND {a}.metric = {bmetric} AND {a}.n >= {least}"
        for a, (i, k, r, least) in keys.items()
    )
    picks = ", ".join(f"{a}.{s} AS {a}_{s}" for a in ALIASES for s in STATS)
    ctx.store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_volume_hours AS
    WITH h AS (
      SELECT e.integration_id, e.action_class, date_trunc('hour', e.time) AS hr, {STATE} AS state,
             coalesce(r.regime, 'normal') AS regime, any_value(r.why) AS why, CAST({LOCAL} AS DATE) AS ld,
             coalesce(any_value(b.peer_group), '?') AS peer_group, min(e.time) AS first_seen, max(e.time) AS last_seen,
             count(*)::DOUBLE AS events, sum(e.records)::DOUBLE AS records,
             sum(coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0))::DOUBLE AS bytes,
             max(e.records)::DOUBLE AS records_op,
             max(coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0))::DOUBLE AS bytes_op
      FROM events e {TZ_JOIN} {STATE_JOIN}
      LEFT JOIN nw_regime_days r
        ON r.integration_id = e.integration_id AND r.d = CAST({LOCAL} AS DATE)
      WHERE {in_window(ctx)} AND {UNPLANNED} GROUP BY ALL),
    w AS (SELECT * FROM (UNPIVOT h ON events, records, bytes, records_op, bytes_op INTO NAME metric VALUE x)
          WHERE x > 0)
    SELECT w.*, {picks}, fc.d AS fc_d, k.deficit AS k_deficit, k.held_back AS k_held_back,
           fb.event_id AS fleet_event, fb.deficit AS fleet_backlog
    FROM w
    {joins}
    LEFT JOIN (SELECT DISTINCT integration_id, d FROM nw_first_closes) fc
      ON fc.integration_id = w.integration_id AND fc.d = w.ld
    LEFT JOIN nw_backlog k ON k.integration_id = w.integration_id AND k.action_class = w.action_class
      AND k.d = w.ld AND k.metric = w.metric
    LEFT JOIN nw_fleet_backlog fb ON fb.integration_id = w.integration_id AND fb.action_class = w.action_class
      AND fb.metric = w.metric AND w.hr >= fb.from_hr AND w.hr < fb.to_time
    QUALIFY row_number() OVER (PARTITION BY w.integration_id, w.action_class, w.hr, w.metric
                               ORDER BY fb.deficit DESC NULLS LAST) = 1"""
    )
    shared_made(ctx, ("volume_hours", min_hours))


def hourly_breaches(
    ctx: DetectContext,
    *,
    classes: tuple[str, ...] | None,
    max_ratio: float,
    z: float,
    burst_allowance: float,
    min_hours: int,
    metrics: tuple[str, ...] = ("events", "records", "bytes", "records_op", "bytes_op"),
    alpha: float = 1e-3,
) -> list[dict[str, Any]]:
    """Rows (integration_id, action_class, hr, metric, x, bound, basis, regime, state, backlog, ...) above
    bound; ``fleet_event`` / ``fleet_backlog`` / ``fleet_allowance`` when the hour is in a fleet event's
    catch-up, with ``catchup`` (the excess over the bound so far) and ``fleet_ok`` (it repays the backlog:
    :func:`fleet_explained`)."""
    stage_hours(ctx, min_hours)
    # action classes come from the alert config: a bound list, never spliced into the SQL
    cls = "" if classes is None else "AND list_contains($classes::VARCHAR[], action_class)"
    mlist = ", ".join(f"'{m}'" for m in metrics)
    bounds = ", ".join(f"{_bound(a, max_ratio, z)} AS b_{a}" for a in ("o", "oc", "onorm", "a", "anorm", "p"))
    ba = burst_allowance
    # Each bound is a column of the step before, so every formula is written (and planned) once.
    sql = f"""
    WITH b AS (SELECT *, {bounds} FROM nw_volume_hours WHERE metric IN ({mlist}) {cls}),
    -- a close-only kind of work has few hours (an export an hour a month): its largest close hour times the
    -- burst allowance, as a bursty day never observed gets its normal times the allowance, until it has
    -- enough hours for the tails to mean something
    c AS (SELECT *, CASE WHEN oc_n < {min_hours} THEN oc_max * {ba} ELSE b_oc END AS oc_bound,
                 coalesce(b_onorm * {ba}, b_a, b_anorm * CASE WHEN regime <> 'normal' THEN {ba} ELSE 1 END)
                   AS fallback FROM b),
    d AS (SELECT *, CASE WHEN o_n IS NULL THEN greatest(fallback, oc_bound)
                         WHEN regime = 'month_end' THEN greatest(b_o, oc_bound)
                         ELSE b_o END AS close_bound FROM c),
    -- the first close of its kind (month, quarter or year end) in the integration's memory: at least its
    -- normal hours times the burst allowance (nhiwatch.baseline.calendar.first_close)
    own AS (SELECT *, CASE WHEN fc_d IS NULL THEN close_bound
                           ELSE greatest(close_bound, b_onorm * {ba}, b_anorm * {ba}) END AS own_bound FROM d),
    scored AS (
      SELECT integration_id, action_class, hr, state, regime, why, ld, peer_group, first_seen, last_seen, metric, x,
        CASE WHEN state = 'learning' AND p_n IS NULL THEN NULL  -- no peers: nothing to judge by yet
             WHEN state = 'learning' THEN greatest(b_p, coalesce(ol_max, 0))
             WHEN state = 'provisional' THEN greatest(own_bound, coalesce(b_p, 0))
             ELSE own_bound END + coalesce(k_deficit, 0) AS bound,
        k_deficit AS backlog, k_held_back AS held_back,
        CASE WHEN state = 'learning' THEN 'peer ' || peer_group
             WHEN fc_d IS NOT NULL AND greatest(b_onorm, b_anorm) * {ba} > coalesce(close_bound, 0)
                  THEN 'own normal x burst allowance at a first close'
             WHEN o_n IS NOT NULL AND regime = 'month_end' AND oc_n IS NOT NULL AND oc_bound > b_o
                  THEN 'own close days'
             WHEN o_n IS NOT NULL THEN 'own ' || regime
             WHEN oc_n IS NOT NULL AND fallback IS NULL OR oc_bound > fallback THEN 'own close days'
             WHEN onorm_n IS NOT NULL THEN 'own normal x burst allowance'
             WHEN a_n IS NOT NULL OR anorm_n IS NOT NULL THEN 'own, all classes' END AS basis,
        coalesce(o_med, onorm_med, oc_med, a_med, anorm_med, p_med) AS med,
        coalesce(CASE WHEN regime = 'month_end' THEN greatest(o_max, oc_max) ELSE o_max END,
                 greatest(coalesce(onorm_max, a_max, anorm_max), oc_max), p_max) + coalesce(k_deficit, 0)
          AS hist_max,
        coalesce(o_n, onorm_n, oc_n, a_n, anorm_n, p_n) AS hist_n,
        fleet_event, fleet_backlog, fleet_backlog * {FLEET.backlog_slack} AS fleet_allowance
      FROM own)
    SELECT * REPLACE (greatest(bound, 1) AS bound) FROM scored
    -- counts, records and bytes are whole units: a bound under one unit means none seen, and divides by ~0
    WHERE bound IS NOT NULL AND x > greatest(bound, 1) ORDER BY integration_id, hr, action_class, metric"""
    # Event counts are counts: a small hourly maximum is exceeded by chance, so the count must also be
    # improbable as a Poisson draw around the largest hour seen.
    return repayments(
        [
            r
            for r in records(ctx.store, sql, None if classes is None else {"classes": list(classes)})
            if r["metric"] != "events" or poisson_sf(int(r["x"]), max(float(r["hist_max"] or 0), 1.0)) < alpha
        ]
    )


def repayments(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each breach in a fleet event's catch-up with ``catchup`` (its excess over the bound, summed with
    the earlier breaching hours of the same integration, class, metric and event) and ``fleet_ok`` (that sum
    is within the allowance).

    >>> from datetime import datetime as d
    >>> rows = [{"integration_id": "a", "action_class": "read", "metric": "records", "fleet_event": "fe-1",
    ...          "hr": d(2026, 1, 1, h), "x": 900.0, "bound": 500.0, "fleet_allowance": 600.0} for h in (17, 18)]
    >>> [(r["catchup"], r["fleet_ok"]) for r in repayments(rows)]
    [(400.0, True), (800.0, False)]
    """
    total: dict[tuple[Any, ...], float] = {}
    for r in sorted(rows, key=lambda r: r["hr"]):
        if not r.get("fleet_event"):
            r["catchup"], r["fleet_ok"] = None, False
            continue
        key = (r["integration_id"], r["action_class"], r["metric"], r["fleet_event"])
        total[key] = total.get(key, 0.0) + float(r["x"]) - float(r["bound"])
        r["catchup"] = total[key]
        r["fleet_ok"] = total[key] <= float(r["fleet_allowance"] or 0)
    return rows


def build_backlog(ctx: DetectContext) -> None:
    """Temp table ``nw_backlog(integration_id, action_class, d, metric, deficit, held_back)``: for each
    catch-up day near the window, what its holidays held back (typical day less what they moved)."""
    lo = ctx.since - timedelta(days=16)  # a catch-up day looks back over at most two weeks of holidays
    if not ctx.store.table_exists("rollup_hourly"):  # nothing ingested through the rollups yet
        ctx.store.execute(
            """CREATE OR REPLACE TEMP TABLE nw_backlog (integration_id VARCHAR, action_class VARCHAR, d DATE,
               metric VARCHAR, deficit DOUBLE, held_back INTEGER)"""
        )
        return
    ctx.store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_backlog AS
        WITH days AS (
          SELECT s.integration_id, s.d, hb.hday, s.held_back FROM nw_special_days s
          JOIN nw_country n USING (integration_id) JOIN nw_holdback hb ON hb.country = n.country AND hb.d = s.d
          WHERE s.kind = 'catch_up' AND s.d >= CAST({ts(ctx.since)} AS DATE) - 1
            AND s.d <= CAST({ts(ctx.until)} AS DATE) + 1),
        obs AS (
          SELECT e.integration_id, e.action_class, CAST(timezone(coalesce(z.tz, 'UTC'), e.hour::TIMESTAMPTZ) AS DATE)
                   AS hday, sum(e.events)::DOUBLE AS events, sum(coalesce(e.records, 0))::DOUBLE AS records,
                 sum(coalesce(e.bytes, 0))::DOUBLE AS bytes
          FROM rollup_hourly e {TZ_JOIN}
          WHERE e.status = '*' AND e.action_class <> '*' AND e.hour >= {ts(lo)} AND e.hour < {ts(ctx.until)}
            AND e.integration_id IN (SELECT integration_id FROM days)
          GROUP BY ALL),
        obs_long AS (UNPIVOT obs ON events, records, bytes INTO NAME metric VALUE v)
        SELECT d.integration_id, t.action_class, d.d, t.metric,
               sum(greatest(t.med - coalesce(o.v, 0), 0)) AS deficit, any_value(d.held_back) AS held_back
        FROM days d JOIN baseline_daily t ON t.integration_id = d.integration_id
        LEFT JOIN obs_long o ON o.integration_id = d.integration_id AND o.action_class = t.action_class
          AND o.hday = d.hday AND o.metric = t.metric
        GROUP BY ALL"""
    )


def evidence_for(
    ctx: DetectContext, integ: str, klass: str | None, first: Any, last: Any, order: str
) -> list[str]:
    """The most telling events of one stretch (largest first)."""
    cond = "" if klass is None else "AND action_class = ?"
    params: list[Any] = [integ, first, last] + ([klass] if klass else [])
    rows = ctx.store.fetchall(
        f"""SELECT metadata_uid FROM events WHERE integration_id = ? AND time >= ? AND time <= ? {cond}
            ORDER BY {order} DESC NULLS LAST, time LIMIT 20""",
        params,
    )
    return [r[0] for r in rows]


def fleet_explained(row: dict[str, Any]) -> bool:
    """The breach repays a fleet event's backlog (see :func:`repayments`)."""
    return bool(row.get("fleet_ok"))


def catchup_text(store: Store, rs: list[dict[str, Any]], unit: str, explained: bool) -> str:
    """ "; catch-up of 3.1k records repays a backlog of 3.4k (Salesforce outage ...)" for breaches in a fleet
    event's catch-up ("is more than" when it does not), or "" outside any."""
    caught = [r for r in rs if r["fleet_event"]]
    if not caught:
        return ""
    r = max(caught, key=lambda r: float(r["catchup"]) / max(float(r["fleet_allowance"] or 0), 1.0))
    what = "repays" if explained else "is more than"
    return (
        f"; catch-up of {amount(float(r['catchup']), unit)} over the bound {what} a backlog of "
        f"{amount(float(r['fleet_backlog'] or 0), unit)} ({fleet_text(store, r['fleet_event'])})"
    )
