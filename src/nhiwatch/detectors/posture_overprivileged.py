"""posture_overprivileged: scopes an integration holds but did not use in the history window.

What and why: unused permissions are pure blast radius (OWASP NHI5 Overprivileged NHI; Midnight Blizzard's
legacy app with ``full_access_as_app``). The held scopes are the declared ``scopes`` plus those granted
(``scope_grant`` events) up to the end of the window. A held scope counts as unused over the trailing
``history_days`` when:

* the integration's events carry per-call scopes and that scope never appears on them; or
* it is write-capable (``write``, ``ReadWrite``, ``manage``, ``full``, ``repo``...) and the integration
  never wrote, deleted or administered; or admin-capable and never administered; or
* the integration did nothing at all in the period.

Parameters: ``history_days``. References: OWASP NHI5:2025; NIST CSF 2.0 PR.AA-05, ID.AM-08, DE.CM-03.
"""

from __future__ import annotations

import re
from datetime import timedelta

from nhiwatch.alerts.units import plural
from nhiwatch.baseline.frames import ts
from nhiwatch.detectors._common import finding, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="posture_overprivileged",
    title="Granted scopes not used",
    kind="posture",
    description="Scopes held by an integration that it did not use in the history window.",
    owasp_nhi=("NHI5:2025",),
    nist_csf=("PR.AA-05", "ID.AM-08", "DE.CM-03"),
    attack=("T1078.004",),
    params={"history_days": 35},
    explanation="{observed}",
)
WRITE = re.compile(r"(write|manage|full|admin|delete|^repo$|:write|\.all$|owner|put|create|update)", re.I)
ADMIN = re.compile(r"(admin|directory\.readwrite|rolemanagement|full_access|fullcontrol|owner|\*)", re.I)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    lo = ts(ctx.until - timedelta(days=float(ctx.param(META, "history_days"))))
    hi = ts(ctx.until)
    rows = records(
        ctx.store,
        f"""
        WITH granted AS (
          SELECT integration_id, scope, max(time) AS t, any_value(metadata_uid) AS uid FROM (
            SELECT e.integration_id, unnest(e.scopes) AS scope, e.time, e.metadata_uid FROM rollup_lifecycle e
            WHERE e.action_class = 'scope_grant' AND e.time < {hi})
          GROUP BY ALL),
        held AS (
          SELECT id AS integration_id, unnest(scopes) AS scope, 'declared' AS how FROM integrations
          UNION SELECT integration_id, scope, 'granted' FROM granted),
        hours AS (
          SELECT * FROM rollup_hourly WHERE hour >= date_trunc('hour', {lo}) AND hour < {hi} AND status = '*'),
        scoped_use AS (
          SELECT integration_id, value, events FROM rollup_values
          WHERE dimension = 'scope_used' AND day >= CAST({lo} AS DATE) AND day < {hi} AND last_seen >= {lo}
            AND first_seen < {hi}),
        used AS (
          SELECT a.integration_id, a.n, a.f, a.l, coalesce(c.writes, 0) AS writes, coalesce(c.admins, 0) AS admins,
                 coalesce(sc.scoped, 0) AS scoped
          FROM (SELECT integration_id, sum(events) AS n, min(hour) AS f, max(hour) AS l FROM hours
                WHERE action_class = '*' GROUP BY ALL) a
          LEFT JOIN (SELECT integration_id,
                            sum(events) FILTER (action_class IN ('write', 'delete', 'admin')) AS writes,
                            sum(events) FILTER (action_class = 'admin') AS admins
                     FROM hours WHERE action_class <> '*' GROUP BY ALL) c USING (integration_id)
          LEFT JOIN (SELECT integration_id, sum(events) AS scoped FROM scoped_use GROUP BY ALL) sc
            USING (integration_id)),
        seen AS (SELECT integration_id, list(DISTINCT value) AS seen FROM scoped_use GROUP BY ALL)
        SELECT h.integration_id, list(DISTINCT h.scope) AS held, list(DISTINCT h.scope) FILTER (h.how = 'granted')
               AS granted, coalesce(any_value(u.n), 0) AS n, coalesce(any_value(u.writes), 0) AS writes,
               coalesce(any_value(u.admins), 0) AS admins, coalesce(any_value(u.scoped), 0) AS scoped,
               any_value(sn.seen) AS seen, coalesce(any_value(i.first_seen), any_value(u.f)) AS first_seen, any_value(u.l) AS last_seen,
               (SELECT list(uid) FROM granted g WHERE g.integration_id = h.integration_id) AS evidence
        FROM held h LEFT JOIN used u USING (integration_id) LEFT JOIN seen sn USING (integration_id)
        LEFT JOIN integrations i ON i.id = h.integration_id
        WHERE h.scope IS NOT NULL GROUP BY h.integration_id""",
    )
    out = []
    for r in rows:
        seen = set(r["seen"] or [])
        unused: dict[str, str] = {}
        for s in sorted(r["held"]):
            if r["n"] == 0:
                unused[s] = "no activity at all"
            elif r["scoped"] and s not in seen:
                unused[s] = "never on a call"
            elif ADMIN.search(s) and not r["admins"]:
                unused[s] = "admin-capable, no admin action"
            elif WRITE.search(s) and not r["writes"]:
                unused[s] = "write-capable, no write"
        if not unused:
            continue
        share = len(unused) / len(r["held"])
        risky = sum(1 for s in unused if WRITE.search(s) or ADMIN.search(s))
        out.append(
            finding(
                META,
                r,
                deviation=0.3 + 0.3 * share + 0.1 * min(risky, 4),
                first=r["first_seen"] or ctx.since,
                last=r["last_seen"] or ctx.until,
                observed=f"{len(unused)} of {len(r['held'])} held scopes unused: {', '.join(list(unused)[:8])}",
                expected=f"scopes used in the last {plural(ctx.param(META, 'history_days'), 'day')} "
                f"({plural(r['n'], 'event')}, {plural(r['writes'], 'write')}, {plural(r['admins'], 'admin action')})",
                summary=f"{r['integration_id']} holds {plural(len(unused), 'scope')} it does not use",
                details={"unused": unused, "held": sorted(r["held"]), "granted": sorted(r["granted"] or [])},
            )
        )
    return out


DETECTOR = Detector(META, run)
