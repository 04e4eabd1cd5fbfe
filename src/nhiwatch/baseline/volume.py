"""Hourly volume per integration and action class, by regime, plus records and bytes per operation.

For every clock hour with activity, the estimator counts events, records, bytes and the distinct
resources, destinations and tenants touched, per action class and across all classes (``*``). The
hourly series is summarised per (integration, class, regime, metric) with robust statistics: median,
a robust sigma from the inter-quartile range (IQR / 1.349), p95, p99, max and mean, and the median and
robust sigma of ``ln(1 + x)`` (volumes are closer to log-normal than normal), over *active* hours.
Regime ``bursty`` holds the hours of local days that are bursty by design (declared windows, learned month
end), so a month-end export is compared with earlier month ends, not with a quiet Tuesday.

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

METRICS = ("events", "records", "bytes", "resources", "destinations", "tenants")


class Volume:
    name = "volume"
    tables = ("baseline_volume",)
    ddl = (DDL,)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        store.execute("DELETE FROM baseline_volume")
        stats = """count(*), median(v), (quantile_cont(v, 0.75) - quantile_cont(v, 0.25)) / 1.349,
                   quantile_cont(v, 0.95), quantile_cont(v, 0.99), max(v), avg(v), median(ln(1 + v)),
                   (quantile_cont(ln(1 + v), 0.75) - quantile_cont(ln(1 + v), 0.25)) / 1.349"""
        store.execute(
            f"""INSERT INTO baseline_volume
            WITH hourly AS (
              SELECT h.integration_id, coalesce(h.action_class, '*') AS action_class,
                     CASE WHEN r.d IS NULL THEN 'normal' ELSE 'bursty' END AS regime,
                     events, records, bytes, resources, destinations, tenants
              FROM (SELECT integration_id, action_class, date_trunc('hour', time) AS hr, CAST(lt AS DATE) AS d,
                           count(*)::DOUBLE AS events, sum(records)::DOUBLE AS records, sum(bytes)::DOUBLE AS bytes,
                           count(DISTINCT resource_name)::DOUBLE AS resources,
                           count(DISTINCT dst_endpoint_hostname)::DOUBLE AS destinations,
                           count(DISTINCT metadata_tenant_uid)::DOUBLE AS tenants
                    FROM nw_hist
                    GROUP BY GROUPING SETS ((integration_id, action_class, hr, d), (integration_id, hr, d))) h
              LEFT JOIN (SELECT DISTINCT integration_id, d FROM nw_regime_days) r
                ON r.integration_id = h.integration_id AND r.d = h.d),
            long AS (UNPIVOT hourly ON {", ".join(METRICS)} INTO NAME metric VALUE v)
            SELECT integration_id, action_class, regime, metric, {stats} FROM long GROUP BY ALL
            UNION ALL
            SELECT integration_id, action_class, regime, metric, {stats} FROM (
              UNPIVOT (SELECT h.integration_id, h.action_class,
                              CASE WHEN r.d IS NULL THEN 'normal' ELSE 'bursty' END AS regime,
                              h.records::DOUBLE AS records_per_op, h.bytes::DOUBLE AS bytes_per_op
                       FROM nw_hist h LEFT JOIN (SELECT DISTINCT integration_id, d FROM nw_regime_days) r
                         ON r.integration_id = h.integration_id AND r.d = CAST(h.lt AS DATE))
              ON records_per_op, bytes_per_op INTO NAME metric VALUE v)
            GROUP BY ALL"""
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
