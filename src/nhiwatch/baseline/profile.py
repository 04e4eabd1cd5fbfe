"""Per-integration profile: maturity state, active days, failure ratio and retry shape, cadence.

One row per integration in ``baseline_integrations`` (declared ones without history included, in state
``learning``). Cold start is explicit: ``learning`` (under ``LEARN_DAYS`` of history or under ``LEARN_EVENTS``
events) leans on the declared schedule and peers; ``provisional`` (under ``ESTABLISHED_DAYS`` of span or
under ``ESTABLISHED_ACTIVE_DAYS`` active days) is used with stricter thresholds; ``established`` is trusted.

Cadence: consecutive active minutes more than 90 s apart start a new *run*; the median gap between runs is
the polling period and its MAD/median the regularity (0 = clockwork). Calendar regimes (month, quarter and
year ends) are learned apart, over the long memory (:mod:`nhiwatch.baseline.regimes`).
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.contract import HistoryWindow, rows_as_dicts
from nhiwatch.baseline.frames import ts
from nhiwatch.store import Store

LEARN_DAYS, LEARN_EVENTS = 7, 20
ESTABLISHED_DAYS, ESTABLISHED_ACTIVE_DAYS = 21, 7
RUN_GAP_S = 90

DDL = """CREATE TABLE IF NOT EXISTS baseline_integrations (
    integration_id VARCHAR PRIMARY KEY, history_start TIMESTAMP, until TIMESTAMP, state VARCHAR,
    tz VARCHAR, peer_group VARCHAR, first_seen TIMESTAMP, last_seen TIMESTAMP, events BIGINT,
    active_days INTEGER, active_hours INTEGER, span_days DOUBLE, duty_cycle DOUBLE,
    hours_per_day_p95 DOUBLE, hours_per_day_max INTEGER, failure_ratio DOUBLE, fail_run_p99 DOUBLE,
    fail_run_max INTEGER, period_s DOUBLE, period_mad_s DOUBLE, runs INTEGER)"""


class Profile:
    name = "profile"
    tables = ("baseline_integrations",)
    ddl = (DDL,)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        store.execute("DELETE FROM baseline_integrations")
        store.execute(
            f"""INSERT INTO baseline_integrations
            WITH hours AS (SELECT * FROM nw_hours WHERE action_class = '*'),
            -- rhythm (period, hours a day) from ordinary days: a close runs faster and longer by design
            ordinary AS (SELECT h.* FROM hours h ANTI JOIN nw_regime_days r
                         ON r.integration_id = h.integration_id AND r.d = CAST(h.lt AS DATE)),
            -- an hour's active minutes, its first and last, and the gaps of two minutes or more inside it
            act AS (
              SELECT integration_id, hour, ms, hour + to_minutes(ms[1]) AS first_m,
                     hour + to_minutes(ms[-1]) AS last_m,
                     list_filter(list_transform(range(1, len(ms)), lambda i: ms[i + 1] - ms[i]), lambda g: g > 1)
                       AS inner_gaps
              FROM (SELECT integration_id, hour, list_filter(range(60), lambda k: (minutes >> k) & 1 = 1) AS ms
                    FROM ordinary WHERE minutes IS NOT NULL AND minutes <> 0)),
            base AS (
              SELECT h.integration_id, mm.f, mm.l, sum(events) AS n,
                     count(DISTINCT CAST(lt AS DATE)) AS days, count(*) AS hours,
                     sum(failures) / sum(events) AS fr
              FROM hours h LEFT JOIN (SELECT integration_id, min(first_m) AS f, max(last_m) AS l FROM act GROUP BY ALL) mm
                USING (integration_id)
              GROUP BY ALL),
            daily AS (
              SELECT integration_id, CAST(lt AS DATE) AS d, count(DISTINCT hour(lt)) AS h FROM ordinary GROUP BY ALL),
            dstats AS (
              SELECT integration_id, max(h) AS hmax, quantile_cont(h, 0.95) AS hp95 FROM daily GROUP BY ALL),
            -- gaps between consecutive active minutes: inside each hour, and from one active hour's last
            -- minute to the next one's first (only gaps over RUN_GAP_S matter below; a minute apart is one run)
            gaps AS (
              SELECT integration_id, 60.0 * unnest(inner_gaps) AS gap FROM act
              UNION ALL
              SELECT integration_id,
                     epoch(first_m - lag(last_m) OVER (PARTITION BY integration_id ORDER BY hour)) AS gap
              FROM act),
            runs AS (SELECT integration_id, median(gap) AS per, count(*) AS nruns
                     FROM gaps WHERE gap > {RUN_GAP_S} GROUP BY ALL),
            runmad AS (SELECT g.integration_id, median(abs(g.gap - r.per)) AS mad
                       FROM gaps g JOIN runs r USING (integration_id) WHERE g.gap > {RUN_GAP_S} GROUP BY ALL),
            -- failure runs stitched across hours: a run starts after an hour's last success, takes every
            -- failure of the following hours without a success, and ends with the next success's leaders
            fh AS (
              SELECT integration_id, hour, has_success, fail_lead, fail_inner, fail_trail, failures,
                     sum(has_success::INT) OVER (PARTITION BY integration_id ORDER BY hour
                                                 ROWS UNBOUNDED PRECEDING) AS g
              FROM hours WHERE has_success IS NOT NULL
                AND integration_id IN (SELECT integration_id FROM hours WHERE failures > 0)),
            chained AS (
              SELECT c.integration_id, c.body + coalesce(nx.fail_lead, 0) AS nf FROM (
                SELECT integration_id, g, sum(CASE WHEN has_success THEN fail_trail ELSE failures END) AS body
                FROM fh GROUP BY ALL) c
              LEFT JOIN (SELECT integration_id, g - 1 AS g, fail_lead FROM fh WHERE has_success) nx
                USING (integration_id, g)
              UNION ALL SELECT integration_id, fail_inner FROM fh WHERE fail_inner IS NOT NULL),
            fstats AS (SELECT integration_id, quantile_cont(nf, 0.99) AS fp99, max(nf) AS fmax
                       FROM chained WHERE nf > 0 GROUP BY ALL)
            SELECT i.id, {ts(window.start)}, {ts(window.until)},
                   CASE WHEN b.n IS NULL OR b.n < {LEARN_EVENTS}
                          OR epoch({ts(window.until)} - b.f) / 86400 < {LEARN_DAYS} THEN 'learning'
                        WHEN epoch({ts(window.until)} - b.f) / 86400 < {ESTABLISHED_DAYS}
                          OR b.days < {ESTABLISHED_ACTIVE_DAYS} THEN 'provisional'
                        ELSE 'established' END,
                   coalesce(json_extract_string(i.schedule, '$.timezone'), 'UTC'),
                   coalesce(i.kind, '?') || '|' || coalesce(i.vendor, i.discovered_source, '?'),
                   b.f, b.l, coalesce(b.n, 0), coalesce(b.days, 0), coalesce(b.hours, 0),
                   coalesce(epoch({ts(window.until)} - b.f) / 86400, 0),
                   b.hours / greatest(1, epoch({ts(window.until)} - date_trunc('hour', b.f)) / 3600),
                   d.hp95, d.hmax, b.fr, coalesce(fs.fp99, 0), coalesce(fs.fmax, 0), r.per, m.mad,
                   coalesce(r.nruns, 0)
            FROM integrations i LEFT JOIN base b ON b.integration_id = i.id
            LEFT JOIN dstats d ON d.integration_id = i.id LEFT JOIN runs r ON r.integration_id = i.id
            LEFT JOIN runmad m ON m.integration_id = i.id LEFT JOIN fstats fs ON fs.integration_id = i.id"""
        )
        return int(store.scalar("SELECT count(*) FROM baseline_integrations") or 0)

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        rows = rows_as_dicts(
            store,
            "SELECT * EXCLUDE (integration_id) FROM baseline_integrations WHERE integration_id = ?",
            [integration_id],
        )
        return rows[0] if rows else {}
