"""Shared by the sink tests: alerts of realistic shape, a store holding them, and a recording receiver."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug import Request, Response

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import Alert
from nhiwatch.outputs.sinks.base import Item, update_key
from nhiwatch.store import Store
from tests.outputs.test_outputs import alert

NOW = datetime(2025, 9, 2, 8, 0)
SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx"


def hostile_alert(**kw: Any) -> Alert:
    """An alert whose texts carry what a log can put there: markup, CEF and syslog specials, a secret."""
    base: dict[str, Any] = dict(
        alert_id="al-hostile",
        integration_name="CRM <!channel> | sync\\ops",
        title="CRM sync: new destination <https://evil.example|click> a=b",
        explanation=(
            "sent 5 MB to webhook.site\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789\n"
            "pipe | backslash \\ equals = <script>alert(1)</script> & done"
        ),
        owner="team-data",
    )
    base.update(kw)
    return alert(**base)


def item(a: Alert | None = None, remote_id: str | None = None) -> Item:
    a = a or alert()
    return Item(a, update_key(a), remote_id)


def store_with(store: Store, *alerts: Alert) -> Store:
    tables.ensure(store)
    tables.save_alerts(store, list(alerts), NOW)
    return store


@dataclass
class Script:
    """Answers in order (the last one repeats), recording every request's headers and body."""

    answers: list[tuple[int, dict[str, str], bytes | str]]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    check: Callable[[Request], Response | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((dict(request.headers), request.get_data()))
            if self.check is not None:
                refused = self.check(request)
                if refused is not None:
                    return refused
            status, headers, body = self.answers[min(len(self.requests) - 1, len(self.answers) - 1)]
        return Response(body, status=status, headers=headers)
