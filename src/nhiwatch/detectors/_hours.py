"""Allowed local hours of week per integration: the learned envelope widened, plus the declared schedule.

``nw_allowed(integration_id, how)`` holds hour-of-week slots (``(ISO weekday - 1) * 24 + local hour``) where
activity is expected: every slot of the learned envelope, widened by one hour either side and pooled over
days of the same type (weekday / weekend), for integrations past ``learning``; and every slot the declared
``schedule`` covers (a schedule covering every hour of the week only declares a time zone and adds
nothing). An integration with neither has no rows, and no off-hours judgement is made for it.
"""

from __future__ import annotations

import orjson

from nhiwatch.inventory.model import Schedule
from nhiwatch.store import Store

HOW = "((isodow({lt}) - 1) * 24 + hour({lt}))"


def declared_slots(schedule_json: str | None) -> list[int]:
    """Hour-of-week slots a declared schedule covers (an hour counts if the schedule overlaps it).

    >>> len(declared_slots('{"days": "mon-fri", "hours": "09:00-17:30"}'))
    45
    """
    if not schedule_json:
        return []
    data = {k: v for k, v in orjson.loads(schedule_json).items() if v is not None}
    s = Schedule(**data)
    h1, h2 = s.hour_range()
    spans = [(h1, h2)] if h2 > h1 else [(h1, 24.0), (0.0, h2)]
    hours = [h for h in range(24) if any(h + 1 > a and h < b for a, b in spans)]
    slots = [(d - 1) * 24 + h for d in sorted(s.day_set()) for h in hours]
    return [] if len(slots) == 168 else slots  # "any time" only declares a time zone


def build_allowed(store: Store) -> None:
    rows = store.fetchall("SELECT id, schedule FROM integrations WHERE schedule IS NOT NULL")
    sched = [(i, how) for i, js in rows for how in declared_slots(js)]
    store.execute("CREATE OR REPLACE TEMP TABLE nw_sched (integration_id VARCHAR, how INTEGER)")
    store.insert_rows("nw_sched", ["integration_id", "how"], sched)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_allowed AS
        SELECT DISTINCT integration_id, how FROM (
          SELECT b.integration_id, d.dow * 24 + ((b.how % 24) + k.k + 24) % 24 AS how
          FROM baseline_envelope b JOIN baseline_integrations p USING (integration_id),
               range(-1, 2) k(k), range(0, 7) d(dow)
          WHERE p.state <> 'learning' AND ((b.how // 24) >= 5) = (d.dow >= 5)
          UNION ALL SELECT integration_id, how FROM nw_sched)"""
    )
