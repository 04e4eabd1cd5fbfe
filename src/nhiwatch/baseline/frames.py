"""SQL building blocks shared by estimators and detections: time literals, local time, the calendar.

Local time is taken with ICU's ``timezone(tz, time::TIMESTAMPTZ)`` in the integration's own zone
(``schedule.timezone``, else UTC), so hour-of-week and business days are right across DST changes. Business
calendars (holidays, month ends, the days bursty by design) are in :mod:`nhiwatch.baseline.calendar`.
"""

from __future__ import annotations

from datetime import datetime

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
