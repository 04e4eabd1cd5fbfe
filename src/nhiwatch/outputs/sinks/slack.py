"""Slack: one Block Kit message per alert update through an incoming webhook.

The webhook URL is the credential (``url_env`` / ``url_file``). Texts are redacted and escaped for mrkdwn
(``&``, ``<``, ``>``), so nothing from a log can mention ``@channel`` or hide a link, and are cut to Block
Kit's limits (header 150, section text 3,000, field 2,000 characters).
"""

from __future__ import annotations

from typing import Any

import orjson

from nhiwatch.outputs.sinks import escape
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import SlackSink as SlackConfig
from nhiwatch.outputs.sinks.http import PerAlertHttpSink, secret_url

EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}


def message(item: Item, link: str | None) -> dict[str, Any]:
    a = item.alert
    state = f"resolved ({a.status})" if item.resolved else a.status
    # Slack reads &, < and > as control characters in every text field, plain_text included
    head = escape.slack(f"[{a.severity.upper()}] {a.title}".replace("\n", " "), 150)
    fields = [
        ("Integration", a.integration_name or a.integration_id),
        ("Owner", a.owner or "none"),
        ("Risk score", f"{a.risk_score} / 100"),
        ("Status", state),
        ("Detectors", ", ".join(a.detectors)),
        ("Seen (UTC)", f"{a.first_seen:%Y-%m-%d %H:%M} – {a.last_seen:%Y-%m-%d %H:%M}"),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": False}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": escape.clip(f"*{k}*\n{escape.slack(v, 1900)}", 2000)}
                for k, v in fields
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": escape.slack(a.explanation, 3000) or "–"}},
    ]
    context = f"{EMOJI.get(a.severity, ':white_circle:')} nhiwatch alert `{escape.slack(a.alert_id, 100)}`"
    if link:
        context += f" · <{escape.slack(link, 1000)}|open in the console>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": escape.slack(f"{a.severity}: {a.title}", 300), "blocks": blocks}


class SlackSink(PerAlertHttpSink):
    config: SlackConfig

    def __init__(self, config: SlackConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.url = secret_url(config.name, config.url_env, config.url_file, config.allow_http)
        self.secrets.append(self.url)

    def send_one(self, item: Item) -> Outcome:
        body = orjson.dumps(message(item, self.link(item.alert)))
        _, outcome = self.post(self.url.reveal(), body, {"Content-Type": "application/json"})
        return outcome
