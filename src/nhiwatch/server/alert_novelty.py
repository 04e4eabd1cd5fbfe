"""New values against the known set: per dimension, the values first seen during an alert and how many were
known before, from ``rollup_values`` (first seen per value and day), with a chart of the values first seen per
local day (the alert's in red)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import altair as alt

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.units import local_time
from nhiwatch.redact import redact
from nhiwatch.server.alert_frame import AFTER, BEFORE, DAY_AXIS, GREY, RED, hour_of, spec, wall
from nhiwatch.server.charts import WIDTH
from nhiwatch.store import Store

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
MAX_NOVELTY_ROWS = 4  # dimensions charted (all are listed in the table)
MAX_NEW_VALUES = 12  # values listed per dimension


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
    start, end = hour_of(alert.first_seen) - 2 * BEFORE, alert.last_seen + AFTER
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
                    "day": wall(t, tz)[:10] + "T00:00:00Z",
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
    return spec(chart)
