"""posture_discovered: a non-human identity seen in the logs that no inventory entry declares.

What and why: shadow integrations (a token someone minted, an app a user consented to) have no owner, no
purpose and no allowed behaviour to compare with (OWASP NHI3 Vulnerable Third-Party NHI, NHI10 Human Use
of NHI). Identity resolution names them ``discovered:<source>:<key>:<value>``; this check reports each one
seen up to the end of the window, naming the identity as the logs show it, with its activity. The
deviation grows when it was active in the window and when it wrote, exported, administered or was granted
scopes.

Parameters: none. References: OWASP NHI3:2025, NHI10:2025, NHI1:2025; NIST CSF 2.0 ID.AM-02, DE.CM-03,
DE.CM-06.
"""

from __future__ import annotations

from nhiwatch.alerts.units import plural
from nhiwatch.baseline.frames import ts
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="posture_discovered",
    title="Undeclared integration discovered",
    kind="posture",
    description="A non-human identity acts in the logs but is not in the inventory.",
    owasp_nhi=("NHI3:2025", "NHI10:2025", "NHI1:2025"),
    nist_csf=("ID.AM-02", "DE.CM-03", "DE.CM-06"),
    attack=("T1078.004", "T1550.001"),
    params={},
    explanation="{observed}",
)
RISKY = ("write", "export", "delete", "admin", "scope_grant", "credential_issue")


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    risky = ", ".join(f"'{c}'" for c in RISKY)
    rows = records(
        ctx.store,
        f"""
        WITH act AS (
          SELECT e.integration_id, count(*) AS n, list(DISTINCT e.action_class) AS classes,
                 count(*) FILTER (e.action_class IN ({risky})) AS risky, list(DISTINCT e.source) AS sources,
                 any_value(e.actor_user_type) AS actor_type, list(e.metadata_uid ORDER BY e.time)[1:20] AS evidence
          FROM events e WHERE {in_window(ctx)} AND starts_with(e.integration_id, 'discovered:') GROUP BY ALL)
        SELECT i.id AS integration_id, i.name, i.discovered_source, i.discovered_identity, i.first_seen AS seen_first,
               i.last_seen AS seen_last, coalesce(a.n, 0) AS n, a.classes, coalesce(a.risky, 0) AS risky,
               a.sources, a.actor_type, a.evidence
        FROM integrations i LEFT JOIN act a ON a.integration_id = i.id
        WHERE i.discovered AND (i.first_seen IS NULL OR i.first_seen < {ts(ctx.until)}) ORDER BY i.id""",
    )
    out = []
    for r in rows:
        if not r["n"] and r["seen_first"] is None:
            continue
        dev = 0.4 + 0.2 * (r["n"] > 0) + 0.25 * (r["risky"] > 0)
        ident = r["discovered_identity"] or r["integration_id"].split(":", 2)[-1]
        classes = sorted(c for c in (r["classes"] or []) if c)
        out.append(
            finding(
                META,
                r,
                deviation=dev,
                first=r["seen_first"] or ctx.since,
                last=r["seen_last"] or ctx.since,
                observed=(
                    f"{r['name'] or ident} ({ident} in {r['discovered_source']}) acted "
                    + (
                        f"{plural(r['n'], 'time')} in the window ({', '.join(classes)})"
                        if r["n"]
                        else "before the window"
                    )
                ),
                expected="every non-human identity is declared in the inventory with an owner and a purpose",
                summary=f"undeclared identity {ident} is active in {r['discovered_source']}",
                details={
                    "identity": ident,
                    "source": r["discovered_source"],
                    "name": r["name"],
                    "actor_type": r["actor_type"],
                    "events_in_window": r["n"],
                    "classes": classes,
                    "risky_events": r["risky"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
