"""Alerts as a rich table, with the explanation of each alert underneath when asked for; secrets masked."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from nhiwatch.alerts.model import Alert
from nhiwatch.redact import redact

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
            redact(a.alert_id),
            str(a.risk_score),
            f"[{sev}]{a.severity}[/{sev}]" if sev else a.severity,
            redact(a.integration_name),
            redact(a.owner) if a.owner else "[yellow]none[/yellow]",
            ", ".join(a.detectors),
            f"{a.first_seen:%Y-%m-%d %H:%M}",
            a.status,
        )
    return t


def print_alerts(console: Console, alerts: Sequence[Alert], title: str, *, explain: bool = False) -> None:
    console.print(alerts_table(alerts, title))
    if explain:
        for a in sorted(alerts, key=lambda a: (-a.risk_score, a.first_seen)):
            console.print(f"\n[bold]{a.alert_id}[/bold] {redact(a.title)}")
            console.print(redact(a.explanation), highlight=False)
