"""posture_stale_credential: credentials of an integration unused for a long time and never revoked.

What and why: a long-lived secret nobody uses is all risk and no value (OWASP NHI7 Long-Lived Secrets,
NHI1 Improper Offboarding; Snowflake: credentials from 2020 still valid). For each credential id seen on an
integration's events (``actor_user_credential_uid``) or issued to it (``credential_issue``), its last use
before the end of the window is compared with ``stale_days``. Only long-lived credentials count: issued
ones, or ones used over at least ``min_lifetime_days`` (sources that log a session or request id in the
credential column produce thousands of one-off values, which are not secrets anyone keeps). A credential
later revoked (``credential_revoke`` naming it) is not reported. One finding per integration lists its stale
credentials, calling out rotated-but-kept keys (the integration works with another credential while this
one sits idle) and issued-but-never-used keys.

Parameters: ``stale_days``, ``min_lifetime_days``. References: OWASP NHI7:2025, NHI1:2025; NIST CSF 2.0
PR.AA-01, ID.AM-08, DE.CM-09.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import count, plural
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
    params={"stale_days": 30, "min_lifetime_days": 1.0},
    explanation="{observed}",
)


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    hi, days = ts(ctx.until), float(ctx.param(META, "stale_days"))
    life = float(ctx.param(META, "min_lifetime_days"))
    rows = records(
        ctx.store,
        f"""
        WITH used AS (
          SELECT integration_id, value AS cred, min(first_seen) AS first_used, max(last_seen) AS last_used
          FROM rollup_values WHERE dimension = 'credential_use' AND first_seen < {hi} GROUP BY ALL),
        life AS (
          SELECT integration_id, actor_user_credential_uid AS cred,
                 min(time) FILTER (action_class = 'credential_issue') AS issued,
                 max(time) FILTER (action_class = 'credential_revoke') AS revoked,
                 arg_max(metadata_uid, time) AS uid
          FROM rollup_lifecycle WHERE time < {hi} AND actor_user_credential_uid IS NOT NULL GROUP BY ALL),
        c AS (
          SELECT integration_id, cred, u.first_used, u.last_used, l.issued, l.revoked, l.uid
          FROM used u FULL JOIN life l USING (integration_id, cred)),
        integ AS (SELECT integration_id, max(last_used) AS integ_last FROM c GROUP BY ALL)
        SELECT c.*, i.integ_last, coalesce(c.last_used, c.issued) AS seen,
               epoch({hi} - coalesce(c.last_used, c.issued)) / 86400 AS idle_days
        FROM c JOIN integ i USING (integration_id)
        WHERE c.revoked IS NULL AND epoch({hi} - coalesce(c.last_used, c.issued)) / 86400 >= {days}
          AND (c.issued IS NOT NULL OR epoch(c.last_used - c.first_used) / 86400 >= {life})
        ORDER BY c.integration_id, idle_days DESC""",
    )
    by_integ: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        never = r["last_used"] is None
        rotated = not never and r["integ_last"] is not None and r["integ_last"] > r["last_used"]
        r["how"] = "issued and never used" if never else "rotated out but not revoked" if rotated else "idle"
        by_integ[r["integration_id"]].append(r)
    out = []
    for integ, rs in by_integ.items():
        worst = rs[0]
        kept = sum(r["how"] != "idle" for r in rs)
        out.append(
            finding(
                META,
                {"integration_id": integ, "evidence": [r["uid"] for r in rs]},
                first=min(r["seen"] for r in rs),
                last=max(r["seen"] for r in rs),
                deviation=min(
                    1.0,
                    0.35
                    + 0.15 * (worst["idle_days"] / days - 1) ** 0.5
                    + 0.15 * (kept > 0)
                    + 0.05 * min(len(rs) - 1, 3),
                ),
                observed=(
                    f"{plural(len(rs), 'credential')} idle for "
                    + (
                        f"{plural(worst['idle_days'], 'day')}, "
                        if round(rs[-1]["idle_days"]) == round(worst["idle_days"])
                        else f"{count(rs[-1]['idle_days'])} to {plural(worst['idle_days'], 'day')}, "
                    )
                    + f"e.g. {worst['cred']} ({worst['how']})"
                ),
                expected=f"credentials used within {plural(days, 'day')} or revoked",
                summary=f"{integ} keeps {plural(len(rs), 'unused credential')} alive",
                details={
                    "credentials": [
                        {
                            "credential": r["cred"],
                            "idle_days": round(r["idle_days"], 1),
                            "state": r["how"],
                            "last_used": r["last_used"].isoformat() if r["last_used"] else None,
                        }
                        for r in rs[:20]
                    ],
                    "count": len(rs),
                    "credential": worst["cred"],
                    "state": worst["how"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
