"""Slack Enterprise Grid audit logs: ``/audit/v1/logs`` response pages (``{"entries": [...]}``) per day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, by_day, write_bytes

ENTERPRISE = {"type": "enterprise", "id": "E0ACME001", "name": "Acme", "domain": "acme-corp"}


def render(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    app = {
        "id": integ.ids.get("app_id"),
        "name": integ.ids.get("app_name"),
        "is_distributed": integ.vendor != "internal",
        "is_directory_approved": not integ.shadow,
        "scopes": list(x.get("scopes", integ.scopes)),
    }
    if e.op.startswith("file_"):
        actor = {
            "type": "user",
            "user": {
                "id": integ.extra.get("bot_user"),
                "name": integ.ids.get("app_name"),
                "email": "",
                "team": "T0ACME001",
            },
        }
        entity: dict[str, Any] = {
            "type": "file",
            "file": {
                "id": e.target,
                "name": x.get("name", "report.pdf"),
                "filetype": "pdf",
                "title": x.get("name", "report.pdf"),
            },
        }
        details: dict[str, Any] = {}
    else:
        actor = {
            "type": "user",
            "user": {
                "id": "U0ACMEADM1",
                "name": "it-admin",
                "email": "it-admin@acme.example",
                "team": "T0ACME001",
            },
        }
        entity = {"type": "app", "app": app}
        details = {
            k: v
            for k, v in x.items()
            if k in ("new_scopes", "previous_scopes", "reason", "is_internal_integration")
        }
    return {
        "id": ids.guid(),
        "date_create": int(e.ts),
        "action": e.op,
        "actor": actor,
        "entity": entity,
        "context": {
            "location": ENTERPRISE,
            "ua": e.ua,
            "ip_address": e.ip,
            "session_id": ids.digits(13),
            "app": {"id": integ.ids.get("app_id"), "name": integ.ids.get("app_name")},
        },
        "details": details,
    }


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    n = 0
    for day, evs in by_day(events):
        page = {"entries": [render(e, ids) for e in reversed(evs)], "response_metadata": {"next_cursor": ""}}
        write_bytes(root / "slack" / f"audit-{day}.json", orjson.dumps(page), gzip)
        n += 1
    return n
