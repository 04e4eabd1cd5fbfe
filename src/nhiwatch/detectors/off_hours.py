"""off_hours: activity in local hours where the integration has never worked and its schedule does not allow.

What and why: stolen tokens are used when the attacker works, not when the job runs (Drift/Salesloft
logins at 00:17, 04:34 and 22:14 UTC against a business-hours sync). Activity is placed in the
integration's own time zone (DST-safe), and compared with the allowed slots of :mod:`._hours` (learned
envelope widened by an hour and pooled over weekdays / weekend days, plus the declared schedule). Days
that are bursty by design (declared windows, learned regimes) are left to the volume detections.

Significance: history showed no activity in the ``H`` off-envelope hour slots it covered, so by the rule of
succession an off slot is active with probability ``q = 1 / (H + 2)``; seeing ``k`` active off-slot hours
among the ``n`` of the window has binomial tail ``p``; a finding needs ``p < alpha``. An integration still
learning counts its declared schedule as ``prior_days`` days of observation.

Off days at usual hours are judged apart: activity at an hour of the day the integration works on other days
(a weekday job on a Saturday morning) says less than an hour it never works (3 a.m.). It is judged by the
days, not the hours: with ``D`` off days observed idle, an off day is worked with probability
``1 / (D + 2)``, and the ``k`` off days worked in the window must be improbable in the same way. A weekday
job that starts working every weekend still alerts; one Saturday morning does not.

Parameters: ``alpha``, ``prior_days``. References: OWASP NHI1:2025, NHI7:2025; NIST CSF 2.0 DE.CM-03,
DE.CM-09, DE.AE-02; ATT&CK T1078.004, T1550.001.
"""

from __future__ import annotations

from nhiwatch.alerts.units import plural, span
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN
from nhiwatch.baseline.stats import binom_sf, dev_from_p
from nhiwatch.detectors._common import (
    STATE,
    STATE_JOIN,
    UNPLANNED,
    finding,
    in_window,
    prepare,
    records,
    window_days,
)
from nhiwatch.detectors._hours import HOW, build_allowed
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="off_hours",
    title="Activity outside working hours",
    kind="behaviour",
    description="Activity in local hours outside the learned envelope and the declared schedule.",
    owasp_nhi=("NHI1:2025", "NHI7:2025"),
    nist_csf=("DE.CM-03", "DE.CM-09", "DE.AE-02"),
    attack=("T1078.004", "T1550.001"),
    params={"alpha": 0.0001, "prior_days": 7},
    explanation="{observed}, against {expected}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    build_allowed(ctx)
    how = HOW.format(lt="lt")
    rows = records(
        ctx.store,
        f"""
        WITH ev AS (
          SELECT e.integration_id, e.time, e.metadata_uid, {LOCAL} AS lt, coalesce(z.tz, 'UTC') AS tz, {STATE} AS state,
                 coalesce(b.span_days, 0) AS span_days
          FROM events e {TZ_JOIN} {STATE_JOIN}
          WHERE {in_window(ctx)} AND {UNPLANNED} AND e.integration_id IN (SELECT integration_id FROM nw_allowed)),
        ev2 AS (SELECT ev.*, {how} AS how FROM ev
                ANTI JOIN nw_regime_days r ON r.integration_id = ev.integration_id AND r.d = CAST(ev.lt AS DATE)),
        off AS (SELECT ev2.*, EXISTS (SELECT 1 FROM nw_allowed a WHERE a.integration_id = ev2.integration_id
                                      AND a.how % 24 = ev2.how % 24) AS usual_hour
                FROM ev2 ANTI JOIN nw_allowed a ON a.integration_id = ev2.integration_id AND a.how = ev2.how),
        slots AS (SELECT integration_id, count(*) AS allowed, 7 - count(DISTINCT how // 24) AS off_days
                  FROM nw_allowed GROUP BY ALL)
        SELECT o.integration_id, any_value(o.state) AS state, any_value(o.tz) AS tz, any_value(o.span_days) AS span_days,
               any_value(s.allowed) AS allowed, greatest(any_value(s.off_days), 1) AS off_days, count(*) AS n,
               count(DISTINCT date_trunc('hour', o.lt)) AS hours,
               count(DISTINCT date_trunc('hour', o.lt)) FILTER (WHERE NOT o.usual_hour) AS k,
               count(DISTINCT CAST(o.lt AS DATE)) FILTER (WHERE o.usual_hour) AS k_days,
               min(o.time) AS first_seen, max(o.time) AS last_seen,
               list(DISTINCT strftime(date_trunc('hour', o.lt), '%a %Y-%m-%d %H:00')) AS local_hours,
               list(o.metadata_uid ORDER BY o.time)[1:20] AS evidence
        FROM off o JOIN slots s USING (integration_id) GROUP BY o.integration_id""",
    )
    alpha, prior = float(ctx.param(META, "alpha")), float(ctx.param(META, "prior_days"))
    out = []
    for r in rows:
        off_slots = 168 - int(r["allowed"])
        if off_slots <= 0:
            continue
        hist_days = float(r["span_days"]) if r["state"] != "learning" else prior
        q = 1.0 / (off_slots * hist_days / 7 + 2)
        n = max(int(off_slots * window_days(ctx) / 7), int(r["k"]))
        p_hours = binom_sf(int(r["k"]), n, q) if r["k"] else 1.0
        off_days = int(r["off_days"])
        q_days = 1.0 / (off_days * hist_days / 7 + 2)
        n_days = max(int(off_days * window_days(ctx) / 7 + 0.999), int(r["k_days"]))
        p_days = binom_sf(int(r["k_days"]), n_days, q_days) if r["k_days"] else 1.0
        p = min(p_hours, p_days)
        if p >= alpha:
            continue
        hours = sorted(r["local_hours"])
        out.append(
            finding(
                META,
                r,
                deviation=max(0.3, dev_from_p(p)),
                observed=(
                    f"{plural(r['n'], 'event')} in {plural(r['hours'], 'hour')} outside its working hours, "
                    f"{span(r['first_seen'], r['last_seen'], r['tz'])}"
                ),
                expected=(
                    f"activity only in {r['allowed']} of the 168 hours of the week in {r['tz']} "
                    f"({'declared schedule' if r['state'] == 'learning' else 'learned envelope and schedule'})"
                ),
                summary=f"{r['integration_id']} worked at hours ({r['tz']}) it has never worked before",
                details={
                    "off_hours": r["hours"],
                    "off_hours_never_worked": r["k"],
                    "off_days_at_usual_hours": r["k_days"],
                    "events": r["n"],
                    "local_hours": hours[:24],
                    "timezone": r["tz"],
                    "allowed_hours": r["allowed"],
                    "p_value": p,
                    "state": r["state"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
