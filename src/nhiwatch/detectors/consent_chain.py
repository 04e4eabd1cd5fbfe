"""consent_chain: access inherited through OAuth consent, delegation or app role assignment.

What and why: an app can reach data no inventory entry grants it when a person consents for it, an
admin assigns it an app role, or a grant is delegated (Midnight Blizzard: a legacy OAuth app given
``full_access_as_app`` and new apps consented; illicit consent grants). Every ``scope_grant`` event in the
window is attributed: the granting human (``on_behalf_of`` / the acting user), the scopes or role granted,
and the app (integration) receiving them. A grant is reported when it is not plainly expected — its
scopes go beyond the integration's declared ``scopes``, or include undeclared high-privilege scopes
(``*.All``, ``ReadWrite``, ``full_access``, admin, mail, files, directory, ``repo``...), or the app is
discovered (not in the inventory) or has no owner. Each such reason adds to the deviation.

A grant the same grantor already made to the same app in the history window (``history_days``), with no
operation or scope it did not make then, is habitual: a CI role re-applying its bucket policy every night
is not a new consent, and what stays wrong about it (no owner, undeclared scopes) is posture, reported once
by the posture checks and when the grant was first made, not every day.

Parameters: ``privileged`` (regular expression of high-privilege scopes), ``history_days``. References: OWASP NHI5:2025,
NHI3:2025, NHI10:2025; NIST CSF 2.0 DE.CM-03, DE.CM-09, DE.AE-02, DE.AE-03; ATT&CK T1098.003, T1528,
T1550.001, T1671.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from nhiwatch.baseline.frames import ts
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="consent_chain",
    title="Access through consent or delegation",
    kind="behaviour",
    description="A person consented, delegated or assigned a role to an app; who granted what to which app.",
    owasp_nhi=("NHI5:2025", "NHI3:2025", "NHI10:2025"),
    nist_csf=("DE.CM-03", "DE.CM-09", "DE.AE-02", "DE.AE-03"),
    attack=("T1098.003", "T1528", "T1550.001", "T1671"),
    params={
        "privileged": r"(\.all$|readwrite|full_access|fullcontrol|admin|directory\.|^mail\.|mailbox|"
        r"^files\.|^sites\.|application\.|rolemanagement|^repo$|^write:|owner|impersonat|"
        r"administratoraccess|\*)",
        "history_days": 35,
    },
    explanation="{observed}",
)


GRANTOR = """coalesce(e.on_behalf_of, CASE WHEN e.actor_user_type = 'user' THEN e.actor_user_name END,
                          e.actor_user_name, e.actor_user_uid, 'unknown')"""


def _habitual(ctx: DetectContext) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """(integration, grantor) -> (operations, scopes) it granted in the history window before ``since``."""
    start = ctx.since - timedelta(days=float(ctx.param(META, "history_days")))
    rows: list[dict[str, Any]] = records(
        ctx.store,
        f"""SELECT e.integration_id, {GRANTOR} AS grantor, list(DISTINCT e.api_operation) AS ops,
                   flatten(list(coalesce(e.scopes, []::VARCHAR[]))) AS scopes
            FROM rollup_lifecycle e WHERE e.time >= {ts(start)} AND e.time < {ts(ctx.since)}
              AND e.action_class = 'scope_grant' AND e.status <> 'Failure'
            GROUP BY ALL""",
    )
    return {
        (r["integration_id"], r["grantor"]): ({x for x in r["ops"] if x}, {x for x in r["scopes"] if x})
        for r in rows
    }


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    seen = _habitual(ctx)
    rows = records(
        ctx.store,
        f"""
        WITH g AS (
          SELECT e.integration_id, e.time, e.metadata_uid, e.api_operation, e.resource_name,
                 {GRANTOR} AS grantor,
                 coalesce(e.scopes, []::VARCHAR[]) AS scopes
          FROM events e WHERE {in_window(ctx)} AND e.action_class = 'scope_grant' AND e.status <> 'Failure')
        SELECT g.integration_id, g.grantor, min(g.time) AS first_seen, max(g.time) AS last_seen,
               list(DISTINCT s.scope) FILTER (s.scope IS NOT NULL) AS scopes,
               list(DISTINCT g.api_operation) AS operations, list(DISTINCT g.resource_name) AS targets,
               list(DISTINCT g.metadata_uid) AS evidence, any_value(i.scopes) AS declared,
               coalesce(any_value(i.discovered), true) AS discovered, any_value(i.owner) AS owner
        FROM g LEFT JOIN (SELECT metadata_uid, unnest(scopes) AS scope FROM g) s USING (metadata_uid)
        LEFT JOIN integrations i ON i.id = g.integration_id
        GROUP BY g.integration_id, g.grantor""",
    )
    pat = re.compile(str(ctx.param(META, "privileged")), re.IGNORECASE)
    out = []
    for r in rows:
        scopes = sorted(r["scopes"] or [])
        ops = {x for x in r["operations"] if x}
        before = seen.get((r["integration_id"], r["grantor"]))
        if before is not None and ops <= before[0] and set(scopes) <= before[1]:
            continue  # habitual: the same grantor made this very grant before
        declared = set(r["declared"] or [])
        undeclared = [s for s in scopes if declared and s not in declared]
        privileged = [s for s in scopes if pat.search(s) and s not in declared]  # declared ones were accepted
        reasons = []
        if undeclared:
            reasons.append("scopes beyond the declared ones")
        if privileged:
            reasons.append("high-privilege scopes")
        if r["discovered"]:
            reasons.append("an app not in the inventory")
        elif not r["owner"]:
            reasons.append("an app with no owner")
        if not reasons:
            continue
        dev = (
            0.3
            + 0.2 * bool(undeclared)
            + 0.25 * bool(privileged)
            + 0.2 * (bool(r["discovered"]) or not r["owner"])
        )
        what = ", ".join(scopes[:8]) or ", ".join(x for x in r["operations"] if x)
        out.append(
            finding(
                META,
                r,
                deviation=dev,
                observed=f"{r['grantor']} granted {what} to {r['integration_id']} ({', '.join(reasons)})",
                expected=(
                    f"declared scopes {', '.join(sorted(declared))}" if declared else "no declared scopes"
                ),
                summary=f"{r['grantor']} gave {r['integration_id']} access: {what}",
                details={
                    "grantor": r["grantor"],
                    "scopes": scopes,
                    "undeclared": undeclared,
                    "privileged": privileged,
                    "operations": [x for x in r["operations"] if x],
                    "targets": [x for x in r["targets"] if x],
                    "reasons": reasons,
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
