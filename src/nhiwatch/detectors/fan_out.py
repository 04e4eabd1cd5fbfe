"""fan_out: one integration touching far more distinct repositories, objects, hosts or tenants in an hour.

What and why: worms and mass theft enumerate (Shai-Hulud: ~100 repos with 3 calls each, then 1,000 repos per
30 min; Heroku/Travis: many organisations' repos cloned; Drift: one tool across 700+ tenants). For each
clock hour, the distinct ``resource_name``, ``dst_endpoint_hostname`` and ``metadata_tenant_uid`` an
integration touches are compared with its learned hourly distribution of the same count (all action
classes, same regime): above ``max(max_ratio x the largest hour, median + z x robust sigma)`` on the linear
and the log scale. Integrations
still learning use their peer group's bound, or the largest hour they have already shown when higher (what a
new integration did on its first day is judged that day, not again each day it repeats it). Or, for an integration past learning, the hour beats its
largest hour and brings improbably many never-seen values: Good-Turing rate of new values of the
dimension times the hour's events, Poisson tail below ``alpha`` (a burst split across two clock hours is
still a fan-out to new repositories).

On a close (month, quarter or year end, declared or learned) with too few hours of its own regime, and on
every month end (every quarter and year end is a month end too), the hour is also compared with the
integration's hours at earlier closes (``close`` in :mod:`nhiwatch.baseline.volume`); and a value it touched at an earlier
close is not new: a month-end job reads the accounts it read last month end, which the recent weeks' value
sets have forgotten. A value never touched at any close is new there too.

The count must also be improbable as a Poisson draw around the largest hour (``count_alpha``): three
repositories against at most two is chance, not a fan-out. The first close of its kind in an integration's
memory (:func:`nhiwatch.baseline.calendar.first_close`) is allowed its normal bound times
``burst_allowance``, as the volume detections allow it, and its never-seen values are not judged by the
Good-Turing rate: what only a close reads cannot have been seen before the first one.

Parameters: ``max_ratio``, ``z``, ``min_hours``, ``alpha``, ``count_alpha``, ``burst_allowance``.
References: OWASP NHI5:2025, NHI9:2025, NHI3:2025; NIST CSF
2.0 DE.CM-03, DE.CM-06, DE.AE-03, DE.AE-04; ATT&CK T1119, T1078.004, T1550.001, T1213.003.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from nhiwatch.alerts.units import amount, measure, number, span
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN
from nhiwatch.baseline.regimes import LONG_MEMORY_DAYS
from nhiwatch.baseline.stats import dev_from_p, dev_from_ratio, poisson_sf
from nhiwatch.baseline.volume import CLOSE, CLOSES_SQL
from nhiwatch.detectors._common import STATE, STATE_JOIN, UNPLANNED, finding, in_window, prepare, records
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="fan_out",
    title="Fan-out across many resources",
    kind="behaviour",
    description="One integration touching many more repositories, objects, hosts or tenants than it does.",
    owasp_nhi=("NHI5:2025", "NHI9:2025", "NHI3:2025"),
    nist_csf=("DE.CM-03", "DE.CM-06", "DE.AE-03", "DE.AE-04"),
    attack=("T1119", "T1078.004", "T1550.001", "T1213.003"),
    params={
        "max_ratio": 2.0,
        "z": 6.0,
        "min_hours": 5,
        "alpha": 1e-6,
        "count_alpha": 1e-3,
        "burst_allowance": 10.0,
    },
    explanation="{observed}, against {expected}",
)
COLS = {
    "resources": "e.resource_name",
    "destinations": "lower(e.dst_endpoint_hostname)",
    "tenants": "e.metadata_tenant_uid",
}
DIMS = {"resources": "resource", "destinations": "destination", "tenants": "tenant"}


def _close_known(ctx: DetectContext) -> None:
    """Temp table ``nw_close_known(integration_id, dimension, value)``: the resources, destinations and
    tenants each integration touched on its earlier close days, over the long memory."""
    ctx.store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_close_known (integration_id VARCHAR, dimension VARCHAR, value VARCHAR)"""
    )
    if not ctx.store.table_exists("rollup_values"):
        return
    ctx.store.execute(
        f"""INSERT INTO nw_close_known
        SELECT DISTINCT v.integration_id, v.dimension, v.value FROM rollup_values v
        JOIN nw_regime_days r ON r.integration_id = v.integration_id AND r.d = v.day
        WHERE r.regime IN ({CLOSES_SQL}) AND list_contains(?::VARCHAR[], v.dimension)
          AND v.day >= CAST(? AS DATE) AND v.day < CAST(? AS DATE)""",
        [list(DIMS.values()), ctx.since - timedelta(days=LONG_MEMORY_DAYS), ctx.since],
    )


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    mr, z, mh = (
        float(ctx.param(META, "max_ratio")),
        float(ctx.param(META, "z")),
        int(ctx.param(META, "min_hours")),
    )

    def bound(a: str) -> str:
        return (
            f"greatest({a}.max * {mr}, {a}.med + {z} * {a}.sigma, exp({a}.med_log + {z} * {a}.sigma_log) - 1)"
        )

    _close_known(ctx)
    # one pass over the window's events, each with its resource, destination and tenant as rows
    # (UNPIVOT leaves out the absent ones), so the joins are written and planned once, not per measure
    dim_of = "CASE lv.metric " + " ".join(f"WHEN '{m}' THEN '{d}'" for m, d in DIMS.items()) + " END"
    window = f"""
        ev AS (SELECT e.integration_id, e.time, e.metadata_uid, date_trunc('hour', e.time) AS hr, {STATE} AS state,
                      b.peer_group, r.regime, CAST({LOCAL} AS DATE) AS ld,
                      {", ".join(f"CAST({col} AS VARCHAR) AS {metric}" for metric, col in COLS.items())}
               FROM events e {TZ_JOIN} {STATE_JOIN}
               LEFT JOIN nw_regime_days r
                 ON r.integration_id = e.integration_id AND r.d = CAST({LOCAL} AS DATE)
               WHERE {in_window(ctx)} AND {UNPLANNED}),
        lv AS (UNPIVOT ev ON {", ".join(COLS)} INTO NAME metric VALUE v),
        w AS (SELECT lv.integration_id, lv.hr, lv.metric, count(DISTINCT lv.v)::DOUBLE AS x,
                     count(DISTINCT lv.v) FILTER (bv.value IS NULL AND ck.value IS NULL) AS new_values,
                     count(*) AS m, any_value(lv.state) AS state, coalesce(any_value(lv.peer_group), '?') AS peer_group,
                     coalesce(any_value(lv.regime), 'normal') AS regime, any_value(lv.ld) AS ld,
                     min(lv.time) AS first_seen, max(lv.time) AS last_seen,
                     list(lv.metadata_uid ORDER BY bv.value IS NULL DESC, lv.time, lv.metadata_uid)[1:20] AS evidence
              FROM lv
              LEFT JOIN baseline_values bv ON bv.integration_id = lv.integration_id AND bv.dimension = {dim_of}
                AND bv.value = lv.v
              LEFT JOIN nw_close_known ck ON lv.regime IN ({CLOSES_SQL}) AND ck.integration_id = lv.integration_id
                AND ck.dimension = {dim_of} AND ck.value = lv.v
              GROUP BY lv.integration_id, lv.hr, lv.metric)"""
    rows = records(
        ctx.store,
        f"""
        WITH {window}
        SELECT w.*, CASE WHEN w.state = 'learning' AND p.max IS NULL THEN NULL
                         WHEN w.state = 'learning' THEN greatest({bound("p")}, coalesce(ol.max, 0))
                         WHEN o.n IS NULL THEN greatest({bound("n")}, {bound("oc")})
                         WHEN w.regime = 'month_end' THEN greatest({bound("o")}, {bound("oc")})
                         ELSE {bound("o")} END AS bound,
               coalesce(CASE WHEN w.state = 'learning' THEN p.max END, CASE WHEN o.n IS NULL THEN greatest(n.max, oc.max)
                             WHEN w.regime = 'month_end' THEN greatest(o.max, oc.max) ELSE o.max END) AS hist_max,
               coalesce(CASE WHEN w.state = 'learning' THEN p.med END, o.med, n.med, oc.med) AS med,
               nv.n AS hist_n, nv.singletons, {bound("n")} AS normal_bound,
               EXISTS (SELECT 1 FROM nw_first_closes fc WHERE fc.integration_id = w.integration_id AND fc.d = w.ld)
                 AS first_close
        FROM w
        LEFT JOIN baseline_novelty nv ON nv.integration_id = w.integration_id AND nv.dimension = CASE w.metric
          WHEN 'resources' THEN 'resource' WHEN 'destinations' THEN 'destination' ELSE 'tenant' END
        LEFT JOIN baseline_volume o ON o.integration_id = w.integration_id AND o.action_class = '*'
          AND o.regime = w.regime AND o.metric = w.metric AND o.n >= {mh}
        LEFT JOIN baseline_volume oc ON oc.integration_id = w.integration_id AND oc.action_class = '*'
          AND w.regime IN ({CLOSES_SQL}) AND oc.regime = '{CLOSE}' AND oc.metric = w.metric
        LEFT JOIN baseline_volume n ON n.integration_id = w.integration_id AND n.action_class = '*'
          AND n.regime = 'normal' AND n.metric = w.metric AND n.n >= {mh}
        LEFT JOIN baseline_volume p ON p.integration_id = 'peer:' || w.peer_group AND p.action_class = '*'
          AND p.regime = 'normal' AND p.metric = w.metric
        LEFT JOIN baseline_volume ol ON ol.integration_id = w.integration_id AND ol.action_class = '*'
          AND ol.regime = 'normal' AND ol.metric = w.metric
        WHERE w.x > 1""",
    )
    alpha = float(ctx.param(META, "alpha"))
    count_alpha, allowance = float(ctx.param(META, "count_alpha")), float(ctx.param(META, "burst_allowance"))
    hits: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if (
            r["first_close"]
            and r["state"] != "learning"
            and r["normal_bound"] is not None
            and r["bound"] is not None
        ):
            r["bound"] = max(float(r["bound"]), float(r["normal_bound"]) * allowance)
        if r["bound"] is None or r["new_values"] == 0 or r["x"] <= (r["hist_max"] or 0):
            continue
        # distinct values are counts: a small hourly maximum is beaten by chance (3 repositories against 2)
        r["by_count"] = (
            r["x"] > r["bound"] and poisson_sf(int(r["x"]), max(float(r["hist_max"] or 0), 1.0)) < count_alpha
        )
        r["p_new"], r["lam"] = 1.0, None
        # Good-Turing: how many new values an hour should bring; not at a first close, whose work (objects
        # only a close reads) nothing in the memory can have seen: there the count must beat its allowance
        if r["state"] != "learning" and r["hist_n"] and not r["first_close"]:
            r["lam"] = (r["singletons"] + 0.5) / (r["hist_n"] + 1) * r["m"]
            r["p_new"] = poisson_sf(int(r["new_values"]), r["lam"])
        if r["by_count"] or r["p_new"] < alpha:
            hits[(r["integration_id"], r["hr"].date())].append(r)
    out = []
    for (integ, _day), rs in hits.items():
        # distinct values are whole units: a bound under one means none seen (and would divide by ~0)
        top = max(rs, key=lambda r: (r["by_count"], r["x"] / max(r["bound"], 1.0), -r["p_new"]))
        ratio = top["x"] / max(top["bound"], 1.0)
        noun, plural_noun = DIMS[top["metric"]], top["metric"]
        # raised on the count beyond its bound, or on improbably many new values (the count may be under it)
        by_count = top["by_count"]
        fired = (
            measure(top["x"], top["bound"], "distinct " + noun, usual=top["med"], largest=top["hist_max"])
            if by_count
            else measure(top["new_values"], top["lam"] or 0, "new " + noun)
        )
        out.append(
            finding(
                META,
                {
                    "integration_id": integ,
                    "first_seen": min(r["first_seen"] for r in rs),
                    "last_seen": max(r["last_seen"] for r in rs),
                    "evidence": top["evidence"],
                },
                deviation=max(dev_from_ratio(ratio), dev_from_p(min(r["p_new"] for r in rs))),
                observed=(
                    f"{amount(top['x'], 'distinct ' + noun)} in one hour, "
                    f"{span(top['first_seen'], top['last_seen'])}, "
                    f"{top['new_values']:,} never seen before"
                ),
                expected=(
                    f"at most {amount(top['bound'], noun)} an hour (median {number(top['med'] or 0)}, "
                    f"largest hour {number(top['hist_max'] or 0)})"
                    if by_count
                    else f"about {number(top['lam'] or 0, 2)} new {plural_noun} an hour and at most "
                    f"{amount(top['hist_max'] or 0, noun)} in its largest hour"
                ),
                summary=f"{integ} fanned out across {amount(top['x'], noun)} in one hour",
                details={
                    "metric": top["metric"],
                    "distinct": top["x"],
                    "new_values": top["new_values"],
                    "ratio": round(ratio, 2),
                    "p_new": top["p_new"],
                    "hours": len({r["hr"] for r in rs}),
                    "measure": fired,
                    "state": top["state"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
