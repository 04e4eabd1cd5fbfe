"""Microsoft Teams: an Adaptive Card per alert update, posted to a Workflows webhook ("When a Teams
webhook request is received" → "Post card in a chat or channel").

The Workflows URL carries its own signature (``sig=``), so it is the credential and comes from env or file.
The envelope is the one Workflows expects (``type: message`` with one
``application/vnd.microsoft.card.adaptive`` attachment); the card is schema version 1.4 (the highest Teams
renders everywhere). Texts are redacted and HTML-escaped.
"""

from __future__ import annotations

from typing import Any

import orjson

from nhiwatch.outputs.sinks import escape
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import TeamsSink as TeamsConfig
from nhiwatch.outputs.sinks.http import PerAlertHttpSink, secret_url

COLOUR = {"critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Accent"}


def card(item: Item, link: str | None) -> dict[str, Any]:
    a = item.alert
    state = f"resolved ({a.status})" if item.resolved else a.status
    facts = [
        ("Integration", a.integration_name or a.integration_id),
        ("Owner", a.owner or "none"),
        ("Severity", f"{a.severity} (risk {a.risk_score} / 100)"),
        ("Status", state),
        ("Detectors", ", ".join(a.detectors)),
        ("Seen (UTC)", f"{a.first_seen:%Y-%m-%d %H:%M} – {a.last_seen:%Y-%m-%d %H:%M}"),
        ("Alert", a.alert_id),
    ]
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": escape.html_text(a.title, 300),
                "weight": "Bolder",
                "size": "Medium",
                "color": COLOUR.get(a.severity, "Default"),
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [{"title": k, "value": escape.html_text(v, 500)} for k, v in facts],
            },
            {"type": "TextBlock", "text": escape.html_text(a.explanation, 4000) or "–", "wrap": True},
        ],
    }
    if link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in nhiwatch", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


class TeamsSink(PerAlertHttpSink):
    config: TeamsConfig

    def __init__(self, config: TeamsConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.url = secret_url(config.name, config.url_env, config.url_file, config.allow_http)
        self.secrets.append(self.url)

    def send_one(self, item: Item) -> Outcome:
        body = orjson.dumps(card(item, self.link(item.alert)))
        _, outcome = self.post(self.url.reveal(), body, {"Content-Type": "application/json"})
        return outcome
