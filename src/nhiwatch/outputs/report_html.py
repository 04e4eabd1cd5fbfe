"""The HTML report: what a store knows, as one page people would rather look at than read.

The company's integrations, the alerts by severity and over time, each behaviour alert with its chart against
the baseline, its detections and what to do, and the posture to-dos per owner. Written by ``nhiwatch demo``
beside its Markdown report and by ``nhiwatch report --html FILE``; served by the console at ``/report``.

As a file it is self-contained: the console's CSS and the vendored Vega scripts are inlined, so it opens
offline from disk and can be mailed. Served by the console (``inline=False``) it loads the same scripts from
``/static`` instead, as the console's Content-Security-Policy allows no inline script. Everything taken from
the store passes the output redaction (the console's own queries), so no secret a log carried reaches it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import altair as alt
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nhiwatch.alerts import tables
from nhiwatch.alerts.response import guidance
from nhiwatch.redact import redact, redact_value
from nhiwatch.server import queries
from nhiwatch.server.alert_charts import volume
from nhiwatch.server.alert_view import alert_view
from nhiwatch.server.charts import SCHEMA, WIDTH
from nhiwatch.store import Store

SERVER = Path(__file__).resolve().parent.parent / "server"
TEMPLATES = SERVER / "templates"
STATIC = SERVER / "static"
SCRIPTS = (
    "vendor/vega.min.js",
    "vendor/vega-lite.min.js",
    "vendor/vega-interpreter.min.js",
    "vendor/vega-embed.min.js",
    "console.js",
)
SEVERITY_COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#9ca3af"}
MAX_ALERTS = 60  # charted alerts; the rest are listed

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"], default=True))
env.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M") if isinstance(t, datetime) else (t or "–")
env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int | float) else n


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec["$schema"] = SCHEMA
    return spec


def severity_chart(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(a["severity"] for a in alerts)
    order = list(reversed(queries.SEVERITIES))
    data = [{"severity": s, "alerts": counts.get(s, 0)} for s in order]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            y=alt.Y("severity:N", sort=order, title=None),
            x=alt.X("alerts:Q", title="behaviour alerts", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=order, range=[SEVERITY_COLOURS[s] for s in order]),
                legend=None,
            ),
            tooltip=["severity:N", "alerts:Q"],
        )
        .properties(width=300, height=120, title="Behaviour alerts by severity", name="by_severity")
    )
    return _spec(chart)


def timeline_chart(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    order = list(reversed(queries.SEVERITIES))
    data = [
        {
            "start": a["first_seen"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": a["last_seen"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "integration": str(a.get("integration_name") or a["integration_id"])[:60],
            "severity": a["severity"],
            "risk": a["risk_score"],
            "title": str(a["title"])[:120],
        }
        for a in alerts
    ]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("integration:N", title=None, sort="-x"),
        color=alt.Color(
            "severity:N",
            scale=alt.Scale(domain=order, range=[SEVERITY_COLOURS[s] for s in order]),
            legend=alt.Legend(orient="top", title=None),
        ),
        tooltip=[alt.Tooltip("start:T", formatType="utc", format="%Y-%m-%d %H:%M"), "title:N", "risk:Q"],
    )
    spans = base.mark_rule(strokeWidth=4).encode(
        x=alt.X("start:T", title="when (UTC)", scale=alt.Scale(type="utc")), x2="end:T"
    )
    dots = base.mark_circle(opacity=0.9).encode(x="start:T", size=alt.Size("risk:Q", legend=None))
    rows = len({d["integration"] for d in data})
    chart = alt.layer(spans, dots).properties(
        width=WIDTH - 160, height=max(60, 22 * rows), title="When each alert happened", name="timeline"
    )
    return _spec(chart)


def report_context(store: Store, *, evaluation: str | None = None) -> dict[str, Any]:
    """What the report shows, redacted: integrations, alerts with their evidence, posture to-dos."""
    integrations = queries.list_integrations(store)
    _, behaviour = queries.list_alerts(store, queries.AlertFilter(kind="behaviour", limit=10_000))
    _, posture = queries.list_alerts(store, queries.AlertFilter(kind="posture", status="open", limit=10_000))
    open_alerts = [a for a in behaviour if a["status"] == "open"]
    items = []
    for a in behaviour[:MAX_ALERTS]:
        view = alert_view(store, a["alert_id"], charts=False)
        alert = tables.load_alerts(store, "alert_id = ?", [a["alert_id"]])[0]
        findings = tables.load_findings(store, alert.finding_ids)
        chart = volume(store, alert, findings, view["evidence"].tz)
        items.append({"a": a, "chart": chart, **view})
    todo: dict[str, list[dict[str, Any]]] = {}
    loaded = {
        x.alert_id: x
        for x in tables.load_alerts(
            store, "alert_id IN (SELECT unnest(?::VARCHAR[]))", [[p["alert_id"] for p in posture]]
        )
    }
    for p in posture:
        steps = guidance(store, loaded[p["alert_id"]]).investigate if p["alert_id"] in loaded else []
        owner = p.get("owner") or "no owner"
        todo.setdefault(owner, []).append({"p": p, "steps": redact_value(steps)})
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "integrations": integrations,
        "alerts": items,
        "more_alerts": behaviour[MAX_ALERTS:],
        "total": len(behaviour),
        "open": len(open_alerts),
        "by_severity": Counter(a["severity"] for a in behaviour),
        "severities": list(reversed(queries.SEVERITIES)),
        "posture_count": len(posture),
        "todo": dict(sorted(todo.items(), key=lambda kv: (kv[0] != "no owner", kv[0]))),
        "overview": {"severity": severity_chart(behaviour), "timeline": timeline_chart(behaviour)}
        if behaviour
        else {},
        "evaluation": redact(evaluation) if evaluation else None,
    }


def _inline(name: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")  # the script cannot end its own element


def render(store: Store, *, inline: bool = True, evaluation: str | None = None) -> str:
    """The report as HTML: self-contained when ``inline``, else loading the console's ``/static`` files."""
    ctx = report_context(store, evaluation=evaluation)
    css = (STATIC / "console.css").read_text(encoding="utf-8")
    scripts = [_inline(s) for s in SCRIPTS] if inline else []
    return env.get_template("report.html").render(
        inline=inline, css=css, scripts=scripts, script_urls=[f"/static/{s}" for s in SCRIPTS], **ctx
    )


def write(store: Store, path: Path, *, evaluation: str | None = None) -> Path:
    path.write_text(render(store, inline=True, evaluation=evaluation), encoding="utf-8")
    return path
