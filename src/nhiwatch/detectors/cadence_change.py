"""cadence_change: a job that changes its rhythm — a nightly run now polling around the clock, or a regular
sync that breaks its period.

What and why: a credential reused as a standing channel keeps a different clock than the job it belongs
to (closest documented case: Drift recon logins spread at every hour over 9 days against a sync's usual
cadence; the Shai-Hulud v2 runner as a C2 channel). Two tests, per local day:

* around the clock: the day's active local hours ``h`` exceed the most ever seen in a day, and are
  improbable for the learned duty cycle ``q`` (share of hours active): binomial tail ``P(X >= h | 24, q)``
  below ``alpha``;
* period: for an integration whose runs were regular (MAD / median of gaps between runs at most
  ``max_irregularity``, at least ``min_runs`` runs; or a declared ``schedule.every`` while learning), the
  day's median gap between runs differs from the learned period by a factor of ``period_ratio`` or more
  (at least ``min_runs`` / 4 gaps that day); not on days that are bursty by design (declared windows,
  learned regimes), when jobs legitimately run faster, nor on public holidays of the integration's country
  (a job fed by people idles) and the catch-up days after them (it works off the backlog faster). Runs
  start at active minutes more than 90 s apart.

Parameters: ``alpha``, ``period_ratio``, ``max_irregularity``, ``min_runs``. References: OWASP NHI7:2025,
NHI1:2025; NIST CSF 2.0 DE.CM-03, DE.CM-06, DE.AE-02; ATT&CK T1078.004, T1550.001.
"""

from __future__ import annotations

from nhiwatch.alerts.units import duration, measure, plural
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN
from nhiwatch.baseline.profile import RUN_GAP_S
from nhiwatch.baseline.stats import binom_sf, dev_from_p, dev_from_ratio
from nhiwatch.detectors._common import UNPLANNED, finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

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
    min_runs = int(ctx.param(META, "min_runs"))
    rows = records(
        ctx.store,
        f"""
        WITH ev AS (SELECT e.integration_id, e.time, e.metadata_uid, CAST({LOCAL} AS DATE) AS d,
                           hour({LOCAL}) AS h, date_trunc('minute', e.time) AS m
                    FROM events e {TZ_JOIN} WHERE {in_window(ctx)} AND {UNPLANNED}),
        mins AS (SELECT integration_id, d, m FROM ev GROUP BY ALL),
        gaps AS (SELECT integration_id, d, epoch(m - lag(m) OVER (PARTITION BY integration_id ORDER BY m)) AS gap
                 FROM mins),
        per AS (SELECT integration_id, d, median(gap) AS gap_med, count(*) AS n_gaps FROM gaps
                WHERE gap > {RUN_GAP_S} GROUP BY ALL),
        day AS (SELECT integration_id, d, count(DISTINCT h) AS hours, count(*) AS n, min(time) AS first_seen,
                       max(time) AS last_seen, list(metadata_uid ORDER BY time)[1:20] AS evidence
                FROM ev GROUP BY ALL)
        SELECT day.*, p.gap_med, coalesce(p.n_gaps, 0) AS n_gaps, coalesce(b.state, 'learning') AS state,
               b.duty_cycle, b.hours_per_day_max, b.period_s, b.period_mad_s, b.runs,
               json_extract_string(i.schedule, '$.every') AS every,
               EXISTS (SELECT 1 FROM nw_regime_days r WHERE r.integration_id = day.integration_id AND r.d = day.d)
                 AS bursty,
               (SELECT any_value(s.kind) FROM nw_special_days s WHERE s.integration_id = day.integration_id
                  AND s.d = day.d) AS calendar_day
        FROM day LEFT JOIN per p USING (integration_id, d)
        LEFT JOIN baseline_integrations b ON b.integration_id = day.integration_id
        LEFT JOIN integrations i ON i.id = day.integration_id""",
    )
    alpha, pr = float(ctx.param(META, "alpha")), float(ctx.param(META, "period_ratio"))
    irr = float(ctx.param(META, "max_irregularity"))
    out = []
    for r in rows:
        fired = _around_the_clock(r, alpha) if r["state"] != "learning" else None
        # bursty-by-design days may legitimately run faster; holidays slower, the days after them faster
        if fired is None and not r["bursty"] and r["calendar_day"] is None:
            fired = _period(r, pr, irr, min_runs)
        if fired:
            dev, observed, expected, details = fired
            out.append(
                finding(
                    META,
                    r,
                    deviation=dev,
                    observed=observed,
                    expected=expected,
                    summary=f"{r['integration_id']} changed its working rhythm on {r['d']}",
                    details=details | {"local_day": r["d"].isoformat(), "state": r["state"]},
                )
            )
    return out


def _around_the_clock(r: dict, alpha: float) -> tuple[float, str, str, dict] | None:
    q, hmax = r["duty_cycle"], r["hours_per_day_max"]
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
