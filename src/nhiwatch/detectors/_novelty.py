"""New values in the window against the learned value sets, with a Good-Turing tail probability.

For each (integration, dimension), the window's values absent from ``baseline_values`` are *new* (a user
agent that is a new version of a client the integration already runs is not: :func:`nhiwatch.dimensions.known_client`). The
learned chance that an event shows an unseen value is ``(singletons + 0.5) / (n + 1)`` (Good-Turing, with
a half-count so a stable set is not treated as impossible to extend); over the ``m`` window events
carrying the dimension (capped at the number the history rate predicts for the window, so an attacker's
own volume does not excuse its novelty) the count of new values is about Poisson with that mean, and
``p`` is its upper tail at the observed count ``k``. New values are counted per UTC day of first sight, so
the test means the same whatever the length of the scored window.

Events of one run are not independent (a job repeats the same host on every call), so the rate is also
estimated per active day: ``day_singletons / days`` new values per day (Good's estimate, without the
half-count: a day-level rate is used only when the history shows values that came for one day and went), from
values seen on exactly one day of the history. The larger of the two expectations is used: an integration
that meets a new cloud address on every weekly run is not surprising when it meets one more, while a set
that has not changed over weeks of activity still makes one new value stand out.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.baseline.stats import poisson_sf
from nhiwatch.baseline.values import value_rows_sql
from nhiwatch.detectors._common import STATE, in_window, records, window_days
from nhiwatch.detectors.base import DetectContext
from nhiwatch.dimensions import known_client


def _regime_usual(ctx: DetectContext) -> str:
    # on a month, quarter or year end, the kinds of action earlier closes brought (long memory) are not new
    if not ctx.store.table_exists("baseline_regime_values"):
        return ""
    return """ANTI JOIN (SELECT rv.integration_id, rv.dimension, rv.value, r.d FROM baseline_regime_values rv
                           JOIN nw_regime_days r USING (integration_id)) rr
                ON rr.integration_id = v.integration_id AND rr.dimension = v.dimension AND rr.value = v.value
                AND rr.d = v.day"""


def new_values(ctx: DetectContext, dims: tuple[str, ...], extra_where: str = "true") -> list[dict[str, Any]]:
    """Rows per (integration, dimension, day) with new values: k, values, evidence, p (Good-Turing tail), state."""
    return new_values_of(ctx, [(dims, extra_where)])


def new_values_of(ctx: DetectContext, parts: list[tuple[tuple[str, ...], str]]) -> list[dict[str, Any]]:
    """:func:`new_values` of several (dimensions, filter) pairs, each dimension in one pair, in one query (a
    statement costs more to plan than a micro-batch's events cost to read)."""
    dims = [d for part_dims, _ in parts for d in part_dims]
    if len(dims) != len(set(dims)):
        raise ValueError(f"a dimension is in more than one part: {dims}")
    wv = " UNION ALL ".join(value_rows_sql(in_window(ctx) + f" AND ({where})", d) for d, where in parts)
    rows = records(
        ctx.store,
        f"""
        WITH wv AS ({wv}),
        tot AS (SELECT integration_id, dimension, CAST(time AS DATE) AS day, count(*) AS m FROM wv GROUP BY ALL),
        vals AS (SELECT integration_id, dimension, value, min(time) AS f, max(time) AS l, count(*) AS n,
                        arg_min(metadata_uid, time) AS uid, CAST(min(time) AS DATE) AS day
                 FROM wv GROUP BY integration_id, dimension, value),
        new AS (SELECT v.* FROM vals v ANTI JOIN baseline_values b ON b.integration_id = v.integration_id
                AND b.dimension = v.dimension AND b.value = v.value {_regime_usual(ctx)}
                WHERE NOT (v.dimension = 'user_agent' AND {known_client("v.value", "v.integration_id")}))
        SELECT n.integration_id, n.dimension, n.day, count(*) AS k, sum(n.n) AS events, min(n.f) AS first_seen,
               max(n.l) AS last_seen, list(n.value ORDER BY n.f, n.value)[1:20] AS new_values,
               list(n.uid ORDER BY n.f, n.value)[1:20] AS evidence, any_value(t.m) AS m,
               coalesce(any_value(nv.n), 0) AS hist_n, coalesce(any_value(nv.singletons), 0) AS singletons,
               coalesce(any_value(nv.distinct_values), 0) AS hist_distinct,
               coalesce(any_value(nv.days), 0) AS hist_days, coalesce(any_value(nv.day_singletons), 0) AS day_singletons,
               any_value({STATE}) AS state, coalesce(any_value(b.span_days), 0) AS span_days
        FROM new n JOIN tot t USING (integration_id, dimension, day)
        LEFT JOIN baseline_novelty nv ON nv.integration_id = n.integration_id AND nv.dimension = n.dimension
        LEFT JOIN baseline_integrations b ON b.integration_id = n.integration_id
        GROUP BY n.integration_id, n.dimension, n.day ORDER BY n.integration_id, n.day""",
    )
    rows.sort(key=lambda r: dims.index(r["dimension"]))  # in the order asked: callers break ties by it
    wd = min(window_days(ctx), 1.0)
    for r in rows:
        rate = (r["singletons"] + 0.5) / (r["hist_n"] + 1)
        expected_m = r["hist_n"] * wd / r["span_days"] if r["span_days"] > 0 else r["m"]
        m = min(float(r["m"]), max(expected_m, 1.0))
        per_day = r["day_singletons"] / r["hist_days"] if r["hist_days"] else 0.0
        r["lambda"] = max(rate * m, per_day * wd)
        r["p"] = poisson_sf(int(r["k"]), r["lambda"])
    return rows


def novelty_details(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """A finding's details for :func:`new_values` rows: per dimension the new values, their events and
    tail, and the history the text compares them with."""
    return {
        r["dimension"]: {
            "new": r["new_values"],
            "events": r["events"],
            "p_value": r["p"],
            "known": r["hist_distinct"],
            "seen_once": r["singletons"],
            "history_events": r["hist_n"],
        }
        for r in rs
    }


def combined_p(rows: list[dict[str, Any]]) -> float:
    """Several dimensions new at once: the smallest p, raised to ``1 + 0.5 x (others)``.

    New dimensions are correlated (a new address often brings a new ASN), so this is deliberately weaker
    than a product of independent tails, and stronger than the best single one.

    >>> round(combined_p([{"p": 0.03}, {"p": 0.05}]), 5)
    0.0052
    """
    if not rows:
        return 1.0
    best = min(float(r["p"]) for r in rows)
    return float(best ** (1 + 0.5 * (len(rows) - 1)))
