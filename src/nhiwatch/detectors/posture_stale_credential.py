"""posture_stale_credential: credentials of an integration unused for a long time and never revoked.

What and why: a long-lived secret nobody uses is all risk and no value (OWASP NHI7 Long-Lived Secrets,
NHI1 Improper Offboarding; Snowflake: credentials from 2020 still valid). For each credential id seen on an
integration's events (``actor_user_credential_uid``) or issued to it (``credential_issue``), its last use
before the end of the window is compared with ``stale_days``. A credential later revoked
(``credential_revoke`` naming it) is not reported. Rotated-but-kept keys (the integration works with another
credential while this one sits idle) and issued-but-never-used keys are called out.

Parameters: ``stale_days``. References: OWASP NHI7:2025, NHI1:2025; NIST CSF 2.0 PR.AA-01, ID.AM-08,
DE.CM-09.
"""

from __future__ import annotations

from nhiwatch.baseline.frames import ts
from nhiwatch.detectors._common import finding, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="posture_stale_credential",
    title="Stale credential",
    kind="posture",
    description="A credential of an integration unused for a long time and not revoked.",
    owasp_nhi=("NHI7:2025", "NHI1:2025"),
    nist_csf=("PR.AA-01", "ID.AM-08", "DE.CM-09"),
    attack=("T1078.004", "T1552"),
    params={"stale_days": 30},
    explanation="{observed}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    hi, days = ts(ctx.until), float(ctx.param(META, "stale_days"))
    rows = records(
        ctx.store,
        f"""
        WITH c AS (
          SELECT e.integration_id, e.actor_user_credential_uid AS cred,
                 max(e.time) FILTER (e.action_class NOT IN ('credential_issue', 'credential_revoke')) AS last_used,
                 min(e.time) FILTER (e.action_class = 'credential_issue') AS issued,
                 max(e.time) FILTER (e.action_class = 'credential_revoke') AS revoked,
                 arg_max(e.metadata_uid, e.time) AS uid
          FROM events e WHERE e.time < {hi} AND e.integration_id IS NOT NULL
            AND e.actor_user_credential_uid IS NOT NULL GROUP BY ALL),
        integ AS (SELECT integration_id, max(last_used) AS integ_last FROM c GROUP BY ALL)
        SELECT c.*, i.integ_last, coalesce(c.last_used, c.issued) AS first_seen,
               coalesce(c.last_used, c.issued) AS last_seen, [c.uid] AS evidence,
               epoch({hi} - coalesce(c.last_used, c.issued)) / 86400 AS idle_days
        FROM c JOIN integ i USING (integration_id)
        WHERE c.revoked IS NULL AND epoch({hi} - coalesce(c.last_used, c.issued)) / 86400 >= {days}
        ORDER BY c.integration_id, idle_days DESC""",
    )
    out = []
    for r in rows:
        rotated = (
            r["integ_last"] is not None and r["last_used"] is not None and r["integ_last"] > r["last_used"]
        )
        never = r["last_used"] is None
        how = (
            "issued and never used"
            if never
            else "rotated out but not revoked"
            if rotated
            else "unused, with its integration"
        )
        out.append(
            finding(
                META,
                r,
                deviation=min(
                    1.0, 0.35 + 0.15 * (r["idle_days"] / days - 1) ** 0.5 + 0.15 * (rotated or never)
                ),
                observed=f"credential {r['cred']} idle for {r['idle_days']:.0f} days ({how})",
                expected=f"credentials used within {days:g} days or revoked",
                summary=f"{r['integration_id']} keeps credential {r['cred']} alive though it is {how}",
                details={
                    "credential": r["cred"],
                    "idle_days": round(r["idle_days"], 1),
                    "state": how,
                    "last_used": r["last_used"].isoformat() if r["last_used"] else None,
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
