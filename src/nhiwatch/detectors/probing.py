"""probing: a run of failures that ends in a success — guessing or testing access until something works.

What and why: password spraying and token testing leave failures before the first success (Midnight
Blizzard: low-and-slow spray; Drift: TruffleHog token checks got 404s before logins; Shai-Hulud: scope
checks, 4xx, then retry; BeyondTrust: UI actions blocked, then API success). Per integration, events are
cut into runs: consecutive failures and the success that ends them. A run is probing when

* its failures are not all transient (429, 5xx, throttling, time-outs: ordinary retries are excluded);
* it is longer than ``run_ratio`` times the longest failure run the integration had in its history; and
* so many consecutive failures are improbable for its failure ratio ``f`` (smoothed):
  ``f ** failures < alpha``. An integration still learning uses ``prior_failure_ratio``.

Distinct operations, resources and reasons in the run are reported (enumeration looks varied; retries do
not). Parameters: ``alpha``, ``run_ratio``, ``prior_failure_ratio``. References: OWASP NHI4:2025, NHI2:2025;
NIST CSF 2.0 DE.CM-09, DE.CM-03, DE.AE-02; ATT&CK T1110.003, T1528, T1078.004.
"""

from __future__ import annotations

import math

from nhiwatch.alerts.units import measure, number, plural
from nhiwatch.baseline.stats import dev_from_p
from nhiwatch.detectors._common import finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="probing",
    title="Failures followed by success",
    kind="behaviour",
    description="A run of failed attempts ending in success, beyond the integration's normal retry shape.",
    owasp_nhi=("NHI4:2025", "NHI2:2025"),
    nist_csf=("DE.CM-09", "DE.CM-03", "DE.AE-02"),
    attack=("T1110.003", "T1528", "T1078.004"),
    params={"alpha": 1e-4, "run_ratio": 2.0, "prior_failure_ratio": 0.05},
    explanation="{observed}, against {expected}",
)
TRANSIENT = r"(429|^5\d\d|\b5\d\d\b|throttl|rate.?limit|timeout|timed out|unavailable|too many)"


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    rows = records(
        ctx.store,
        f"""
        WITH ev AS (
          SELECT e.integration_id, e.time, e.metadata_uid, e.status, e.api_operation, e.resource_name,
                 e.status_detail, e.src_endpoint_ip,
                 coalesce(sum((e.status = 'Success')::INT) OVER (PARTITION BY e.integration_id ORDER BY e.time
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp
          FROM events e WHERE {in_window(ctx)} AND e.status IN ('Success', 'Failure')),
        -- only runs of two failures or more can be probing: the rest are not aggregated at all
        failed AS (SELECT integration_id, grp FROM ev WHERE status = 'Failure' GROUP BY ALL HAVING count(*) >= 2),
        runs AS (
          SELECT integration_id, grp, count(*) FILTER (status = 'Failure') AS failures,
                 bool_or(status = 'Success') AS succeeded,
                 bool_and(status = 'Success' OR regexp_matches(lower(coalesce(status_detail, '')), '{TRANSIENT}'))
                   AS transient,
                 count(DISTINCT api_operation) FILTER (status = 'Failure') AS operations,
                 count(DISTINCT resource_name) FILTER (status = 'Failure') AS resources,
                 list(DISTINCT status_detail) FILTER (status = 'Failure') AS reasons,
                 count(DISTINCT src_endpoint_ip) AS ips, min(time) AS first_seen, max(time) AS last_seen,
                 list(metadata_uid ORDER BY status = 'Success' DESC, time)[1:20] AS evidence
          FROM ev SEMI JOIN failed USING (integration_id, grp) GROUP BY ALL)
        SELECT r.*, coalesce(b.state, 'learning') AS state, b.failure_ratio, b.events AS hist_events,
               coalesce(b.fail_run_max, 0) AS fail_run_max
        FROM runs r LEFT JOIN baseline_integrations b USING (integration_id)
        WHERE r.succeeded AND r.failures >= 2 AND NOT r.transient""",
    )
    alpha, rr = float(ctx.param(META, "alpha")), float(ctx.param(META, "run_ratio"))
    prior = float(ctx.param(META, "prior_failure_ratio"))
    best: dict[str, tuple[float, dict]] = {}
    for r in rows:
        if r["state"] == "learning" or not r["hist_events"]:
            f = prior
        else:  # smoothed: one failure in one extra event, so a spotless history is not certainty
            f = (r["failure_ratio"] * r["hist_events"] + 1) / (r["hist_events"] + 2)
        if r["failures"] <= rr * max(int(r["fail_run_max"]), 1):
            continue
        logp = r["failures"] * math.log(max(f, 1e-9))
        if logp >= math.log(alpha):
            continue
        if r["integration_id"] not in best or logp < best[r["integration_id"]][0]:
            best[r["integration_id"]] = (logp, r | {"f": f})
    out = []
    for logp, r in best.values():
        p = math.exp(max(logp, -700))
        out.append(
            finding(
                META,
                r,
                deviation=max(0.4, dev_from_p(p)),
                observed=(
                    f"{plural(r['failures'], 'failure')} in a row, then success ("
                    f"{plural(r['operations'], 'operation')}, {plural(r['resources'], 'resource')}, "
                    f"{plural(r['ips'], 'source address')})"
                ),
                expected=(
                    f"a failure rate of {number(100 * r['f'], 2)}% and at most "
                    f"{plural(r['fail_run_max'], 'failure')} in a row before"
                ),
                summary=f"{r['integration_id']} failed {plural(r['failures'], 'time')} before getting in",
                details={
                    "failures": r["failures"],
                    "reasons": [x for x in r["reasons"] if x][:10],
                    "operations": r["operations"],
                    "resources": r["resources"],
                    "p_value": p,
                    "prior_run_max": r["fail_run_max"],
                    "failure_rate": r["f"],
                    "state": r["state"],
                    "measure": measure(r["failures"], r["fail_run_max"], "failure in a row"),
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
