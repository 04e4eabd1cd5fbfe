"""new_credential_then_anomaly: a credential is added to an app, and the app soon behaves in new ways.

What and why: persistence through a fresh secret, then use of it (Midnight Blizzard: a new secret on a
legacy OAuth app, then ``full_access_as_app`` mailbox reads; AWS: ``CreateAccessKey`` then use from
elsewhere). A ``credential_issue`` event for an integration (in the window, or up to ``within_hours``
before it) is followed, within ``within_hours``, by events of the same integration that are novel
against its learned sets: a new /24 (or /64) prefix, ASN or user agent, a new resource type, or a new
resource read or exported (mailboxes, objects). Each novelty kind counts; the deviation grows with the
kinds seen and doubles its weight when the new credential itself is the one used.

Cold start: an integration still learning has no learned sets and is skipped. Parameters:
``within_hours``. References: OWASP NHI7:2025, NHI2:2025, NHI5:2025; NIST CSF 2.0 DE.CM-09, DE.CM-03,
DE.AE-02, DE.AE-03; ATT&CK T1098.001, T1550.001, T1078.004.
"""

from __future__ import annotations

from datetime import timedelta

from nhiwatch.alerts.units import duration, plural
from nhiwatch.baseline.frames import ts
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding
from nhiwatch.dimensions import IP24

META = DetectorMeta(
    id="new_credential_then_anomaly",
    title="New credential, then unusual activity",
    kind="behaviour",
    description="A credential issued for an app followed shortly by new networks, clients or resources.",
    owasp_nhi=("NHI7:2025", "NHI2:2025", "NHI5:2025"),
    nist_csf=("DE.CM-09", "DE.CM-03", "DE.AE-02", "DE.AE-03"),
    attack=("T1098.001", "T1550.001", "T1078.004"),
    params={"within_hours": 72},
    explanation="{observed}, against {expected}",
)
NOVEL = {
    "network": f"{IP24.format(ip='e.src_endpoint_ip')}",
    "asn": "CAST(e.src_endpoint_asn AS VARCHAR)",
    "user_agent": "e.http_request_user_agent",
    "resource_type": "e.resource_type",
}
DIM = {"network": "ip24", "asn": "asn", "user_agent": "user_agent", "resource_type": "resource_type"}


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    hours = float(ctx.param(META, "within_hours"))
    lo = ts(ctx.since - timedelta(hours=hours))

    def novel(kind: str, expr: str) -> str:
        return f"""(({expr}) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM baseline_values v
                   WHERE v.integration_id = e.integration_id AND v.dimension = '{DIM[kind]}' AND v.value = ({expr})))"""

    flags = ",\n".join(f"{novel(k, x)} AS new_{k}" for k, x in NOVEL.items())
    rows = records(
        ctx.store,
        f"""
        WITH iss AS (
          SELECT e.integration_id, e.time AS issued, e.metadata_uid AS issue_uid, e.actor_user_credential_uid AS cred,
                 coalesce(e.on_behalf_of, e.actor_user_name) AS by_whom, e.api_operation AS op
          FROM rollup_lifecycle e WHERE e.action_class = 'credential_issue' AND e.status <> 'Failure'
            AND e.time >= {lo} AND e.time < {ts(ctx.until)}),
        ev AS (
          SELECT e.integration_id, e.time, e.metadata_uid, e.actor_user_credential_uid AS cred, e.action_class,
                 {flags},
                 e.action_class IN ('read', 'export') AND e.resource_name IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM baseline_values v WHERE v.integration_id = e.integration_id
                   AND v.dimension = 'resource' AND v.value = e.resource_name) AS new_resource
          FROM events e WHERE {in_window(ctx)} AND e.action_class NOT IN ('credential_issue', 'credential_revoke')
            AND e.integration_id IN (SELECT integration_id FROM iss)),
        hit AS (
          SELECT i.*, ev.time, ev.metadata_uid, ev.cred = i.cred AS same_cred, ev.new_network, ev.new_asn,
                 ev.new_user_agent, ev.new_resource_type, ev.new_resource
          FROM iss i JOIN ev ON ev.integration_id = i.integration_id AND ev.time > i.issued
            AND ev.time <= i.issued + INTERVAL {int(hours * 60)} MINUTE
          WHERE ev.new_network OR ev.new_asn OR ev.new_user_agent OR ev.new_resource_type OR ev.new_resource)
        SELECT h.integration_id, h.issued, any_value(h.issue_uid) AS issue_uid, any_value(h.cred) AS cred,
               any_value(h.by_whom) AS by_whom, any_value(h.op) AS op, count(*) AS n,
               count(*) FILTER (new_network) AS network, count(*) FILTER (new_asn) AS asn,
               count(*) FILTER (new_user_agent) AS user_agent, count(*) FILTER (new_resource_type) AS resource_type,
               count(*) FILTER (new_resource) AS resource, bool_or(same_cred) AS same_cred,
               min(h.issued) AS first_seen, max(h.time) AS last_seen,
               list(h.metadata_uid ORDER BY h.same_cred DESC, h.time)[1:19] AS evidence,
               any_value(coalesce(b.state, 'learning')) AS state
        FROM hit h LEFT JOIN baseline_integrations b USING (integration_id)
        GROUP BY h.integration_id, h.issued ORDER BY h.integration_id, h.issued""",
    )
    out, seen = [], set()
    for r in rows:
        if r["state"] == "learning" or r["integration_id"] in seen:
            continue
        seen.add(r["integration_id"])
        kinds = [k for k in ("network", "asn", "user_agent", "resource_type", "resource") if r[k]]
        dev = min(1.0, 0.45 + 0.1 * len(kinds) + (0.15 if r["same_cred"] else 0))
        delay = (r["last_seen"] - r["issued"]).total_seconds() / 3600
        out.append(
            finding(
                META,
                r | {"evidence": [r["issue_uid"], *r["evidence"]]},
                deviation=dev,
                observed=(
                    f"credential {r['cred'] or '?'} issued ({r['op']}) by {r['by_whom'] or 'unknown'}, then "
                    + ", ".join(f"{plural(r[k], 'event')} with a new {k.replace('_', ' ')}" for k in kinds)
                    + f" within {duration(delay * 3600)}"
                ),
                expected=f"activity from known networks, clients and resources within {hours:g} h of a credential change",
                summary=f"{r['integration_id']} got a new credential and then behaved in ways never seen before",
                details={
                    "credential": r["cred"],
                    "issued_by": r["by_whom"],
                    "issued_at": r["issued"].isoformat(),
                    "novelty": {k: r[k] for k in kinds},
                    "new_credential_used": bool(r["same_cred"]),
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
