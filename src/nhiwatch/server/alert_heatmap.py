"""Activity by hour of the week in the integration's own time zone, from ``rollup_hourly``: the four weeks
before an alert, the declared working hours (the inventory's ``schedule``) outlined, the alert's hours marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import altair as alt

from nhiwatch.alerts.model import Alert
from nhiwatch.baseline.frames import DAY_NAMES
from nhiwatch.detectors._hours import declared_slots
from nhiwatch.detectors.base import Finding
from nhiwatch.server.alert_frame import ORANGE, RED, spec, window
from nhiwatch.server.charts import WIDTH
from nhiwatch.store import Store

HEAT_WEEKS = 4


def alert_slots(store: Store, alert: Alert, findings: list[Finding], tz: str) -> set[tuple[int, int]]:
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
    marked = alert_slots(store, alert, findings, tz)
    data = [{"day": DAY_NAMES[d], "hour": int(h), "events": int(n)} for d, h, n in rows]
    declared = [{"day": DAY_NAMES[how // 24], "hour": how % 24} for how in declared_hours(store, alert)]
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
    layers = [cells]
    if declared:
        layers.append(
            alt.Chart(alt.Data(values=declared))
            .mark_rect(filled=False, stroke=ORANGE, strokeWidth=1.5)
            .encode(x=x, y=y, tooltip=["day:O", "hour:O"])
            .properties(name="declared_hours")
        )
    alert_cells = (
        alt.Chart(alt.Data(values=mdata))
        .mark_rect(filled=False, stroke=RED, strokeWidth=3)
        .encode(x=x, y=y, tooltip=["day:O", "hour:O"])
        .properties(name="alert_hours")
    )
    declared_note = ", the declared working hours outlined orange" if declared else ""
    title = (
        f"Activity by hour of the week in {tz} over the {HEAT_WEEKS} weeks before{declared_note}, "
        "the alert's hours red"
    )
    chart = alt.layer(*layers, alert_cells).properties(width=WIDTH, height=200, title=title)
    return spec(chart)


def declared_hours(store: Store, alert: Alert) -> list[int]:
    """Hour-of-week slots of the inventory's declared schedule (none when it declares none, or any time).

    The learned envelope is not drawn: it is relearned as time goes on, so for an alert in the past it would
    already hold the alert's own hours; the blue cells are what was learned from."""
    rows = store.fetchall("SELECT schedule FROM integrations WHERE id = ?", [alert.integration_id])
    try:
        return declared_slots(rows[0][0]) if rows and rows[0][0] else []
    except (ValueError, TypeError):  # a schedule the inventory check would have refused: draw none
        return []
