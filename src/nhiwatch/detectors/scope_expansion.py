"""scope_expansion: an integration gains scopes, object types, tenants or storage locations it never had.

What and why: attackers widen what a foothold can reach (Midnight Blizzard: new app secret, new OAuth
apps, ``full_access_as_app``; Drift: reads of User, Case and custom objects; Snowflake: a new stage;
Shai-Hulud v2: new workflows and runners). Three signals:

* scopes seen on events or granted (``scope_grant``) outside the integration's declared ``scopes`` when it
  declares some: a finding from day one;
* new scopes, resource types, tenants and kinds of action (a read-only sync that starts exporting or
  deleting) against the learned sets (types, tenants and actions of management events such as a key
  rotation are left out: they are done to the integration, not by it), judged with the integration's own
  Good-Turing rate of new values (:mod:`._novelty`); skipped while learning, ``alpha / 10`` when
  provisional. A new kind of action inside the integration's own change ticket (the audit export, the
  re-sync the ticket announces) is the planned work itself and is not counted; new scopes, types and
  tenants are, ticket or not. Object types and tenants come from the integration's own credential use: a
  host's network records (OCSF 4001/4002: the OCSP, CRL and package-mirror calls its machine makes, logged
  as ``url`` objects) are not objects its identity reaches. Nor is signing in (``auth``) to a platform
  during its outage and catch-up
  (:mod:`nhiwatch.fleet`): connectors log in again when their sessions broke;
* new storage locations: new resources of storage-like types (bucket, stage, container, share, ...).

Parameters: ``alpha``. References: OWASP NHI5:2025, NHI3:2025, NHI6:2025; NIST CSF 2.0 DE.CM-03, DE.CM-09,
DE.AE-02; ATT&CK T1098.001, T1098.003, T1671, T1136.003.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import plural, plural_of
from nhiwatch.baseline.stats import dev_from_p
from nhiwatch.detectors._common import (
    CREDENTIAL_USE,
    NOT_MANAGEMENT,
    UNPLANNED,
    finding,
    in_window,
    prepare,
    records,
)
from nhiwatch.detectors._novelty import combined_p, new_values_of, novelty_details
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding
from nhiwatch.fleet import ensure as fleet_context

META = DetectorMeta(
    id="scope_expansion",
    title="Scope or reach expansion",
    kind="behaviour",
    description="New scopes granted, new object types, tenants or storage locations for an integration.",
    owasp_nhi=("NHI5:2025", "NHI3:2025", "NHI6:2025"),
    nist_csf=("DE.CM-03", "DE.CM-09", "DE.AE-02"),
    attack=("T1098.001", "T1098.003", "T1671", "T1136.003"),
    params={"alpha": 0.02},
    explanation="{observed}, against {expected}",
)
# a sign-in to a platform during its outage or the catch-up after it: the connector reconnecting
REAUTH = """(e.action_class = 'auth' AND EXISTS (SELECT 1 FROM nw_fleet f WHERE f.integration_id = e.integration_id
    AND f.group_kind = 'source' AND f.group_name = e.source AND e.time >= f.from_time AND e.time < f.catchup_end))"""
STORAGE = (
    "regexp_matches(lower(coalesce(e.resource_type, '')), 'bucket|stage|container|share|storage|blob|drive')"
)
LABEL = {
    "scope": "scope",
    "resource_type": "object type",
    "tenant": "tenant",
    "resource": "storage location",
    "action_class": "kind of action",
}


def _undeclared(ctx: DetectContext) -> list[dict[str, Any]]:
    return records(
        ctx.store,
        f"""
        WITH s AS (
          SELECT e.integration_id, unnest(e.scopes) AS scope, e.time, e.metadata_uid,
                 e.action_class = 'scope_grant' AS granted
          FROM events e WHERE {in_window(ctx)} AND len(e.scopes) > 0),
        d AS (SELECT id, scopes FROM integrations WHERE len(scopes) > 0)
        SELECT s.integration_id, list(DISTINCT s.scope) AS new_values, count(*) AS events,
               min(s.time) AS first_seen, max(s.time) AS last_seen, bool_or(s.granted) AS granted,
               list(s.metadata_uid ORDER BY s.granted DESC, s.time)[1:20] AS evidence, any_value(d.scopes) AS declared
        FROM s JOIN d ON d.id = s.integration_id WHERE NOT list_contains(d.scopes, s.scope)
        GROUP BY s.integration_id""",
    )


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    fleet_context(ctx)
    alpha = float(ctx.param(META, "alpha"))
    out = []
    for r in _undeclared(ctx):
        scopes = sorted(r["new_values"])
        out.append(
            finding(
                META,
                r,
                deviation=0.85 if r["granted"] else 0.7,
                observed=(
                    f"{'granted' if r['granted'] else 'used'} {plural(len(scopes), 'undeclared scope')}: "
                    f"{', '.join(scopes[:6])}"
                ),
                expected=f"declared scopes {', '.join(sorted(r['declared']))}",
                summary=f"{r['integration_id']} holds scopes beyond what its owner declared",
                details={"scope": {"new": scopes, "events": r["events"]}, "basis": "declared"},
            )
        )
    by_integ: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    rows = new_values_of(
        ctx,
        [
            (("scope",), "true"),
            (("resource_type", "tenant"), f"{NOT_MANAGEMENT} AND {CREDENTIAL_USE}"),
            (("action_class",), f"{NOT_MANAGEMENT} AND {UNPLANNED} AND NOT {REAUTH}"),
            (("resource",), f"{STORAGE} AND {NOT_MANAGEMENT}"),
        ],
    )
    for r in rows:
        if r["state"] != "learning":
            by_integ[(r["integration_id"], r["day"])].append(r)
    declared_hit = {f.integration_id for f in out}
    for (integ, _day), rs in by_integ.items():
        rs = sorted(
            (r for r in rs if not (integ in declared_hit and r["dimension"] == "scope")), key=lambda r: r["p"]
        )
        if not rs or combined_p(rs) >= (alpha if rs[0]["state"] == "established" else alpha / 10):
            continue
        first, last = min(r["first_seen"] for r in rs), max(r["last_seen"] for r in rs)
        out.append(
            finding(
                META,
                {
                    "integration_id": integ,
                    "first_seen": first,
                    "last_seen": last,
                    "evidence": [u for r in rs for u in r["evidence"]],
                },
                deviation=dev_from_p(combined_p(rs)),
                observed="; ".join(
                    f"{plural(r['k'], 'new ' + LABEL[r['dimension']])}: {', '.join(map(str, r['new_values'][:4]))}"
                    for r in rs
                ),
                expected="; ".join(plural(r["hist_distinct"], "known " + LABEL[r["dimension"]]) for r in rs),
                summary=f"{integ} reached {plural_of(LABEL[rs[0]['dimension']])} it has never touched",
                details=novelty_details(rs) | {"basis": "learned", "state": rs[0]["state"]},
            )
        )
    return out


DETECTOR = Detector(META, run)
