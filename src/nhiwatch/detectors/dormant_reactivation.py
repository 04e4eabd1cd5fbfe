"""dormant_reactivation: an integration or one of its credentials active again after a long silence.

What and why: forgotten identities are the easy way in (Midnight Blizzard: a legacy test OAuth app;
Snowflake: stealer credentials from 2020 still valid). For each integration, and each credential of it, the
first activity in the window is compared with its last activity before the window (over the long memory of
the rollups, not just the baseline window). A finding needs a silence of at least ``idle_days`` *and* more than
``gap_ratio`` times the longest silence the same identity showed before (so a monthly job's month-long
gaps are normal). The deviation grows with the silence and is weighted up by ``off_hours_weight`` when the
reactivation happens outside the integration's allowed local hours (learned envelope + declared schedule).

Parameters: ``idle_days``, ``gap_ratio``, ``off_hours_weight``. References: OWASP NHI1:2025, NHI7:2025,
NHI4:2025; NIST CSF 2.0 DE.CM-03, DE.CM-09, DE.AE-02; ATT&CK T1078.004, T1550.001, T1528.
"""

from __future__ import annotations

from nhiwatch.alerts.units import measure, plural
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN, ts
from nhiwatch.baseline.stats import dev_from_ratio
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors._hours import HOW, build_allowed
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="dormant_reactivation",
    title="Dormant identity reactivated",
    kind="behaviour",
    description="An integration or credential silent for a long time (longer than ever) becomes active again.",
    owasp_nhi=("NHI1:2025", "NHI7:2025", "NHI4:2025"),
    nist_csf=("DE.CM-03", "DE.CM-09", "DE.AE-02"),
    attack=("T1078.004", "T1550.001", "T1528"),
    params={"idle_days": 21, "gap_ratio": 2.0, "off_hours_weight": 0.2},
    explanation="{observed}, against {expected}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    build_allowed(ctx)
    idle, ratio = float(ctx.param(META, "idle_days")), float(ctx.param(META, "gap_ratio"))
    rows = records(
        ctx.store,
        f"""
        WITH win AS (
          SELECT e.integration_id, e.actor_user_credential_uid AS cred, e.time, e.metadata_uid,
                 {HOW.format(lt="lt")} AS how
          FROM (SELECT e.*, {LOCAL} AS lt FROM events e {TZ_JOIN} WHERE {in_window(ctx)}) e),
        ids AS (
          SELECT integration_id, 'integration' AS level, integration_id AS ident, time, metadata_uid, how FROM win
          UNION ALL SELECT integration_id, 'credential', cred, time, metadata_uid, how FROM win
          WHERE cred IS NOT NULL),
        w AS (SELECT integration_id, level, ident, min(time) AS first_seen, max(time) AS last_seen, count(*) AS n,
                     arg_min(how, time) AS first_how, list(metadata_uid ORDER BY time)[1:20] AS evidence
              FROM ids GROUP BY ALL),
        hist AS (
          SELECT integration_id, 'integration' AS level, integration_id AS ident, CAST(day AS TIMESTAMP) AS d,
                 max(CASE WHEN last_seen < {ts(ctx.since)} THEN last_seen ELSE first_seen END) AS mt
          FROM rollup_values WHERE dimension = 'action_class' AND first_seen < {ts(ctx.since)} GROUP BY ALL
          UNION ALL
          SELECT integration_id, 'credential', value, CAST(day AS TIMESTAMP),
                 max(CASE WHEN last_seen < {ts(ctx.since)} THEN last_seen ELSE first_seen END)
          FROM rollup_values WHERE dimension = 'credential' AND first_seen < {ts(ctx.since)} GROUP BY ALL),
        gaps AS (SELECT integration_id, level, ident, max(mt) AS last_before, max(gap) AS max_gap_days FROM (
                   SELECT *, epoch(d - lag(d) OVER (PARTITION BY integration_id, level, ident ORDER BY d)) / 86400
                          AS gap FROM hist) GROUP BY ALL)
        SELECT w.*, g.last_before, coalesce(g.max_gap_days, 0) AS max_gap_days,
               epoch(w.first_seen - g.last_before) / 86400 AS idle_days,
               (NOT EXISTS (SELECT 1 FROM nw_allowed a WHERE a.integration_id = w.integration_id
                  AND a.how = w.first_how)
                AND EXISTS (SELECT 1 FROM nw_allowed a WHERE a.integration_id = w.integration_id)) AS off_hours
        FROM w JOIN gaps g USING (integration_id, level, ident)
        WHERE epoch(w.first_seen - g.last_before) / 86400 >= {idle}
          AND epoch(w.first_seen - g.last_before) / 86400 > {ratio} * coalesce(g.max_gap_days, 0)
        ORDER BY w.integration_id, w.level DESC""",
    )
    out, seen = [], set()
    for r in rows:
        if r["integration_id"] in seen:  # the integration-level finding covers its credentials
            continue
        seen.add(r["integration_id"])
        what = "integration" if r["level"] == "integration" else f"credential {r['ident']}"
        dev = dev_from_ratio(r["idle_days"] / idle) + (
            float(ctx.param(META, "off_hours_weight")) if r["off_hours"] else 0
        )
        out.append(
            finding(
                META,
                r,
                deviation=dev,
                observed=(
                    f"{what} active again after {plural(r['idle_days'], 'day')} of silence ({plural(r['n'], 'event')}"
                    + (", starting outside its working hours)" if r["off_hours"] else ")")
                ),
                expected=(
                    f"longest earlier silence {plural(r['max_gap_days'], 'day')}; "
                    f"last seen {r['last_before']:%Y-%m-%d}"
                ),
                summary=f"{r['integration_id']}: a dormant {r['level']} woke up after {plural(r['idle_days'], 'day')}",
                details={
                    "level": r["level"],
                    "identity": r["ident"],
                    "idle_days": round(r["idle_days"], 1),
                    "max_prior_gap_days": round(r["max_gap_days"], 1),
                    "off_hours": bool(r["off_hours"]),
                    "last_seen_before": r["last_before"].isoformat(),
                    "measure": measure(r["idle_days"], r["max_gap_days"], "day"),
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
