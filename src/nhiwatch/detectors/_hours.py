"""Allowed local hours of week per integration: the learned envelope widened, plus the declared schedule.

``nw_allowed(integration_id, how)`` holds hour-of-week slots (``(ISO weekday - 1) * 24 + local hour``) where
activity is expected: every slot of the learned envelope, widened by one hour either side and pooled over
days of the same type (weekday / weekend), for integrations past ``learning``; and every slot the declared
``schedule`` covers (a schedule covering every hour of the week only declares a time zone and adds
nothing). An integration with neither has no rows, and no off-hours judgement is made for it.
"""

from __future__ import annotations

import orjson

from nhiwatch.detectors._common import shared_done, shared_made
from nhiwatch.detectors.base import DetectContext
from nhiwatch.inventory.model import Schedule

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


def build_allowed(ctx: DetectContext, evidence: float = 0.05) -> None:
    """Fill ``nw_allowed`` (once per step: the detectors that read it share it). A day type (weekday /
    weekend) whose silence proves little is wholly allowed: with ``p`` the integration's chance of being
    active in one of its envelope slots on a given day, and ``N`` the days of that type observed, a slot
    seen idle ``N`` times is still plausibly "on" if ``(1 - p)^N`` exceeds ``evidence`` (a sparse
    integration's quiet hours are not off hours)."""
    if shared_done(ctx, ("allowed", evidence)):
        return
    store = ctx.store
    rows = store.fetchall("SELECT id, schedule FROM integrations WHERE schedule IS NOT NULL")
    sched = [(i, slots) for i, js in rows if (slots := declared_slots(js))]
    store.execute("CREATE OR REPLACE TEMP TABLE nw_sched (integration_id VARCHAR, slots INTEGER[])")
    store.insert_rows("nw_sched", ["integration_id", "slots"], sched)
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_allowed AS
        WITH est AS (
          SELECT b.integration_id, greatest(p.span_days / 7, 1) AS weeks,
                 least(avg(b.days_active) / greatest(p.span_days / 7, 1), 1) AS p_on
          FROM baseline_envelope b JOIN baseline_integrations p USING (integration_id)
          WHERE p.state <> 'learning' GROUP BY b.integration_id, p.span_days),
        weak AS (
          SELECT integration_id, t.weekend FROM est, (VALUES (false, 5), (true, 2)) t(weekend, ndays)
          WHERE pow(1 - p_on, weeks * t.ndays) > {evidence})
        SELECT DISTINCT integration_id, how FROM (
          SELECT b.integration_id, d.dow * 24 + ((b.how % 24) + k.k + 24) % 24 AS how
          FROM baseline_envelope b JOIN est USING (integration_id), range(-1, 2) k(k), range(0, 7) d(dow)
          WHERE ((b.how // 24) >= 5) = (d.dow >= 5)
          UNION ALL SELECT w.integration_id, d.dow * 24 + h.h FROM weak w, range(0, 7) d(dow), range(0, 24) h(h)
          WHERE (d.dow >= 5) = w.weekend
          UNION ALL SELECT integration_id, unnest(slots) FROM nw_sched)"""
    )
    shared_made(ctx, ("allowed", evidence))
