"""An alert's evidence drawn against its integration's baseline, as Vega-Lite specs built with Altair.

Three charts, read from the rollups and the learned baseline (small aggregates, never a scan of events):

* ``volume``: the hourly series the alert is about (the measured class and metric when a volume detection
  fired, else all events) over the week before it, on the baseline's usual range, with the detector's bound
  and the alert's window highlighted;
* ``novelty``: per dimension with values first seen during the alert (destinations, networks, resources ...),
  the values first seen per local day, those of the alert in red, against how many were known before;
* ``heatmap``: activity by hour of the week in the integration's own time zone (named), the learned working
  hours outlined and the alert's hours marked.

Times are drawn as wall-clock time in the integration's zone. Values taken from logs are redacted and cut short
before they enter a spec. Layers carry names (``alert_window``, ``alert_hours`` ...), which Vega writes as CSS
classes on the drawn marks: the browser tests find the highlight by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.units import local_time, zone
from nhiwatch.baseline.frames import DAY_NAMES
from nhiwatch.detectors.base import Finding
from nhiwatch.redact import redact
from nhiwatch.server.charts import SCHEMA, WIDTH
from nhiwatch.store import Store

BEFORE = timedelta(days=7)  # history drawn before the alert
AFTER = timedelta(days=1)
HEAT_WEEKS = 4
USUAL_WEEKS = 4
MIN_USUAL_HOURS = 5
HOURLY_METRICS = ("events", "records", "bytes", "resources", "destinations", "tenants")
# dimension -> how an analyst calls its values; in the order they are shown (the telling ones first)
DIMENSION_LABELS = {
    "destination": "destinations",
    "ip24": "networks (/24 or /64)",
    "asn": "networks (AS number)",
    "user_agent": "clients (user agents)",
    "tenant": "tenants",
    "scope": "scopes",
    "credential": "credentials",
    "action_class": "kinds of action",
    "resource_type": "object types",
    "operation": "API operations",
    "resource": "resources",
}
MAX_NOVELTY_ROWS = 4
VALIDATE = False
MAX_NEW_VALUES = 12
DAY_AXIS = alt.Axis(format="%a %d %b", tickCount="day", labelOverlap=True)  # utc: the scale says so
RED, BLUE, GREEN, ORANGE, GREY = "#c0392b", "#3b6ea8", "#7fbf7f", "#e67e22", "#9ca3af"


@dataclass
class NewValue:
    dimension: str
    value: str
    first_seen: str  # local time with its zone, and UTC
    events: int


@dataclass
class Novelty:
    dimension: str
    label: str
    known: int
    new: int
    values: list[NewValue] = field(default_factory=list)


@dataclass
class AlertEvidence:
    """What the alert page draws: the zone, the specs, and the new values in a table beside the chart."""

    tz: str
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    novelty: list[Novelty] = field(default_factory=list)
    volume_note: str = ""


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    # Schema validation costs more than building the chart; the tests validate every spec once.
    spec: dict[str, Any] = chart.to_dict(validate=VALIDATE)
    spec["$schema"] = SCHEMA
    return spec


def integration_zone(store: Store, integration_id: str) -> str:
    """The integration's declared time zone (``schedule.timezone``) when it is a real one, else UTC."""
    name = None
    if store.table_exists("integrations"):
        rows = store.fetchall(
            "SELECT json_extract_string(schedule, '$.timezone') FROM integrations WHERE id = ?",
            [integration_id],
        )
        name = rows[0][0] if rows else None
    return str(name) if name and zone(str(name)) is not None else "UTC"


def _wall(t: datetime, tz: str) -> str:
    """``t`` (naive UTC) as wall-clock time in ``tz``, written as if UTC so Vega draws it unshifted."""
    info = zone(tz)
    local = t.replace(tzinfo=UTC) if info is None else t.replace(tzinfo=UTC).astimezone(info)
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour(t: datetime, up: bool = False) -> datetime:
    floor = t.replace(minute=0, second=0, microsecond=0)
    return floor + timedelta(hours=1) if up and floor != t else floor


def window(alert: Alert) -> tuple[datetime, datetime]:
    """The alert's clock hours: from the hour of its first evidence to the end of the hour of its last."""
    return _hour(alert.first_seen), _hour(alert.last_seen) + timedelta(hours=1)


def alert_evidence(store: Store, alert: Alert, findings: list[Finding]) -> AlertEvidence:
    tz = integration_zone(store, alert.integration_id)
    out = AlertEvidence(tz=tz)
    if not store.table_exists("rollup_hourly"):
        return out
    vol = volume(store, alert, findings, tz)
    if vol is not None:
        out.specs["volume"], out.volume_note = vol
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


def volume(store: Store, alert: Alert, findings: list[Finding], tz: str) -> tuple[dict[str, Any], str] | None:
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
        {"hour": _wall(h, tz), "value": float(v or 0) / scale, "in_alert": w0 <= h < w1}
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
                "start": _wall(start, tz),
                "end": _wall(end, tz),
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
    wdata = [{"from": _wall(w0, tz), "to": _wall(w1, tz)}]
    # the whole stretch is drawn even where it was quiet (an invisible mark at each end: an explicit time
    # domain compiles to an expression Vega's interpreter gets wrong)
    ends = [{"t": _wall(start, tz)}, {"t": _wall(end, tz)}]
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
    note = f"{what} per hour, {unit}" if unit != metric else f"{what} per hour"
    return _spec(chart), note


# -- novelty ------------------------------------------------------------------------------------------------

_VALUES = """SELECT dimension, value, min(first_seen) AS first, sum(events) AS events
             FROM rollup_values WHERE integration_id = ? AND dimension IN (SELECT unnest(?::VARCHAR[]))
             GROUP BY ALL"""


def novelty_counts(store: Store, alert: Alert, tz: str) -> list[Novelty]:
    """Per dimension with values first seen during the alert: how many were new and how many known before."""
    if not store.table_exists("rollup_values"):
        return []
    dims = list(DIMENSION_LABELS)
    slack = timedelta(minutes=1)
    lo, hi = alert.first_seen - slack, alert.last_seen + slack
    counts = store.fetchall(
        f"""WITH v AS ({_VALUES})
            SELECT dimension, count(*) FILTER (WHERE first < ?), count(*) FILTER (WHERE first >= ? AND first <= ?)
            FROM v GROUP BY dimension""",
        [alert.integration_id, dims, lo, lo, hi],
    )
    found = {d: Novelty(d, DIMENSION_LABELS[d], int(k), int(n)) for d, k, n in counts if n}
    if not found:
        return []
    rows = store.fetchall(
        f"""WITH v AS ({_VALUES})
            SELECT dimension, value, first, events FROM (
              SELECT *, row_number() OVER (PARTITION BY dimension ORDER BY first, value) AS k
              FROM v WHERE first >= ? AND first <= ?) WHERE k <= ? ORDER BY dimension, first""",
        [alert.integration_id, list(found), lo, hi, MAX_NEW_VALUES],
    )
    for d, value, first, events in rows:
        found[d].values.append(
            NewValue(
                DIMENSION_LABELS[d],
                redact(str(value))[:80],
                local_time(first, tz, with_date=True),
                int(events),
            )
        )
    return [found[d] for d in DIMENSION_LABELS if d in found]


def novelty_chart(store: Store, alert: Alert, found: list[Novelty], tz: str) -> dict[str, Any]:
    shown = found[:MAX_NOVELTY_ROWS]
    slack = timedelta(minutes=1)
    lo, hi = alert.first_seen - slack, alert.last_seen + slack
    start, end = _hour(alert.first_seen) - 2 * BEFORE, alert.last_seen + AFTER
    rows = store.fetchall(
        f"""WITH v AS ({_VALUES})
            SELECT dimension, CAST(timezone(?, first::TIMESTAMPTZ) AS DATE) AS d, first >= ? AND first <= ?, count(*)
            FROM v WHERE first >= ? AND first < ? GROUP BY ALL ORDER BY 1, 2""",
        [alert.integration_id, [n.dimension for n in shown], tz, lo, hi, start, end],
    )
    labels = {n.dimension: f"{n.label}: {n.new:,} new, {n.known:,} known before" for n in shown}
    data = [
        {
            "what": labels[dim],
            "day": d.strftime("%Y-%m-%dT00:00:00Z"),
            "when": "during the alert" if during else "other days",
            "values": int(k),
        }
        for dim, d, during, k in rows
    ]
    for n in shown:  # empty bars at both ends, so every row spans the same days
        for t in (start, end):
            data.append(
                {
                    "what": labels[n.dimension],
                    "day": _wall(t, tz)[:10] + "T00:00:00Z",
                    "when": "other days",
                    "values": 0,
                }
            )
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(width=10)
        .encode(
            x=alt.X("day:T", title=f"day first seen ({tz})", scale=alt.Scale(type="utc"), axis=DAY_AXIS),
            y=alt.Y("values:Q", title="new values"),
            color=alt.Color(
                "when:N",
                scale=alt.Scale(domain=["other days", "during the alert"], range=[GREY, RED]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("day:T", format="%a %d %b", formatType="utc"),
                "what:N",
                "values:Q",
                "when:N",
            ],
        )
        .properties(width=WIDTH - 40, height=50, name="new_values")
        .facet(
            row=alt.Row(
                "what:N",
                title=None,
                sort=[labels[n.dimension] for n in shown],
                header=alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top"),
            )
        )
        .resolve_scale(y="independent")
        .properties(
            title="Values never seen before, per day: the alert's in red, against how many were known"
        )
    )
    return _spec(chart)


# -- heat map -----------------------------------------------------------------------------------------------


def _alert_slots(store: Store, alert: Alert, findings: list[Finding], tz: str) -> set[tuple[int, int]]:
    """(weekday, local hour) of the alert: the off-hours detector's own list, else the active hours in its window."""
    slots: set[tuple[int, int]] = set()
    for f in findings:
        for text in f.details.get("local_hours") or []:
            try:
                t = datetime.strptime(str(text), "%a %Y-%m-%d %H:%M")
            except ValueError:
                continue
            slots.add((t.weekday(), t.hour))
    if slots:
        return slots
    w0, w1 = window(alert)
    rows = store.fetchall(
        """SELECT DISTINCT isodow(lt) - 1, hour(lt) FROM (
             SELECT timezone(?, hour::TIMESTAMPTZ) AS lt FROM rollup_hourly
             WHERE integration_id = ? AND action_class = '*' AND status = '*' AND hour >= ? AND hour < ?)""",
        [tz, alert.integration_id, w0, w1],
    )
    return {(int(d), int(h)) for d, h in rows}


def heatmap(store: Store, alert: Alert, findings: list[Finding], tz: str) -> dict[str, Any] | None:
    w0, _ = window(alert)
    rows = store.fetchall(
        """SELECT isodow(lt) - 1 AS d, hour(lt) AS h, sum(events) FROM (
             SELECT timezone(?, hour::TIMESTAMPTZ) AS lt, events FROM rollup_hourly
             WHERE integration_id = ? AND action_class = '*' AND status = '*' AND hour >= ? AND hour < ?)
           GROUP BY ALL""",
        [tz, alert.integration_id, w0 - timedelta(weeks=HEAT_WEEKS), w0],
    )
    if not rows:  # no history before the alert: nothing to compare its hours with
        return None
    marked = _alert_slots(store, alert, findings, tz)
    data = [{"day": DAY_NAMES[d], "hour": int(h), "events": int(n)} for d, h, n in rows]
    env: list[tuple[int, int]] = []
    if store.table_exists("baseline_envelope"):
        env = store.fetchall(
            "SELECT how, days_active FROM baseline_envelope WHERE integration_id = ?", [alert.integration_id]
        )
    edata = [{"day": DAY_NAMES[how // 24], "hour": how % 24, "days_active": int(n)} for how, n in env]
    mdata = [{"day": DAY_NAMES[d], "hour": h} for d, h in sorted(marked)]
    x = alt.X("hour:O", title=f"hour of the day ({tz})", scale=alt.Scale(domain=list(range(24))))
    y = alt.Y("day:O", title=None, scale=alt.Scale(domain=list(DAY_NAMES)))
    cells = (
        alt.Chart(alt.Data(values=data))
        .mark_rect()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "events:Q", scale=alt.Scale(scheme="blues"), title=f"events, {HEAT_WEEKS} weeks before"
            ),
            tooltip=["day:O", "hour:O", "events:Q"],
        )
        .properties(name="usual_hours")
    )
    outline = (
        alt.Chart(alt.Data(values=edata))
        .mark_rect(filled=False, stroke=ORANGE, strokeWidth=1.5)
        .encode(x=x, y=y, tooltip=["day:O", "hour:O", alt.Tooltip("days_active:Q", title="days active")])
        .properties(name="learned_envelope")
    )
    alert_cells = (
        alt.Chart(alt.Data(values=mdata))
        .mark_rect(filled=False, stroke=RED, strokeWidth=3)
        .encode(x=x, y=y, tooltip=["day:O", "hour:O"])
        .properties(name="alert_hours")
    )
    title = (
        f"Activity by hour of the week in {tz}: learned working hours outlined orange, the alert's hours red"
    )
    chart = alt.layer(cells, outline, alert_cells).properties(width=WIDTH, height=200, title=title)
    return _spec(chart)


def when(t: datetime, tz: str) -> str:
    """A time as the alert page shows it: local with its zone, and UTC."""
    return local_time(t, tz, with_date=True)
