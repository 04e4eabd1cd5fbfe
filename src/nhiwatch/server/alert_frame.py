"""What the alert charts share: the integration's time zone, wall-clock times, the alert's window, and how an
Altair chart becomes a spec (:mod:`.alert_charts`, :mod:`.alert_novelty`, :mod:`.alert_heatmap`).

Times are drawn as wall-clock time in the integration's zone: written as if UTC, on UTC scales, so Vega shows
them unshifted whatever the viewer's own zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.units import zone
from nhiwatch.server.charts import SCHEMA
from nhiwatch.store import Store

BEFORE = timedelta(days=7)  # history drawn before the alert
AFTER = timedelta(days=1)
VALIDATE = False
DAY_AXIS = alt.Axis(format="%a %d %b", tickCount="day", labelOverlap=True)  # utc: the scale says so
RED, BLUE, GREEN, ORANGE, GREY = "#c0392b", "#3b6ea8", "#7fbf7f", "#e67e22", "#9ca3af"


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec, with the vendored Vega-Lite's schema URL."""
    # Schema validation costs more than building the chart; the tests validate every spec once.
    out: dict[str, Any] = chart.to_dict(validate=VALIDATE)
    out["$schema"] = SCHEMA
    return out


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


def wall(t: datetime, tz: str) -> str:
    """``t`` (naive UTC) as wall-clock time in ``tz``, written as if UTC so Vega draws it unshifted."""
    info = zone(tz)
    local = t.replace(tzinfo=UTC) if info is None else t.replace(tzinfo=UTC).astimezone(info)
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_of(t: datetime) -> datetime:
    """The clock hour ``t`` falls in."""
    return t.replace(minute=0, second=0, microsecond=0)


def window(alert: Alert) -> tuple[datetime, datetime]:
    """The alert's clock hours: from the hour of its first evidence to the end of the hour of its last."""
    return hour_of(alert.first_seen), hour_of(alert.last_seen) + timedelta(hours=1)
