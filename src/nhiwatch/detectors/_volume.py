"""Hourly volume against learned bounds: the kernel shared by volume_spike and unticketed_burst.

For each (integration, action class, clock hour) of the window it measures events, records, bytes and the
largest single operation, and compares each with the bound learned for the same class and regime:
``max(max_ratio x the largest hour seen, median + z x robust sigma, exp(median + z x robust sigma) of
ln(1 + x) - 1)``: the value must be beyond the largest hour *and* far in the tail on both the linear and
the log scale, so a heavy-tailed integration is not flagged for an ordinary big hour. Which learned row applies:

* the integration's own row for the class and regime (``bursty`` on declared or learned burst days);
* in a bursty day with no earlier burst observed, the normal row times ``burst_allowance``;
* a class the integration never used falls back to its all-classes row;
* event counts must also be improbable as a Poisson draw around the largest hour seen (``alpha``);
* an integration still ``learning`` (or with fewer than ``min_hours`` active hours) uses its peer group
  (same kind and vendor); ``provisional`` ones take the larger of their own and the peer bound.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.frames import LOCAL, TZ_JOIN
from nhiwatch.baseline.stats import poisson_sf
from nhiwatch.detectors._common import STATE, STATE_JOIN, UNPLANNED, in_window, records
from nhiwatch.detectors.base import DetectContext

HOURLY_METRICS = ("events", "records", "bytes")
OP_METRICS = {"records_op": "records_per_op", "bytes_op": "bytes_per_op"}


def _bound(alias: str, max_ratio: float, z: float) -> str:
    return (
        f"greatest({alias}.max * {max_ratio}, {alias}.med + {z} * {alias}.sigma, "
        f"exp({alias}.med_log + {z} * {alias}.sigma_log) - 1)"
    )


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
    """Rows (integration_id, action_class, hr, metric, x, bound, basis, regime, state, ...) above bound."""
    # action classes come from the alert config: a bound list, never spliced into the SQL
    cls = "" if classes is None else "AND list_contains($classes::VARCHAR[], e.action_class)"
    bmetric = (
        "CASE w.metric "
        + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in OP_METRICS.items())
        + " ELSE w.metric END"
    )
    mlist = ", ".join(f"'{m}'" for m in metrics)

    def j(alias: str, integ: str, klass: str, regime: str, least: int = min_hours) -> str:
        return (
            f"LEFT JOIN baseline_volume {alias} ON {alias}.integration_id = {integ} AND {alias}.action_class = "
            f"{klass} AND {alias}.regime = {regime} AND {alias}.metric = {bmetric} AND {alias}.n >= {least}"
        )

    own_bound = f"""coalesce({_bound("o", max_ratio, z)}, {_bound("onorm", max_ratio, z)} * {burst_allowance},
                             {_bound("a", max_ratio, z)}, {_bound("anorm", max_ratio, z)}
                             * CASE WHEN w.regime = 'bursty' THEN {burst_allowance} ELSE 1 END)"""
    sql = f"""
    WITH h AS (
      SELECT e.integration_id, e.action_class, date_trunc('hour', e.time) AS hr, {STATE} AS state,
             CASE WHEN r.d IS NULL THEN 'normal' ELSE 'bursty' END AS regime, any_value(r.why) AS why,
             coalesce(any_value(b.peer_group), '?') AS peer_group, min(e.time) AS first_seen, max(e.time) AS last_seen,
             count(*)::DOUBLE AS events, sum(e.records)::DOUBLE AS records,
             sum(coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0))::DOUBLE AS bytes,
             max(e.records)::DOUBLE AS records_op,
             max(coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0))::DOUBLE AS bytes_op
      FROM events e {TZ_JOIN} {STATE_JOIN}
      LEFT JOIN (SELECT integration_id, d, min(why) AS why FROM nw_regime_days GROUP BY ALL) r
        ON r.integration_id = e.integration_id AND r.d = CAST({LOCAL} AS DATE)
      WHERE {in_window(ctx)} AND {UNPLANNED} {cls} GROUP BY ALL),
    w AS (SELECT * FROM (UNPIVOT h ON {", ".join(("events", "records", "bytes", "records_op", "bytes_op"))}
                         INTO NAME metric VALUE x) WHERE metric IN ({mlist}) AND x > 0),
    scored AS (
      SELECT w.*,
        CASE WHEN w.state = 'learning' THEN {_bound("p", max_ratio, z)}
             WHEN w.state = 'provisional' THEN greatest({own_bound}, coalesce({_bound("p", max_ratio, z)}, 0))
             ELSE {own_bound} END AS bound,
        CASE WHEN w.state = 'learning' THEN 'peer ' || w.peer_group
             WHEN o.n IS NOT NULL THEN 'own ' || w.regime
             WHEN onorm.n IS NOT NULL THEN 'own normal x burst allowance'
             WHEN a.n IS NOT NULL OR anorm.n IS NOT NULL THEN 'own, all classes' END AS basis,
        coalesce(o.med, onorm.med, a.med, anorm.med, p.med) AS med,
        coalesce(o.max, onorm.max, a.max, anorm.max, p.max) AS hist_max,
        coalesce(o.n, onorm.n, a.n, anorm.n, p.n) AS hist_n
      FROM w
      {j("o", "w.integration_id", "w.action_class", "w.regime")}
      {j("onorm", "w.integration_id", "w.action_class", "'normal'")}
      {j("a", "w.integration_id", "'*'", "w.regime")}
      {j("anorm", "w.integration_id", "'*'", "'normal'")}
      {j("p", "'peer:' || w.peer_group", "w.action_class", "'normal'", 1)})
    SELECT * REPLACE (greatest(bound, 1) AS bound) FROM scored
    -- counts, records and bytes are whole units: a bound under one unit means none seen, and divides by ~0
    WHERE bound IS NOT NULL AND x > greatest(bound, 1) ORDER BY integration_id, hr"""
    # Event counts are counts: a small hourly maximum is exceeded by chance, so the count must also be
    # improbable as a Poisson draw around the largest hour seen.
    return [
        r
        for r in records(ctx.store, sql, None if classes is None else {"classes": list(classes)})
        if r["metric"] != "events" or poisson_sf(int(r["x"]), max(float(r["hist_max"] or 0), 1.0)) < alpha
    ]


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
