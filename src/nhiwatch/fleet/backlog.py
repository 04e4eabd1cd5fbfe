"""The backlog a fleet event leaves on each integration it touched, which its catch-up may repay.

For each integration the event touched (``nw_fleet``: hit, or failing with its reasons in its window), action class and metric (events, records, bytes): the volume it normally
moves in the hours the event covered — its average for that UTC hour of the day over its active days among
the ``expect_days`` before the event, from ``rollup_hourly``, weighted by the share of each hour the event
covered — less what it did move successfully in the event's window (from the events). Never below zero:
an integration that kept working through the outage owes nothing. The catch-up may come from the event's
first hour until ``catchup_hours`` after its end.
"""

from __future__ import annotations

from nhiwatch.fleet.find import PARAMS, FleetParams
from nhiwatch.store import Store

EMPTY = """CREATE OR REPLACE TEMP TABLE nw_fleet_backlog (event_id VARCHAR, integration_id VARCHAR,
    action_class VARCHAR, metric VARCHAR, deficit DOUBLE, expected DOUBLE, observed DOUBLE,
    from_hr TIMESTAMP, to_time TIMESTAMP)"""


def build_backlog(store: Store, p: FleetParams = PARAMS) -> None:
    """Temp table ``nw_fleet_backlog`` for the integrations of ``nw_fleet`` (see the module docstring)."""
    if not store.table_exists("rollup_hourly") or not store.scalar("SELECT count(*) FROM nw_fleet_events"):
        store.execute(EMPTY)
        return
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_fleet_backlog AS
        WITH fe AS (SELECT event_id, start_time, end_time, integration_id FROM nw_fleet),
        hrs AS (
          SELECT fe.*, h AS hr, hour(h) AS hod,
                 greatest(epoch(least(end_time, h + INTERVAL 1 HOUR)) - epoch(greatest(start_time, h)), 0) / 3600
                   AS frac
          FROM fe, unnest(range(date_trunc('hour', start_time), greatest(end_time, start_time + INTERVAL 1 SECOND),
                                INTERVAL 1 HOUR)) AS t(h)),
        first AS (SELECT integration_id, min(start_time) AS s FROM fe GROUP BY ALL),
        hist AS (
          SELECT r.integration_id, r.action_class, hour(r.hour) AS hod, CAST(r.hour AS DATE) AS d,
                 r.events::DOUBLE AS events, coalesce(r.records, 0)::DOUBLE AS records,
                 coalesce(r.bytes, 0)::DOUBLE AS bytes
          FROM rollup_hourly r JOIN first f USING (integration_id)
          WHERE r.status = '*' AND r.action_class <> '*' AND r.hour >= f.s - to_days($days) AND r.hour < f.s),
        active AS (SELECT integration_id, count(DISTINCT d) AS nd FROM hist GROUP BY ALL),
        per AS (
          SELECT h.integration_id, h.action_class, h.hod, sum(h.events) / a.nd AS events,
                 sum(h.records) / a.nd AS records, sum(h.bytes) / a.nd AS bytes
          FROM hist h JOIN active a USING (integration_id) GROUP BY h.integration_id, h.action_class, h.hod, a.nd),
        expected AS (
          SELECT x.event_id, x.integration_id, p.action_class, sum(p.events * x.frac) AS events,
                 sum(p.records * x.frac) AS records, sum(p.bytes * x.frac) AS bytes
          FROM hrs x JOIN per p ON p.integration_id = x.integration_id AND p.hod = x.hod GROUP BY ALL),
        observed AS (
          SELECT fe.event_id, e.integration_id, e.action_class, count(*)::DOUBLE AS events,
                 sum(coalesce(e.records, 0))::DOUBLE AS records,
                 sum(coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0))::DOUBLE AS bytes
          FROM events e JOIN fe ON fe.integration_id = e.integration_id
            AND e.time >= fe.start_time AND e.time <= fe.end_time
          WHERE e.status = 'Success' GROUP BY ALL),
        ex AS (UNPIVOT expected ON events, records, bytes INTO NAME metric VALUE v),
        ob AS (UNPIVOT observed ON events, records, bytes INTO NAME metric VALUE v)
        SELECT ex.event_id, ex.integration_id, ex.action_class, ex.metric,
               greatest(ex.v - coalesce(ob.v, 0), 0) AS deficit, ex.v AS expected, coalesce(ob.v, 0) AS observed,
               date_trunc('hour', f.start_time) AS from_hr, f.end_time + to_hours($catchup) AS to_time
        FROM ex JOIN nw_fleet_events f USING (event_id)
        LEFT JOIN ob USING (event_id, integration_id, action_class, metric)""",
        {"days": p.expect_days, "catchup": p.catchup_hours},
    )
