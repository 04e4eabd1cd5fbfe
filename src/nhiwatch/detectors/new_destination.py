"""new_destination: traffic to a destination outside the declared allow-list, or never seen before.

What and why: exfiltration and dead drops go somewhere new (Shai-Hulud: ``webhook.site``; gists; Snowflake:
an attacker's stage; CircleCI: ``potrax[.]com``). Two tests on ``dst_endpoint_hostname``:

* declared: the integration lists ``allowed_destinations`` (globs such as ``*.salesforce.com``) and the host
  name matches none of them, and the integration was not already using it in its history window: a finding
  from day one (a habitual host missing from the list is an inventory matter, reported when first used,
  not every day). Bare IP addresses (flow
  logs without a name) cannot be matched against host globs and are judged like the learned case;
* learned: no allow-list, and the count of never-seen hosts is improbable under the integration's own
  Good-Turing rate of new destinations (:mod:`._novelty`); skipped while the integration is learning.

Both leave out shared infrastructure: a host at least ``fleet_min`` *other* integrations of the company
already used in the history window (certificate status, CRL and package-mirror endpoints the TLS stack or
the OS calls on its own) is not a drop site an attacker picked for this integration. A host only this
integration uses, however common on the internet, is still judged. Nor is the token endpoint of a platform
the integration holds an identity on (:mod:`._identity_hosts`: ``login.salesforce.com`` for a connected app).

Parameters: ``alpha``, ``fleet_min``. References: OWASP NHI2:2025, NHI3:2025; NIST CSF 2.0 DE.CM-01, DE.CM-09, DE.AE-07;
ATT&CK T1567, T1567.001, T1537, T1090.003.
"""

from __future__ import annotations

from nhiwatch.alerts.units import count, plural, size
from nhiwatch.baseline.stats import dev_from_p
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors._identity_hosts import is_identity_host
from nhiwatch.detectors._novelty import new_values
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding


def is_ip_literal(column: str) -> str:
    """SQL: the host expression ``column`` (a column of our own query, never a value) is a bare address."""
    return f"regexp_full_match({column}, '[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*')"


META = DetectorMeta(
    id="new_destination",
    title="New or undeclared destination",
    kind="behaviour",
    description="Data sent to a host outside the declared destinations, or one the integration never used.",
    owasp_nhi=("NHI2:2025", "NHI3:2025"),
    nist_csf=("DE.CM-01", "DE.CM-09", "DE.AE-07"),
    attack=("T1567", "T1567.001", "T1537", "T1090.003"),
    params={"alpha": 0.02, "fleet_min": 3},
    explanation="{observed}, against {expected}",
)


def _not_fleet_wide(host: str, integ: str, fleet_min: int) -> str:
    """SQL: the host is not already used by ``fleet_min`` other integrations in the history window."""
    return f"""(SELECT count(DISTINCT fv.integration_id) FROM baseline_values fv WHERE fv.dimension = 'destination'
        AND fv.value = {host} AND fv.integration_id <> {integ}) < {fleet_min}"""


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    fleet_min = int(ctx.param(META, "fleet_min"))
    out = []
    declared = records(
        ctx.store,
        f"""
        WITH d AS (
          SELECT e.integration_id, lower(e.dst_endpoint_hostname) AS host, e.time, e.metadata_uid,
                 coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0) AS bytes
          FROM events e WHERE {in_window(ctx)} AND e.dst_endpoint_hostname IS NOT NULL),
        allow AS (SELECT id AS integration_id, lower(unnest(allowed_destinations)) AS pat FROM integrations
                  WHERE len(allowed_destinations) > 0),
        bad AS (SELECT d.* FROM d WHERE d.integration_id IN (SELECT integration_id FROM allow) AND NOT {is_ip_literal("d.host")}
                AND NOT EXISTS (SELECT 1 FROM allow a WHERE a.integration_id = d.integration_id
                  AND (d.host GLOB a.pat OR d.host = ltrim(a.pat, '*.')))
                AND NOT EXISTS (SELECT 1 FROM baseline_values v WHERE v.integration_id = d.integration_id
                  AND v.dimension = 'destination' AND v.value = d.host)
                AND {_not_fleet_wide("d.host", "d.integration_id", fleet_min)}
                AND NOT {is_identity_host("d.host", "d.integration_id")})
        SELECT integration_id, list(DISTINCT host) AS hosts, count(*) AS n, sum(bytes) AS bytes,
               min(time) AS first_seen, max(time) AS last_seen,
               list(metadata_uid ORDER BY bytes DESC, time)[1:20] AS evidence,
               (SELECT list(pat) FROM allow a WHERE a.integration_id = bad.integration_id) AS allowed
        FROM bad GROUP BY integration_id""",
    )
    for r in declared:
        hosts = sorted(r["hosts"])
        out.append(
            finding(
                META,
                r,
                deviation=0.8,
                observed=f"{plural(r['n'], 'call')} to {plural(len(hosts), 'undeclared host')}: "
                f"{', '.join(hosts[:5])}" + (f", {size(r['bytes'])}" if r["bytes"] else ""),
                expected=f"allowed destinations {', '.join(sorted(r['allowed']))}",
                summary=f"{r['integration_id']} sent traffic to {hosts[0]}, outside its declared destinations",
                details={"hosts": hosts[:20], "events": r["n"], "bytes": r["bytes"], "basis": "declared"},
            )
        )
    alpha = float(ctx.param(META, "alpha"))
    # host names of an integration with an allow-list are judged by it alone; bare addresses, which no host
    # glob can match, are judged by novelty like everything else
    allowlisted = "e.integration_id IN (SELECT id FROM integrations WHERE len(allowed_destinations) > 0)"
    host = "lower(e.dst_endpoint_hostname)"
    extra = (
        f"(NOT ({allowlisted}) OR {is_ip_literal(host)}) "
        f"AND {_not_fleet_wide(host, 'e.integration_id', fleet_min)} "
        f"AND NOT {is_identity_host(host, 'e.integration_id')}"
    )
    for r in new_values(ctx, ("destination",), extra):
        if r["state"] == "learning":
            continue
        if r["p"] >= (alpha if r["state"] == "established" else alpha / 10):
            continue
        hosts = r["new_values"]
        out.append(
            finding(
                META,
                r,
                deviation=dev_from_p(r["p"]),
                observed=f"{plural(r['k'], 'never-seen destination')}: {', '.join(hosts[:5])} "
                f"({plural(r['events'], 'event')})",
                expected=f"{plural(r['hist_distinct'], 'known destination')}, {count(r['singletons'])} seen once "
                f"in {plural(r['hist_n'], 'event')}",
                summary=f"{r['integration_id']} talked to {hosts[0]}, a destination it has never used",
                details={
                    "hosts": hosts,
                    "events": r["events"],
                    "p_value": r["p"],
                    "known": r["hist_distinct"],
                    "seen_once": r["singletons"],
                    "history_events": r["hist_n"],
                    "basis": "learned",
                    "state": r["state"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
