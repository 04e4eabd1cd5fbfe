"""An integration's observed activity against its learned baseline, as Vega-Lite specs built with Altair.

Three charts, each a plain JSON spec the console embeds with the vendored vega-embed:

* ``volume``: events per hour over the recent weeks, over the baseline's normal band (median +/- 2 robust
  sigma, at least up to p95) and its p99 line;
* ``heatmap``: events by local hour of week over the same weeks, with the learned active envelope outlined;
* ``destinations``: the destinations and targets touched per day, with the day each was first seen marked.

The data are small aggregates computed in DuckDB; values taken from logs are redacted before they are
placed in a spec. Altair writes Vega-Lite 6 specs; they use only marks and encodings Vega-Lite 5 renders,
so the schema URL is set to the vendored Vega-Lite 5. Scales carry no explicit time domain: Vega-Lite
compiles one to an expression Vega's interpreter (used instead of ``eval`` under the CSP) gets wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import altair as alt

from nhiwatch.baseline.frames import DAY_NAMES, LOCAL, TZ_JOIN, ensure_views
from nhiwatch.redact import redact
from nhiwatch.store import Store

WEEKS = 4
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH = 760


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    spec["$schema"] = SCHEMA
    return spec


def _iso(t: datetime) -> str:
    """UTC to the second with ``Z``: what every browser's ``Date.parse`` reads the same way."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_end(store: Store, integration_id: str) -> datetime | None:
    """Charts end at the integration's last activity (logs may be replayed from the past)."""
    t = store.scalar("SELECT max(time) FROM events WHERE integration_id = ?", [integration_id])
    return None if t is None else t + timedelta(hours=1)


def volume(store: Store, integration_id: str, end: datetime) -> dict[str, Any]:
    start = end - timedelta(weeks=WEEKS)
    rows = store.fetchall(
        "SELECT date_trunc('hour', time) AS h, count(*) FROM events WHERE integration_id = ? "
        "AND time >= ? AND time < ? GROUP BY 1 ORDER BY 1",
        [integration_id, start, end],
    )
    data = [{"hour": _iso(h), "events": int(n)} for h, n in rows]
    bars = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color="#3b6ea8", width=2)
        .encode(
            x=alt.X("hour:T", title="hour (UTC)", scale=alt.Scale(type="utc")),
            y=alt.Y("events:Q", title="events per hour"),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"), "events:Q"],
        )
    )
    layers: list[Any] = []
    band = store.fetchone(
        "SELECT med, sigma, p95, p99 FROM baseline_volume WHERE integration_id = ? AND action_class = '*' "
        "AND regime = 'normal' AND metric = 'events'",
        [integration_id],
    ) if store.table_exists("baseline_volume") else None  # fmt: skip
    if band is not None and band[0] is not None:
        med, sigma, p95, p99 = (float(x or 0) for x in band)
        lo, hi = max(0.0, med - 2 * sigma), max(p95, med + 2 * sigma)
        bdata = [{"start": _iso(start), "end": _iso(end), "lo": lo, "hi": hi, "p99": p99, "med": med}]
        base = alt.Chart(alt.Data(values=bdata))
        layers.append(
            base.mark_rect(color="#7fbf7f", opacity=0.3).encode(
                x="start:T", x2="end:T", y="lo:Q", y2="hi:Q", tooltip=["lo:Q", "hi:Q", "med:Q"]
            )
        )
        layers.append(base.mark_rule(color="#c0392b", strokeDash=[4, 3]).encode(y="p99:Q"))
    chart = alt.layer(*layers, bars).properties(
        width=WIDTH, height=220, title="Events per hour against the baseline band (green) and p99 (red)"
    )
    return _spec(chart)


def heatmap(store: Store, integration_id: str, end: datetime) -> dict[str, Any]:
    start = end - timedelta(weeks=WEEKS)
    ensure_views(store)
    rows = store.fetchall(
        f"""SELECT isodow(lt) - 1 AS d, hour(lt) AS h, count(*) FROM (
              SELECT {LOCAL} AS lt FROM events e {TZ_JOIN}
              WHERE e.integration_id = ? AND e.time >= ? AND e.time < ?) GROUP BY ALL""",
        [integration_id, start, end],
    )
    data = [{"day": DAY_NAMES[d], "hour": int(h), "events": int(n)} for d, h, n in rows]
    env: list[tuple[int, int]] = []
    if store.table_exists("baseline_envelope"):
        env = store.fetchall(
            "SELECT how, days_active FROM baseline_envelope WHERE integration_id = ?", [integration_id]
        )
    edata = [{"day": DAY_NAMES[how // 24], "hour": how % 24, "days_active": int(n)} for how, n in env]
    x = alt.X("hour:O", title="local hour", scale=alt.Scale(domain=list(range(24))))
    y = alt.Y("day:O", title=None, scale=alt.Scale(domain=list(DAY_NAMES)))
    cells = (
        alt.Chart(alt.Data(values=data))
        .mark_rect()
        .encode(
            x=x,
            y=y,
            color=alt.Color("events:Q", scale=alt.Scale(scheme="blues")),
            tooltip=["day:O", "hour:O", "events:Q"],
        )
    )
    outline = (
        alt.Chart(alt.Data(values=edata))
        .mark_rect(filled=False, stroke="#e67e22", strokeWidth=1.5)
        .encode(x=x, y=y, tooltip=["day:O", "hour:O", "days_active:Q"])
    )
    chart = alt.layer(cells, outline).properties(
        width=WIDTH, height=200, title="Events by local hour of week; the learned envelope outlined"
    )
    return _spec(chart)


def destinations(store: Store, integration_id: str, end: datetime, top: int = 15) -> dict[str, Any]:
    start = end - timedelta(weeks=WEEKS)
    rows = store.fetchall(
        """WITH v AS (
             SELECT CAST(time AS DATE) AS d, coalesce(lower(dst_endpoint_hostname), resource_name) AS target, time
             FROM events WHERE integration_id = ? AND coalesce(dst_endpoint_hostname, resource_name) IS NOT NULL),
           first AS (SELECT target, min(d) AS first_day FROM v GROUP BY target),
           recent AS (SELECT d, target, count(*) AS n FROM v WHERE time >= ? AND time < ? GROUP BY ALL),
           ranked AS (SELECT target FROM recent GROUP BY target ORDER BY sum(n) DESC, target LIMIT ?)
         SELECT r.d, r.target, r.n, f.first_day = r.d AS is_first
         FROM recent r JOIN ranked USING (target) JOIN first f USING (target) ORDER BY r.d, r.target""",
        [integration_id, start, end, top],
    )
    data = [
        {
            "day": d.strftime("%Y-%m-%dT00:00:00Z"),
            "target": redact(str(t))[:80],
            "events": int(n),
            "first_seen": bool(first),
        }
        for d, t, n, first in rows
    ]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("day:T", title="day (UTC)", scale=alt.Scale(type="utc")),
        y=alt.Y("target:N", title=None),
    )
    dots = base.mark_circle(color="#3b6ea8", opacity=0.7).encode(
        size=alt.Size("events:Q", legend=None),
        tooltip=[alt.Tooltip("day:T", formatType="utc"), "target:N", "events:Q"],
    )
    firsts = (
        base.transform_filter("datum.first_seen")
        .mark_point(shape="triangle-down", color="#c0392b", size=140, filled=True, yOffset=-9)
        .encode(tooltip=[alt.Tooltip("day:T", formatType="utc"), "target:N"])
    )
    chart = alt.layer(dots, firsts).properties(
        width=WIDTH,
        height=max(80, 22 * len({r["target"] for r in data})),
        title="Destinations and targets per day; red marks the day each was first seen",
    )
    return _spec(chart)


CHARTS = {"volume": volume, "heatmap": heatmap, "destinations": destinations}


def all_charts(store: Store, integration_id: str) -> dict[str, dict[str, Any]]:
    end = window_end(store, integration_id)
    if end is None:
        return {}
    return {name: fn(store, integration_id, end) for name, fn in CHARTS.items()}
