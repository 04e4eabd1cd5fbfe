"""A small company for the server tests, in GitHub audit-log NDJSON (the reference source's shape).

``release-bot`` (declared, owned) clones one repository on weekday office hours for four weeks, then on
the last day clones thirty repositories at 03:00 from a new IP: enough for behaviour alerts. ``sync-bot``
is declared without an owner and ``mystery[bot]`` is not declared at all (posture alerts). One event
carries a ``<script>`` payload and a GitHub token in its fields, for the escaping and redaction tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

START = datetime(2025, 9, 1, tzinfo=UTC)  # a Monday
DAYS = 28
XSS = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
LEAKED = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

INVENTORY = """integrations:
- id: release-bot
  name: Release bot
  owner: platform@acme.example
  purpose: Clones the payments repository to build releases
  kind: github_app
  vendor: internal
  risk_tier: high
  data_sensitivity: confidential
  identities:
  - source: github
    actor: release-bot
  schedule:
    timezone: UTC
    days: mon-fri
    hours: 09:00-18:00
- id: sync-bot
  name: Docs sync bot
  purpose: Syncs docs
  kind: github_app
  vendor: internal
  risk_tier: low
  identities:
  - source: github
    actor: sync-bot
"""


def _event(t: datetime, actor: str, repo: str, ip: str, n: int, **extra: object) -> dict[str, object]:
    ms = int(t.timestamp() * 1000)
    return {
        "@timestamp": ms,
        "_document_id": f"doc-{actor}-{n}",
        "action": "git.clone",
        "actor": actor,
        "actor_id": sum(map(ord, actor)) * 97,
        "actor_is_bot": True,
        "actor_ip": ip,
        "org": "acme",
        "repo": repo,
        "programmatic_access_type": "GitHub App server-to-server token",
        "transport_protocol_name": "http",
        "user_agent": "git/2.43.0",
        "created_at": ms,
        "operation_type": "access",
        **extra,
    }


def history() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    n = 0
    for d in range(DAYS):
        day = START + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for h in range(9, 18):
            for k in range(2):
                n += 1
                t = day + timedelta(hours=h, minutes=7 + 20 * k)
                out.append(_event(t, "release-bot", "acme/payments-api", "203.0.113.5", n))
        n += 1
        out.append(_event(day + timedelta(hours=12), "sync-bot", "acme/docs", "203.0.113.9", n))
    return out


def attack(day_offset: int = DAYS) -> list[dict[str, object]]:
    """Thirty repositories cloned at 03:00 from a new address, and an undeclared bot."""
    day = START + timedelta(days=day_offset)
    out = [
        _event(
            day + timedelta(hours=3, minutes=i), "release-bot", f"acme/repo-{i}", "198.51.100.66", 90000 + i
        )
        for i in range(30)
    ]
    out.append(
        _event(
            day + timedelta(hours=3, minutes=45),
            "mystery[bot]",
            XSS,
            "198.51.100.77",
            99999,
            url_path=f"/repos/acme/x?access_token={LEAKED}",
        )
    )
    return out


def ndjson(records: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def write_company(folder: Path) -> tuple[Path, Path]:
    """(logs file, inventory file) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    logs = folder / "github-audit.jsonl"
    logs.write_bytes(ndjson(history() + attack()))
    inv = folder / "inventory.yaml"
    inv.write_text(INVENTORY, encoding="utf-8")
    return logs, inv
