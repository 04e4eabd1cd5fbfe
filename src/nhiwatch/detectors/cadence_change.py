"""cadence_change: a job that changes its rhythm — a nightly run now polling around the clock, or a regular
sync that breaks its period.

What and why: a credential reused as a standing channel keeps a different clock than the job it belongs
to (closest documented case: Drift recon logins spread at every hour over 9 days against a sync's usual
cadence; the Shai-Hulud v2 runner as a C2 channel). Two tests, per local day:

* around the clock: the day's active local hours ``h`` exceed the most ever seen in a day, and are
  improbable for the learned duty cycle ``q`` (share of hours active): binomial tail ``P(X >= h | 24, q)``
  below ``alpha``. A bursty-by-design day (a month, quarter or year end; declared or learned) is judged
  against the most active hours and the duty cycle of the integration's earlier bursty days (over the long
  memory), and not at all when it has none behind it or is the first close of its kind (a first year end):
  a close legitimately works longer days, as it
  legitimately runs faster (the learned period and hours a day come from ordinary days);
* period: for an integration whose runs were regular (MAD / median of gaps between runs at most
  ``max_irregularity``, at least ``min_runs`` runs; or a declared ``schedule.every`` while learning), the
  day's median gap between runs differs from the learned period by a factor of ``period_ratio`` or more
  (at least ``min_runs`` / 4 gaps that day); not on days that are bursty by design (declared windows,
  learned regimes), when jobs legitimately run faster, nor on public holidays of the integration's country
  (a job fed by people idles) and the catch-up days after them (it works off the backlog faster). Runs
  start at active minutes more than 90 s apart.

Fleet context (:mod:`nhiwatch.fleet`): for an integration a fleet event hit (a vendor outage or silence), the
day is judged twice — with all its events, and without those inside the event and its catch-up. A day that
breaks its rhythm only because of them is kept as an explained finding (``details.fleet_explained``), which
the alert stage sets aside; one that breaks it anyway still alerts.

Parameters: ``alpha``, ``period_ratio``, ``max_irregularity``, ``min_runs``. References: OWASP NHI7:2025,
NHI1:2025; NIST CSF 2.0 DE.CM-03, DE.CM-06, DE.AE-02; ATT&CK T1078.004, T1550.001.
"""

from __future__ import annotations

from datetime import timedelta

from nhiwatch.alerts.units import duration, measure, plural
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN, ts
from nhiwatch.baseline.profile import RUN_GAP_S
from nhiwatch.baseline.regimes import LONG_MEMORY_DAYS
from nhiwatch.baseline.stats import binom_sf, dev_from_p, dev_from_ratio
from nhiwatch.detectors._common import UNPLANNED, finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding
from nhiwatch.fleet import ensure as fleet_context
from nhiwatch.fleet import fleet_text

META = DetectorMeta(
    id="cadence_change",
    title="Cadence change",
    kind="behaviour",
    description="A job whose rhythm changes: round-the-clock activity, or a regular period broken.",
    owasp_nhi=("NHI7:2025", "NHI1:2025"),
    nist_csf=("DE.CM-03", "DE.CM-06", "DE.AE-02"),
    attack=("T1078.004", "T1550.001"),
    params={"alpha": 0.0001, "period_ratio": 3.0, "max_irregularity": 0.25, "min_runs": 20},
    explanation="{observed}, against {expected}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    fleet_context(ctx)
    min_runs = int(ctx.param(META, "min_runs"))
    rows = records(
        ctx.store,
        f"""
        WITH ev0 AS (SELECT e.integration_id, e.time, e.metadata_uid, CAST({LOCAL} AS DATE) AS d,
                            hour({LOCAL}) AS h, date_trunc('minute', e.time) AS m,
                            (SELECT min(f.event_id) FROM nw_fleet f WHERE f.integration_id = e.integration_id
                               AND e.time >= f.from_time AND e.time < f.catchup_end) AS fleet_event
                     FROM events e {TZ_JOIN} WHERE {in_window(ctx)} AND {UNPLANNED}),
        -- 'all' the day's events, and for integrations a fleet event hit, the 'residual' left without them
        ev AS (SELECT *, 'all' AS v FROM ev0
               UNION ALL
               SELECT *, 'residual' FROM ev0 WHERE fleet_event IS NULL
                 AND integration_id IN (SELECT integration_id FROM ev0 WHERE fleet_event IS NOT NULL)),
        mins AS (SELECT integration_id, v, d, m FROM ev GROUP BY ALL),
        gaps AS (SELECT integration_id, v, d,
                        epoch(m - lag(m) OVER (PARTITION BY integration_id, v ORDER BY m)) AS gap
                 FROM mins),
        per AS (SELECT integration_id, v, d, median(gap) AS gap_med, count(*) AS n_gaps FROM gaps
                WHERE gap > {RUN_GAP_S} GROUP BY ALL),
        day AS (SELECT integration_id, v, d, count(DISTINCT h) AS hours, count(*) AS n, min(time) AS first_seen,
                       max(time) AS last_seen, list(metadata_uid ORDER BY time)[1:20] AS evidence,
                       min(fleet_event) AS fleet_event
                FROM ev GROUP BY ALL),
        -- the most active local hours on an earlier bursty-by-design day of the same integration
        burst_days AS (SELECT e.integration_id, CAST(timezone(coalesce(z.tz, 'UTC'), e.hour::TIMESTAMPTZ) AS DATE) AS d,
                              count(*) AS hours
                       FROM rollup_hourly e {TZ_JOIN}
                       WHERE e.action_class = '*' AND e.status = '*' AND e.events > 0
                         AND e.hour >= {ts(ctx.since - timedelta(days=LONG_MEMORY_DAYS))} AND e.hour < {ts(ctx.since)}
                         AND e.integration_id IN (SELECT integration_id FROM day)
                       GROUP BY ALL),
        burst_max AS (SELECT b.integration_id, max(b.hours) AS burst_hours_max, avg(b.hours) / 24 AS burst_duty
                      FROM burst_days b
                      JOIN nw_regime_days r ON r.integration_id = b.integration_id AND r.d = b.d GROUP BY ALL)
        SELECT day.*, bm.burst_hours_max, bm.burst_duty, p.gap_med, coalesce(p.n_gaps, 0) AS n_gaps, coalesce(b.state, 'learning') AS state,
               b.duty_cycle, b.hours_per_day_max, b.period_s, b.period_mad_s, b.runs,
               json_extract_string(i.schedule, '$.every') AS every,
               EXISTS (SELECT 1 FROM nw_regime_days r WHERE r.integration_id = day.integration_id AND r.d = day.d)
                 AS bursty,
               EXISTS (SELECT 1 FROM nw_first_closes fc WHERE fc.integration_id = day.integration_id
                       AND fc.d = day.d) AS first_close,
               (SELECT any_value(s.kind) FROM nw_special_days s WHERE s.integration_id = day.integration_id
                  AND s.d = day.d) AS calendar_day
        FROM day LEFT JOIN per p USING (integration_id, v, d) LEFT JOIN burst_max bm USING (integration_id)
        LEFT JOIN baseline_integrations b ON b.integration_id = day.integration_id
        LEFT JOIN integrations i ON i.id = day.integration_id""",
    )
    alpha, pr = float(ctx.param(META, "alpha")), float(ctx.param(META, "period_ratio"))
    irr = float(ctx.param(META, "max_irregularity"))
    residual = {(r["integration_id"], r["d"]): r for r in rows if r["v"] == "residual"}

    def test(r: dict) -> tuple[float, str, str, dict] | None:
        fired = _around_the_clock(r, alpha) if r["state"] != "learning" else None
        # bursty-by-design days may legitimately run faster; holidays slower, the days after them faster
        if fired is None and not r["bursty"] and r["calendar_day"] is None:
            fired = _period(r, pr, irr, min_runs)
        return fired

    out = []
    for r in rows:
        if r["v"] != "all":
            continue
        fired = test(r)
        if not fired:
            continue
        dev, observed, expected, details = fired
        event = r["fleet_event"]
        rest = residual.get((r["integration_id"], r["d"]))
        # explained when the day keeps its rhythm once the fleet event's hours are set aside
        explained = bool(event) and (rest is None or test(rest) is None)
        if event:
            verdict = "explained by" if explained else "and beyond"
            expected += f"; {verdict} the fleet event: {fleet_text(ctx.store, event)}"
        out.append(
            finding(
                META,
                r,
                deviation=dev,
                observed=observed,
                expected=expected,
                summary=(
                    f"{r['integration_id']} changed its working rhythm on {r['d']} during a fleet-wide event"
                    if explained
                    else f"{r['integration_id']} changed its working rhythm on {r['d']}"
                ),
                details=details
                | {
                    "local_day": r["d"].isoformat(),
                    "state": r["state"],
                    "fleet_event": event,
                    "fleet_explained": explained,
                },
            )
        )
    return out


def _around_the_clock(r: dict, alpha: float) -> tuple[float, str, str, dict] | None:
    q, hmax = r["duty_cycle"], r["hours_per_day_max"]
    if r["bursty"] or r["first_close"]:  # a close works longer days: judged against earlier closes, if any
        if r["burst_hours_max"] is None or hmax is None or r["first_close"]:
            return None
        hmax = max(hmax, r["burst_hours_max"])
        q = max(float(q or 0), float(r["burst_duty"]))
    if q is None or hmax is None or r["hours"] <= hmax:
        return None
    p = binom_sf(int(r["hours"]), 24, min(max(float(q), 1e-3), 0.999))
    if p >= alpha:
        return None
    return (
        max(0.4, dev_from_p(p)),
        f"active in {plural(r['hours'], 'hour')} of its local day {r['d']} ({plural(r['n'], 'event')})",
        f"at most {plural(hmax, 'active hour')} a day before (duty cycle {q:.0%})",
        {
            "test": "around_the_clock",
            "active_hours": r["hours"],
            "max_hours_before": hmax,
            "p_value": p,
            "events": r["n"],
            "duty_cycle": q,
            "measure": measure(r["hours"], hmax, "active hour"),
        },
    )


def _period(r: dict, ratio: float, irr: float, min_runs: int) -> tuple[float, str, str, dict] | None:
    from nhiwatch.inventory.model import Schedule

    period, basis = r["period_s"], "learned"
    regular = (
        r["state"] != "learning"
        and period
        and r["runs"]
        and r["runs"] >= min_runs
        and (r["period_mad_s"] or 0) <= irr * period
    )
    if not regular:
        period = Schedule(every=r["every"]).every_seconds() if r["every"] else None
        basis = "declared"
    if not period or r["gap_med"] is None or r["n_gaps"] < max(3, min_runs // 4):
        return None
    change = max(period / r["gap_med"], r["gap_med"] / period)
    if change < ratio:
        return None
    faster = r["gap_med"] < period
    return (
        dev_from_ratio(change / ratio) * (1.0 if faster else 0.7),
        f"runs every {duration(r['gap_med'])} on its local day {r['d']} ({plural(r['n_gaps'], 'run')})",
        f"a {basis} period of {duration(period)}",
        {
            "test": "period",
            "period_s": period,
            "observed_gap_s": r["gap_med"],
            "faster": faster,
            "basis": basis,
            "runs": r["n_gaps"],
            "measure": measure(r["gap_med"], period, "second", "below" if faster else "above"),
        },
    )


DETECTOR = Detector(META, run)
