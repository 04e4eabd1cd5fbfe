"""Reading the simulator's ground truth (``truth.jsonl``): attack episodes, one per line, and the benign
irregularities beside them (lines with ``"kind": "benign"``: a cause, a window and the integrations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.errors import ConfigError


@dataclass(frozen=True)
class Episode:
    episode_id: str
    family: str
    integration_id: str
    start: datetime  # naive UTC
    end: datetime


def _time(v: object, where: str, name: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: {name} {v!r} is not an ISO 8601 time") from None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


@dataclass(frozen=True)
class BenignLabel:
    """A benign irregularity: why (``cause``, ``detail``), when and on which integrations."""

    cause: str
    detail: str
    start: datetime  # naive UTC
    end: datetime
    integrations: frozenset[str]


def _records(p: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the truth file ({exc})") from exc
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{where}: not a JSON object") from None
        if not isinstance(rec, dict):
            raise ConfigError(f"{where}: not a JSON object")
        out.append((where, rec))
    return out


def load_benign(path: str | Path) -> list[BenignLabel]:
    """The benign labels of a truth file (none in a file that has only episodes)."""
    out = []
    for where, rec in _records(Path(path)):
        if rec.get("kind") != "benign":
            continue
        missing = [k for k in ("cause", "start", "end", "integrations") if k not in rec]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        integs = rec["integrations"]
        if not isinstance(integs, list) or not all(isinstance(i, str) for i in integs):
            raise ConfigError(f"{where}: integrations must be a list of integration ids")
        out.append(
            BenignLabel(
                str(rec["cause"]),
                str(rec.get("detail", "")),
                _time(rec["start"], where, "start"),
                _time(rec["end"], where, "end"),
                frozenset(integs),
            )
        )
    return out


def load_truth(path: str | Path) -> list[Episode]:
    """The attack episodes of a truth file (benign labels are read by :func:`load_benign`)."""
    p = Path(path)
    out = []
    for where, rec in _records(p):
        if rec.get("kind") == "benign":
            continue
        missing = [k for k in ("episode_id", "family", "integration_id", "start", "end") if k not in rec]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        out.append(
            Episode(
                str(rec["episode_id"]),
                str(rec["family"]),
                str(rec["integration_id"]),
                _time(rec["start"], where, "start"),
                _time(rec["end"], where, "end"),
            )
        )
    if not out:
        raise ConfigError(f"{p}: no episodes in the truth file")
    return out
