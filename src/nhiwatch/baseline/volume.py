"""Hourly volume per integration and action class, by regime, plus records and bytes per operation.

For every clock hour with activity, the hourly rollup holds the events, records, bytes and the distinct
resources, destinations and tenants touched, per action class and across all classes (``*``). The
hourly series is summarised per (integration, class, regime, metric) with robust statistics: median,
a robust sigma from the inter-quartile range (IQR / 1.349), p95, p99, max and mean, and the median and
robust sigma of ``ln(1 + x)`` (volumes are closer to log-normal than normal), over *active* hours.
Days that are bursty by design (declared windows, learned regimes: :mod:`.calendar`, :mod:`.regimes`) are
summarised under their own regime (``month_end``, ``quarter_end``, ``year_end``, ``month_start``, ``weekly``),
so a month-end export is compared with earlier month ends and a quarter end with earlier quarter ends, not
with a quiet Tuesday. The ``close`` regime pools the hours of every month, quarter and year end: a close-only
kind of work (a month-end export runs an hour or two a month) rarely has enough hours at one kind of close,
and a month end that follows a quarter end is the same close process, not a new one — over the long memory of the rollups (``LONG_MEMORY_DAYS``), while the ``normal``
regime follows the recent weeks. Public holidays and the catch-up days after them are left out of ``normal``.

``baseline_daily`` holds the typical (median) ordinary business day per class for events, records and bytes:
the backlog model of a catch-up day (:mod:`nhiwatch.detectors._volume`) expects what the holidays held back.

Records and bytes *per operation* are read off the rollups' size histograms (1/8-octave buckets, each
standing at the mean of the values it holds), so their quantiles are within a bucket (about 9 %) of the
exact ones, and exact where a bucket holds a single size, as a job's fixed page size does.

Peer groups (same kind and vendor) get rows keyed ``peer:<kind>|<vendor>``: the median over members
that are past the learning state, which a cold-start integration falls back to.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.contract import HistoryWindow, rows_as_dicts
from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS baseline_volume (
    integration_id VARCHAR, action_class VARCHAR, regime VARCHAR, metric VARCHAR, n BIGINT,
    med DOUBLE, sigma DOUBLE, p95 DOUBLE, p99 DOUBLE, max DOUBLE, mean DOUBLE, med_log DOUBLE,
    sigma_log DOUBLE)"""
DAILY_DDL = """CREATE TABLE IF NOT EXISTS baseline_daily (
    integration_id VARCHAR, action_class VARCHAR, metric VARCHAR, days INTEGER, med DOUBLE)"""

METRICS = ("events", "records", "bytes", "resources", "destinations", "tenants")
CLOSES = ("month_end", "quarter_end", "year_end")  # nested: every year end is a quarter end, a month end
CLOSE = "close"  # the pooled regime of all close days, for a kind of work seen too few hours at one close
CLOSES_SQL = ", ".join(f"'{c}'" for c in CLOSES)


class Volume:
    name = "volume"
    tables = ("baseline_volume", "baseline_daily")
    ddl = (DDL, DAILY_DDL)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        store.execute("DELETE FROM baseline_volume")
        store.execute("DELETE FROM baseline_daily")
        stats = """count(*), median(v), (quantile_cont(v, 0.75) - quantile_cont(v, 0.25)) / 1.349,
                   quantile_cont(v, 0.95), quantile_cont(v, 0.99), max(v), avg(v), median(ln(1 + v)),
                   (quantile_cont(ln(1 + v), 0.75) - quantile_cont(ln(1 + v), 0.25)) / 1.349"""
        regime = """LEFT JOIN (SELECT integration_id, d FROM nw_regime_days
                                 UNION SELECT integration_id, d FROM nw_special_days) r
                      ON r.integration_id = h.integration_id AND r.d = CAST(h.lt AS DATE)"""
        store.execute(
            f"""INSERT INTO baseline_volume
            WITH hourly AS (
              SELECT h.integration_id, h.action_class, 'normal' AS regime,
                     events::DOUBLE AS events, records::DOUBLE AS records, bytes::DOUBLE AS bytes,
                     resources::DOUBLE AS resources, destinations::DOUBLE AS destinations,
                     tenants::DOUBLE AS tenants
              FROM nw_hours h {regime} WHERE r.d IS NULL
              UNION ALL
              SELECT integration_id, action_class, regime, events::DOUBLE, records::DOUBLE, bytes::DOUBLE,
                     resources::DOUBLE, destinations::DOUBLE, tenants::DOUBLE
              FROM nw_bursty_hours
              UNION ALL
              SELECT integration_id, action_class, '{CLOSE}', events::DOUBLE, records::DOUBLE, bytes::DOUBLE,
                     resources::DOUBLE, destinations::DOUBLE, tenants::DOUBLE
              FROM nw_bursty_hours WHERE regime IN ({CLOSES_SQL})),
            long AS (UNPIVOT hourly ON {", ".join(METRICS)} INTO NAME metric VALUE v)
            SELECT integration_id, action_class, regime, metric, {stats} FROM long GROUP BY ALL"""
        )
        # Per operation: quantiles read off the size histograms (each bucket stands at its own mean).
        store.execute(
            f"""INSERT INTO baseline_volume
            WITH b AS (
              SELECT integration_id, action_class, regime, metric, bucket, sum(n) AS n, sum(total) AS total,
                     max(mx) AS mx
              FROM (SELECT h.integration_id, h.action_class, 'normal' AS regime, h.metric, h.bucket, h.n, h.total,
                           h.max AS mx
                    FROM nw_sizes h {regime} WHERE r.d IS NULL
                    UNION ALL
                    SELECT integration_id, action_class, regime, metric, bucket, n, total, max
                    FROM nw_bursty_sizes
                    UNION ALL
                    SELECT integration_id, action_class, '{CLOSE}', metric, bucket, n, total, max
                    FROM nw_bursty_sizes WHERE regime IN ({CLOSES_SQL}))
              GROUP BY ALL),
            c AS (
              SELECT *, total / n AS rep,
                     sum(n) OVER (PARTITION BY integration_id, action_class, regime, metric ORDER BY bucket
                                  ROWS UNBOUNDED PRECEDING) AS cum,
                     sum(n) OVER (PARTITION BY integration_id, action_class, regime, metric) AS nn
              FROM b),
            q AS (
              SELECT integration_id, action_class, regime, metric, any_value(nn) AS n,
                     arg_min(rep, bucket) FILTER (cum >= 0.25 * nn) AS q25,
                     arg_min(rep, bucket) FILTER (cum >= 0.5 * nn) AS q50,
                     arg_min(rep, bucket) FILTER (cum >= 0.75 * nn) AS q75,
                     arg_min(rep, bucket) FILTER (cum >= 0.95 * nn) AS q95,
                     arg_min(rep, bucket) FILTER (cum >= 0.99 * nn) AS q99,
                     max(mx) AS mx, sum(total) / any_value(nn) AS mean
              FROM c GROUP BY ALL)
            SELECT integration_id, action_class, regime, metric, n, q50, (q75 - q25) / 1.349, q95, q99, mx, mean,
                   ln(1 + q50), (ln(1 + q75) - ln(1 + q25)) / 1.349
            FROM q"""
        )
        # the typical ordinary business day, for the backlog a catch-up day may bring (idle business days
        # between active ones count as zero)
        store.execute(
            f"""INSERT INTO baseline_daily
            WITH d AS (
              SELECT h.integration_id, h.action_class, CAST(h.lt AS DATE) AS d, sum(h.events)::DOUBLE AS events,
                     sum(coalesce(h.records, 0))::DOUBLE AS records, sum(coalesce(h.bytes, 0))::DOUBLE AS bytes
              FROM nw_hours h {regime} WHERE r.d IS NULL GROUP BY ALL),
            span AS (SELECT integration_id, min(d) AS lo, max(d) AS hi FROM d GROUP BY ALL),
            bdays AS (
              SELECT s.integration_id, c.d FROM span s JOIN nw_country n USING (integration_id)
              JOIN nw_calendar c ON c.country = n.country AND c.bday AND c.held_back = 0 AND c.d BETWEEN s.lo AND s.hi
              ANTI JOIN nw_regime_days r ON r.integration_id = s.integration_id AND r.d = c.d),
            grid AS (SELECT b.integration_id, k.action_class, b.d FROM bdays b
                     JOIN (SELECT DISTINCT integration_id, action_class FROM d) k USING (integration_id)),
            filled AS (
              SELECT g.integration_id, g.action_class, coalesce(d.events, 0) AS events,
                     coalesce(d.records, 0) AS records, coalesce(d.bytes, 0) AS bytes
              FROM grid g LEFT JOIN d USING (integration_id, action_class, d)),
            long AS (UNPIVOT filled ON events, records, bytes INTO NAME metric VALUE v)
            SELECT integration_id, action_class, metric, count(*), median(v) FROM long GROUP BY ALL"""
        )
        store.execute(
            """INSERT INTO baseline_volume
            SELECT 'peer:' || p.peer_group, v.action_class, v.regime, v.metric, count(*), median(v.med),
                   median(v.sigma), median(v.p95), median(v.p99), median(v.max), median(v.mean), median(v.med_log),
                   median(v.sigma_log)
            FROM baseline_volume v JOIN baseline_integrations p USING (integration_id)
            WHERE p.state <> 'learning' GROUP BY ALL"""
        )
        return int(store.scalar("SELECT count(*) FROM baseline_volume") or 0)

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        rows = rows_as_dicts(
            store,
            """SELECT action_class, regime, metric, n AS hours, med, sigma, p95, p99, max, mean
               FROM baseline_volume WHERE integration_id = ? ORDER BY action_class, regime, metric""",
            [integration_id],
        )
        return {"hourly": rows}
