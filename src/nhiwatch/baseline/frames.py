"""SQL building blocks shared by estimators and detections: time literals, local time, the calendar.

Local time is taken with ICU's ``timezone(tz, time::TIMESTAMPTZ)`` in the integration's own zone
(``schedule.timezone``, else UTC), so hour-of-week and business days are right across DST changes.
``nw_regime_days`` marks the local days an integration is *bursty by design*: its declared
``bursty_windows`` and, once learned, its month-end pattern.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nhiwatch.store import Store

# Integration -> time zone. Integrations without a declared schedule are read in UTC.
TZ_VIEW = """CREATE OR REPLACE TEMP VIEW nw_tz AS
SELECT id AS integration_id, coalesce(json_extract_string(schedule, '$.timezone'), 'UTC') AS tz
FROM integrations"""

LOCAL = "timezone(coalesce(z.tz, 'UTC'), e.time::TIMESTAMPTZ)"
TZ_JOIN = "LEFT JOIN nw_tz z ON z.integration_id = e.integration_id"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def ts(t: datetime) -> str:
    """A timestamp literal (naive UTC)."""
    return f"TIMESTAMP '{t.replace(tzinfo=None).isoformat(sep=' ')}'"


def ensure_views(store: Store) -> None:
    """Create the temp views every kernel may join (needs the integrations table)."""
    from nhiwatch.inventory.resolve import ensure_tables

    ensure_tables(store)
    store.execute(TZ_VIEW)


def build_regime_days(
    store: Store, start: datetime, until: datetime, learned_table: str | None = None
) -> None:
    """Fill temp table ``nw_regime_days(integration_id, d, why)``: local days that are bursty by design.

    ``why`` is ``declared:<calendar>`` or ``learned:month_end``. Business days are Monday-Friday; a day's
    rank from the month end counts the business days on or after it in its month (weekend days at the end
    of a month rank 0 and belong to the month end).
    """
    lo = (start - timedelta(days=2)).date().isoformat()
    hi = (until + timedelta(days=2)).date().isoformat()
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_calendar AS
        WITH days AS (SELECT CAST(g AS DATE) AS d FROM generate_series(DATE '{lo}' - 40, DATE '{hi}' + 40,
                      INTERVAL 1 DAY) t(g)),
        b AS (SELECT d, isodow(d) AS dow, isodow(d) <= 5 AS bday, date_trunc('month', d) AS m FROM days)
        SELECT d, dow, month(d) AS mon,
               sum(bday::INT) OVER (PARTITION BY m ORDER BY d DESC ROWS UNBOUNDED PRECEDING) AS me_rank,
               sum(bday::INT) OVER (PARTITION BY m ORDER BY d ROWS UNBOUNDED PRECEDING) AS ms_rank
        FROM b"""
    )
    learned = ""
    if learned_table:
        learned = f"""UNION ALL SELECT p.integration_id, c.d, 'learned:month_end' FROM {learned_table} p
            JOIN nw_calendar c ON c.me_rank <= p.month_end_days WHERE p.learned_month_end"""
    week = ", ".join(f"'{n}'" for n in DAY_NAMES)
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_regime_days AS
        WITH w AS (
          SELECT id AS integration_id, u.w.calendar AS cal, coalesce(u.w.business_days, 3) AS bd,
                 list_position([{week}], lower(coalesce(u.w.weekday, 'fri'))) AS wd
          FROM (SELECT id, unnest(from_json(coalesce(bursty_windows, '[]'),
                  '[{{"calendar":"VARCHAR","business_days":"INTEGER","weekday":"VARCHAR"}}]')) AS w
                FROM integrations) u)
        SELECT DISTINCT integration_id, d, why FROM (
          SELECT w.integration_id, c.d, 'declared:' || w.cal AS why FROM w JOIN nw_calendar c ON
            (w.cal = 'month_end' AND c.me_rank <= w.bd)
            OR (w.cal = 'month_start' AND c.ms_rank <= w.bd AND c.ms_rank > 0)
            OR (w.cal = 'quarter_end' AND c.mon IN (3, 6, 9, 12) AND c.me_rank <= w.bd)
            OR (w.cal = 'weekly' AND c.dow = w.wd)
          {learned})"""
    )
