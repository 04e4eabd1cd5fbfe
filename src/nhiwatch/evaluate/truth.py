"""Reading the simulator's ground truth (``truth.jsonl``: one attack episode per line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def load_truth(path: str | Path) -> list[Episode]:
    p = Path(path)
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
