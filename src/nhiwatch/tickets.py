"""Change tickets and business events (CSV or JSON), stored so detections can explain planned bursts.

Columns: ``id,start,end,integration,summary`` (an optional ``kind``). Times are ISO 8601 with an offset;
a time without one is refused rather than guessed. An empty ``integration`` is a company-wide event
(a quarter close, an incident) and covers every integration.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.errors import ConfigError
from nhiwatch.store import Store

REQUIRED = ("id", "start", "end", "integration", "summary")


@dataclass(frozen=True)
class Ticket:
    id: str
    start: datetime
    end: datetime
    integration_id: str | None
    summary: str
    kind: str


def _time(value: Any, where: str, field: str) -> datetime:
    text = str(value or "").strip()
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: {field} {text!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise ConfigError(
            f"{where}: {field} {text!r} has no UTC offset (write e.g. 2025-08-31T18:00:00-04:00)"
        )
    return t.astimezone(UTC).replace(tzinfo=None)


def load_tickets(path: str | Path) -> list[Ticket]:
    """Read a tickets file; raises :class:`ConfigError` naming the file and line of the first problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the tickets file ({exc})") from exc
    rows: list[tuple[str, dict[str, Any]]] = []
    if text.lstrip().startswith(("[", "{")):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not valid JSON ({exc})") from None
        items = data.get("tickets", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConfigError(f"{p}: expected a list of tickets")
        rows = [(f"{p}: ticket {i + 1}", r) for i, r in enumerate(items)]
        for where, r in rows:
            if not isinstance(r, dict):
                raise ConfigError(f"{where}: expected an object")
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{p}:1: missing column(s) {', '.join(missing)}; expected {','.join(REQUIRED)}")
        for n, r in enumerate(reader, start=2):
            if None in r:
                raise ConfigError(f"{p}:{n}: more values than columns")
            rows.append((f"{p}:{n}", r))
    out: list[Ticket] = []
    seen: set[str] = set()
    for where, r in rows:
        tid = str(r.get("id") or "").strip()
        if not tid:
            raise ConfigError(f"{where}: id is empty")
        if tid in seen:
            raise ConfigError(f"{where}: duplicate ticket id {tid!r}")
        seen.add(tid)
        start, end = _time(r.get("start"), where, "start"), _time(r.get("end"), where, "end")
        if end < start:
            raise ConfigError(f"{where}: end is before start")
        integ = str(r.get("integration") or "").strip() or None
        out.append(
            Ticket(tid, start, end, integ, str(r.get("summary") or ""), str(r.get("kind") or "change"))
        )
    return out


def store_tickets(store: Store, tickets: list[Ticket], source_file: str) -> int:
    """Insert or replace tickets by id; returns how many were stored."""
    with store.transaction():
        store.execute(
            "DELETE FROM tickets WHERE id IN (SELECT unnest(?::VARCHAR[]))", [[t.id for t in tickets]]
        )
        store.insert_rows(
            "tickets",
            ["id", "start_time", "end_time", "integration_id", "summary", "kind", "source_file"],
            [(t.id, t.start, t.end, t.integration_id, t.summary, t.kind, source_file) for t in tickets],
        )
    return len(tickets)
