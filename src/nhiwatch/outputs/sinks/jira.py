"""Jira: one issue per alert (REST API v3 with an Atlassian Document Format description, or v2 with
wiki text for Jira Data Center), and a comment on that issue for each later update.

Basic auth with the account's email and an API token (``token_env`` / ``token_file``). The account needs
only "Browse projects", "Create issues" and "Add comments" in the one project. Texts are redacted; in v2
the explanation sits in a ``{noformat}`` block (a ``{noformat}`` inside it is removed so it cannot end the
block early) and the summary is stripped of wiki control characters.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import JiraSink as JiraConfig
from nhiwatch.outputs.sinks.escape import clean, clip
from nhiwatch.outputs.sinks.http import PerAlertHttpSink
from nhiwatch.outputs.sinks.secrets import resolve

_WIKI = re.compile(r"[{}\[\]|*_^~+?#!-]")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


def summary(item: Item) -> str:
    a = item.alert
    return clip(clean(f"[nhiwatch {a.severity}] {a.title}").replace("\n", " ").replace("\r", " "), 250)


def _lines(item: Item, link: str | None) -> tuple[list[str], str]:
    a = item.alert
    r = alert_record(a)
    facts = [
        f"Alert: {a.alert_id} ({a.kind})",
        f"Integration: {r['integration_name'] or r['integration_id']}",
        f"Owner: {r['owner'] or 'none'}",
        f"Severity: {a.severity}, risk {a.risk_score} / 100, status {a.status}",
        f"Detectors: {', '.join(a.detectors)}",
        f"Seen (UTC): {r['first_seen']} - {r['last_seen']}",
    ]
    if link:
        facts.append(f"Console: {link}")
    return [clean(f) for f in facts], clip(clean(r["explanation"]), 20000)


def adf(item: Item, link: str | None, lead: str | None = None) -> dict[str, Any]:
    """An Atlassian Document Format document: text nodes are literal, so nothing needs escaping."""
    facts, explanation = _lines(item, link)
    content: list[dict[str, Any]] = []
    if lead:
        content.append({"type": "paragraph", "content": [{"type": "text", "text": lead}]})
    content.append({"type": "paragraph", "content": [{"type": "text", "text": "\n".join(facts)}]})
    content.append({"type": "codeBlock", "content": [{"type": "text", "text": explanation or "-"}]})
    return {"type": "doc", "version": 1, "content": content}


def wiki(item: Item, link: str | None, lead: str | None = None) -> str:
    facts, explanation = _lines(item, link)
    facts = [_WIKI.sub(lambda m: "\\" + m.group(), f) for f in facts]
    body = explanation.replace("{noformat}", "")
    return "\n".join([*([lead] if lead else []), *facts, "{noformat}", body, "{noformat}"])


class JiraSink(PerAlertHttpSink):
    config: JiraConfig

    def __init__(self, config: JiraConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.token = resolve(config.name, "token", config.token_env, config.token_file)
        self.secrets.append(self.token)
        basic = base64.b64encode(f"{config.email}:{self.token.reveal()}".encode()).decode()
        self.headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.secrets.append(type(self.token)(basic, "basic auth"))
        self.api = f"{config.url.rstrip('/')}/rest/api/{config.api_version}"

    def _description(self, item: Item, lead: str | None = None) -> Any:
        link = self.link(item.alert)
        return adf(item, link, lead) if self.config.api_version == 3 else wiki(item, link, lead)

    def send_one(self, item: Item) -> Outcome:
        if item.remote_id and _KEY.match(item.remote_id):
            lead = f"Alert updated: status {item.alert.status}, severity {item.alert.severity}."
            body = {"body": self._description(item, lead)}
            _, outcome = self.post(
                f"{self.api}/issue/{item.remote_id}/comment", orjson.dumps(body), self.headers
            )
            return Outcome.done(item.remote_id) if outcome.ok else outcome
        labels = sorted({*self.config.labels, *(f"nhiwatch-{d}" for d in item.alert.detectors)})
        fields = {
            "project": {"key": self.config.project},
            "issuetype": {"name": self.config.issue_type},
            "summary": summary(item),
            "description": self._description(item),
            "labels": labels,
        }
        resp, outcome = self.post(f"{self.api}/issue", orjson.dumps({"fields": fields}), self.headers)
        if not outcome.ok or resp is None:
            return outcome
        try:
            key = str(orjson.loads(resp.content)["key"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return Outcome.done()  # created; without its key later updates open a new issue
        return Outcome.done(key if _KEY.match(key) else None)
