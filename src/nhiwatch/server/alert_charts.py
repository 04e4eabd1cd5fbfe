"""An alert's evidence drawn against its integration's history, as Vega-Lite specs built with Altair.

Three charts, read from the rollups and the inventory (small aggregates, never a scan of events):

* ``volume`` (here): the hourly series the alert is about (the measured class and metric when a volume
  detection fired, else all events) over the week before it, on the usual range of the weeks before, with
  the detector's bound and the alert's window highlighted;
* ``novelty`` (:mod:`.alert_novelty`): per dimension with values first seen during the alert, the values
  first seen per local day, those of the alert in red, against how many were known before;
* ``heatmap`` (:mod:`.alert_heatmap`): activity by hour of the week in the integration's own time zone
  (named), the declared working hours outlined and the alert's hours marked.

Values taken from logs are redacted and cut short before they enter a spec. Layers carry names
(``alert_window``, ``alert_hours`` ...), which Vega writes as CSS classes on the drawn marks: the browser
tests find the highlight by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from nhiwatch.alerts.model import Alert
from nhiwatch.detectors.base import Finding
from nhiwatch.server.alert_frame import (
    AFTER,
    BEFORE,
    BLUE,
    DAY_AXIS,
    GREEN,
    ORANGE,
    RED,
    integration_zone,
    spec,
    wall,
    window,
)
from nhiwatch.server.alert_heatmap import heatmap
from nhiwatch.server.alert_novelty import Novelty, novelty_chart, novelty_counts
from nhiwatch.server.charts import WIDTH
from nhiwatch.store import Store

USUAL_WEEKS = 4
MIN_USUAL_HOURS = 5  # fewer active hours before the alert: no usual range is drawn
HOURLY_METRICS = ("events", "records", "bytes", "resources", "destinations", "tenants")


@dataclass
class AlertEvidence:
    """What the alert page draws: the zone, the specs, and the new values in a table beside the chart."""

    tz: str
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    novelty: list[Novelty] = field(default_factory=list)


def alert_evidence(store: Store, alert: Alert, findings: list[Finding]) -> AlertEvidence:
    tz = integration_zone(store, alert.integration_id)
    out = AlertEvidence(tz=tz)
    if not store.table_exists("rollup_hourly"):
        return out
    vol = volume(store, alert, findings, tz)
    if vol is not None:
        out.specs["volume"] = vol
    out.novelty = novelty_counts(store, alert, tz)
    if out.novelty:
        out.specs["novelty"] = novelty_chart(store, alert, out.novelty, tz)
    heat = heatmap(store, alert, findings, tz)
    if heat is not None:
        out.specs["heatmap"] = heat
    return out


# -- volume -------------------------------------------------------------------------------------------------


def usual_range(
    store: Store, integration_id: str, klass: str, metric: str, before: datetime
) -> tuple[float, float, float, float] | None:
    """(p5, median, p95, max) of the active hours in the weeks before ``before``, from the hourly rollup.

    Read from the rollups rather than the learned baseline: the baseline is relearned as time goes on, so
    for an alert in the past it would hold the alert's own hours."""
    got = store.fetchall(
        f"""SELECT count(v), quantile_cont(v, 0.05), median(v), quantile_cont(v, 0.95), max(v) FROM (
              SELECT {metric}::DOUBLE AS v FROM rollup_hourly WHERE integration_id = ? AND action_class = ?
              AND status = '*' AND hour >= ? AND hour < ?)""",
        [integration_id, klass, before - timedelta(weeks=USUAL_WEEKS), before],
    )
    if not got or not got[0][0] or int(got[0][0]) < MIN_USUAL_HOURS:
        return None
    _, p5, med, p95, top = (float(x or 0) for x in got[0])
    return p5, med, p95, top


def series_of(findings: list[Finding]) -> tuple[str, str, float | None]:
    """(metric, action class, the detector's bound) of the strongest volume finding (amounts moved before
    distinct counts); all events when there is none."""
    amounts = ("events", "records", "bytes")

    def bound_of(d: Mapping[str, Any]) -> float | None:
        measure = d.get("measure")
        bound = measure.get("bound") if isinstance(measure, dict) else d.get("bound")
        return float(bound) if isinstance(bound, int | float) else None

    def rank(f: Finding) -> tuple[bool, bool, float]:
        return f.details.get("metric") not in amounts, bound_of(f.details) is None, -f.deviation

    for f in sorted(findings, key=rank):
        d = f.details
        metric = d.get("metric")
        if metric not in HOURLY_METRICS:
            continue
        klass = d.get("action_class") or next(iter(d.get("classes") or []), None) or "*"
        return str(metric), str(klass), bound_of(d)
    return "events", "*", None


def _unit(metric: str, typical: float) -> tuple[str, float]:
    """The unit the y axis is drawn in: bytes in the decimal unit of the typical hour, counts as they are."""
    if metric != "bytes":
        return metric, 1.0
    scale, name = 1.0, "bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        if typical < scale * 1000:
            break
        scale, name = scale * 1000, unit
    return name, scale


def _decades(top: float) -> list[float]:
    """0, 1, 10, 100 ... up to ``top``: the ticks of a log axis."""
    out, v = [0.0], 1.0
    while v <= top * 10:
        out.append(v)
        v *= 10
    return out


def volume(store: Store, alert: Alert, findings: list[Finding], tz: str) -> dict[str, Any] | None:
    metric, klass, bound = series_of(findings)
    w0, w1 = window(alert)
    start, end = w0 - BEFORE, w1 + AFTER
    last = store.scalar(
        "SELECT max(hour) FROM rollup_hourly WHERE integration_id = ? AND status = '*'",
        [alert.integration_id],
    )
    if last is None:
        return None
    end = min(end, max(last + timedelta(hours=1), w1))
    band = usual_range(store, alert.integration_id, klass, metric, w0)
    if band is None and klass != "*":  # a class it never used before: draw it against all its activity
        klass = "*"
        band = usual_range(store, alert.integration_id, klass, metric, w0)
    rows = store.fetchall(
        f"SELECT hour, {metric} FROM rollup_hourly WHERE integration_id = ? AND action_class = ? "
        "AND status = '*' AND hour >= ? AND hour < ? ORDER BY hour",
        [alert.integration_id, klass, start, end],
    )
    typical = band[3] if band else (sorted(float(v or 0) for _, v in rows)[len(rows) // 2] if rows else 0.0)
    unit, scale = _unit(metric, typical)
    what = f"{metric} of {klass}" if klass != "*" else metric
    data = [
        {"hour": wall(h, tz), "value": float(v or 0) / scale, "in_alert": w0 <= h < w1}
        for h, v in rows
        if v is not None
    ]
    if not data:
        return None
    layers: list[Any] = []
    peak = max((r["value"] for r in data), default=0.0)
    usual_top = 0.0
    if band is not None:
        lo, med, hi, hist_max = (x / scale for x in band)
        bdata = [
            {
                "start": wall(start, tz),
                "end": wall(end, tz),
                "lo": lo,
                "hi": hi,
                "med": med,
                "max": hist_max,
            }
        ]
        base = alt.Chart(alt.Data(values=bdata))
        layers.append(
            base.mark_rect(color=GREEN, opacity=0.35)
            .encode(
                x="start:T",
                x2="end:T",
                y="lo:Q",
                y2="hi:Q",
                tooltip=[
                    alt.Tooltip("lo:Q", title="usual from", format=",.1f"),
                    alt.Tooltip("med:Q", title="median", format=",.1f"),
                    alt.Tooltip("hi:Q", title="usual up to", format=",.1f"),
                ],
            )
            .properties(name="baseline_band")
        )
        layers.append(
            base.mark_rule(color="#2e7d32", strokeDash=[2, 2])
            .encode(y="max:Q", tooltip=[alt.Tooltip("max:Q", title="largest hour before", format=",.1f")])
            .properties(name="baseline_max")
        )
        usual_top = hist_max
    if bound is not None:
        rule = [{"bound": bound / scale}]
        layers.append(
            alt.Chart(alt.Data(values=rule))
            .mark_rule(color=RED, strokeDash=[6, 3])
            .encode(y="bound:Q", tooltip=[alt.Tooltip("bound:Q", title="detector's bound")])
            .properties(name="alert_bound")
        )
    wdata = [{"from": wall(w0, tz), "to": wall(w1, tz)}]
    # the whole stretch is drawn even where it was quiet (an invisible mark at each end: an explicit time
    # domain compiles to an expression Vega's interpreter gets wrong)
    ends = [{"t": wall(start, tz)}, {"t": wall(end, tz)}]
    layers.append(alt.Chart(alt.Data(values=ends)).mark_point(opacity=0).encode(x="t:T"))
    layers.append(
        alt.Chart(alt.Data(values=wdata))
        .mark_rect(color=ORANGE, opacity=0.25)
        .encode(
            x="from:T",
            x2="to:T",
            tooltip=[alt.Tooltip("from:T", title="alert from", format="%a %d %b %H:%M", formatType="utc")],
        )
        .properties(name="alert_window")
    )
    # an exfiltration hour can be a thousand times the usual one: on a linear axis the band would vanish
    log = usual_top > 0 and peak > 20 * usual_top
    y_scale = alt.Scale(type="symlog") if log else alt.Scale()
    bars = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(width=3)
        .encode(
            x=alt.X("hour:T", title=f"local time ({tz})", scale=alt.Scale(type="utc"), axis=DAY_AXIS),
            y=alt.Y(
                "value:Q",
                title=f"{unit} per hour" if klass == "*" else f"{unit} of {klass} per hour",
                scale=y_scale,
                axis=alt.Axis(values=_decades(peak), format=",.0f") if log else alt.Axis(format=",~r"),
            ),
            color=alt.Color(
                "in_alert:N", scale=alt.Scale(domain=[False, True], range=[BLUE, RED]), legend=None
            ),
            tooltip=[
                alt.Tooltip("hour:T", title=f"hour ({tz})", format="%a %d %b %H:00", formatType="utc"),
                alt.Tooltip("value:Q", title=unit, format=",.1f"),
            ],
        )
        .properties(name="hourly")
    )
    log_note = " (log scale)" if log else ""
    title = (
        f"Hourly {what}{log_note}: the usual range of the {USUAL_WEEKS} weeks before in green (largest hour dotted), "
        "the detector's bound dashed red, the alert in orange"
    )
    chart = alt.layer(*layers, bars).properties(width=WIDTH, height=220, title=title)
    return spec(chart)
