"""Alerts as a rich table, with the explanation of each alert underneath when asked for; secrets masked."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nhiwatch.alerts.model import Alert
from nhiwatch.outputs.plain import plain, plain_str

COLOURS = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def alerts_table(alerts: Sequence[Alert], title: str = "alerts") -> Table:
    t = Table(title=f"{title} ({len(alerts)})", show_lines=False)
    for col in ("alert", "score", "severity"):
        t.add_column(col, no_wrap=True)
    for col in ("integration", "owner", "detectors", "first seen", "status"):
        t.add_column(col, overflow="fold")
    for a in sorted(alerts, key=lambda a: (-a.risk_score, a.first_seen)):
        sev = COLOURS.get(a.severity, "")
        t.add_row(
            plain(a.alert_id),
            str(a.risk_score),
            Text(a.severity, style=sev),
            plain(a.integration_name),
            plain(a.owner) if a.owner else Text("none", style="yellow"),
            plain(", ".join(a.detectors)),
            f"{a.first_seen:%Y-%m-%d %H:%M}",
            plain(a.status),
        )
    return t


def print_alerts(console: Console, alerts: Sequence[Alert], title: str, *, explain: bool = False) -> None:
    console.print(alerts_table(alerts, title))
    if explain:
        for a in sorted(alerts, key=lambda a: (-a.risk_score, a.first_seen)):
            console.print(Text("\n") + Text(plain_str(a.alert_id), style="bold") + " " + plain(a.title))
            console.print(plain(a.explanation), highlight=False)
