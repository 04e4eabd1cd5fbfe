"""posture_ownerless: a declared integration with no owner or no stated purpose.

What and why: nobody answers for an identity without an owner, and nobody can judge its behaviour without
a purpose; these are the identities that outlive their projects and are never offboarded (OWASP NHI1
Improper Offboarding). Read from the inventory (``integrations`` table): declared integrations whose
``owner`` or ``purpose`` is empty. The deviation is higher when both are missing, when the integration is
high or critical risk, or when it was active in the window (an ownerless identity that is still working).
Discovered integrations are reported by ``posture_discovered`` instead.

Parameters: none. References: OWASP NHI1:2025, NHI3:2025; NIST CSF 2.0 ID.AM-08, GV.SC-04, DE.CM-03.
"""

from __future__ import annotations

from nhiwatch.alerts.units import plural
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="posture_ownerless",
    title="Integration without owner or purpose",
    kind="posture",
    description="A declared integration has no owner or no purpose, so nobody answers for its behaviour.",
    owasp_nhi=("NHI1:2025", "NHI3:2025"),
    nist_csf=("ID.AM-08", "GV.SC-04", "DE.CM-03"),
    attack=("T1078.004",),
    params={},
    explanation="{observed}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    rows = records(
        ctx.store,
        f"""
        WITH act AS (SELECT e.integration_id, count(*) AS n, min(e.time) AS f, max(e.time) AS l,
                            list(e.metadata_uid ORDER BY e.time DESC)[1:5] AS evidence
                     FROM events e WHERE {in_window(ctx)} GROUP BY ALL)
        SELECT i.id AS integration_id, i.owner, i.purpose, i.risk_tier, i.kind, coalesce(a.n, 0) AS n,
               coalesce(i.first_seen, a.f) AS first_seen, coalesce(a.l, i.last_seen) AS last_seen, a.evidence
        FROM integrations i LEFT JOIN act a ON a.integration_id = i.id
        WHERE NOT coalesce(i.discovered, false)
          AND (nullif(trim(coalesce(i.owner, '')), '') IS NULL OR nullif(trim(coalesce(i.purpose, '')), '') IS NULL)
        ORDER BY i.id""",
    )
    out = []
    for r in rows:
        missing = [k for k in ("owner", "purpose") if not (r[k] or "").strip()]
        dev = (
            0.35
            + 0.15 * (len(missing) - 1)
            + 0.2 * (r["risk_tier"] in ("high", "critical"))
            + 0.15 * (r["n"] > 0)
        )
        out.append(
            finding(
                META,
                r,
                deviation=dev,
                first=r["first_seen"] or ctx.since,
                last=r["last_seen"] or ctx.since,
                observed=f"{r['integration_id']} ({r['kind']}, {r['risk_tier']} risk) has no {' and no '.join(missing)}"
                + (f"; {plural(r['n'], 'event')} in the window" if r["n"] else ""),
                expected="every integration has an accountable owner and a stated purpose",
                summary=f"{r['integration_id']} has no {' and no '.join(missing)}",
                details={"missing": missing, "risk_tier": r["risk_tier"], "events_in_window": r["n"]},
            )
        )
    return out


DETECTOR = Detector(META, run)
