"""Shared helpers for the native-format writers: fast timestamps, vendor-shaped ids, file output.

Timestamps are formatted from a per-day cache plus integer arithmetic (no ``datetime`` per event);
ids come from a seeded RNG so output is byte-identical for a seed.
"""

from __future__ import annotations

import base64
import gzip as gz
import random
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import orjson

from nhiwatch.simulate.model import Ev

_DAYS: dict[int, str] = {}
_MINUTES: dict[int, str] = {}
_B64_TO_62 = bytes.maketrans(b"+/", b"Qz")


def day_str(ts: float) -> str:
    """``2026-03-01`` for a UTC epoch."""
    d = int(ts) // 86400
    s = _DAYS.get(d)
    if s is None:
        s = _DAYS[d] = datetime.fromtimestamp(d * 86400, UTC).strftime("%Y-%m-%d")
    return s


def _minute(minute: int) -> str:
    s = _MINUTES.get(minute)
    if s is None:
        h, m = divmod(minute % 1440, 60)
        s = _MINUTES[minute] = f"{day_str(minute * 60)}T{h:02d}:{m:02d}:"
    return s


def iso_ms(ts: float) -> str:
    """``2026-03-01T12:00:00.123Z``."""
    ms = int(ts * 1000)
    sec, frac = divmod(ms, 1000)
    minute, s = divmod(sec, 60)
    return f"{_minute(minute)}{s:02d}.{frac:03d}Z"


def iso_s(ts: float) -> str:
    """``2026-03-01T12:00:00Z``."""
    return iso_ms(ts)[:19] + "Z"


def iso_7(ts: float) -> str:
    """Azure's seven-digit fractions: ``2026-03-01T12:00:00.1234560Z``."""
    return iso_ms(ts)[:23] + "0000Z"


def sf_ts(ts: float) -> str:
    """Salesforce ``yyyyMMddHHmmss.SSS``."""
    x = iso_ms(ts)
    return x[0:4] + x[5:7] + x[8:10] + x[11:13] + x[14:16] + x[17:19] + "." + x[20:23]


class Ids:
    """Seeded generator of vendor-looking identifiers."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.records = 0  # native records written, when a writer's records are not one per event

    def guid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hexs(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def b62(self, n: int) -> str:
        """``n`` alphanumeric characters (base64 of random bytes, with the two symbols swapped for letters)."""
        k = (n * 3 + 3) // 4
        raw = self.rng.getrandbits(8 * k).to_bytes(k, "little")
        return base64.b64encode(raw).translate(_B64_TO_62)[:n].decode()

    def digits(self, n: int) -> str:
        return str(self.rng.randint(10 ** (n - 1), 10**n - 1))


def by_day(events: Iterable[Ev]) -> Iterator[tuple[str, list[Ev]]]:
    for day, group in groupby(events, key=lambda e: day_str(e.ts)):
        yield day, list(group)


def by_hour(events: Iterable[Ev]) -> Iterator[tuple[int, list[Ev]]]:
    for hour, group in groupby(events, key=lambda e: int(e.ts) // 3600):
        yield hour, list(group)


def write_bytes(path: Path, data: bytes, gzip: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gzip:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gz.compress(data, compresslevel=1, mtime=0))
    else:
        path.write_bytes(data)
    return path


def jsonl(records: Iterable[object]) -> bytes:
    dumps = orjson.dumps
    return b"\n".join(dumps(r) for r in records) + b"\n"


def write_jsonl_days(
    events: list[Ev], folder: Path, stem: str, render: Callable[[Ev], object], gzip: bool
) -> int:
    """One JSON-lines file per UTC day: ``folder/<stem>-YYYY-MM-DD.jsonl``."""
    n = 0
    for day, evs in by_day(events):
        write_bytes(folder / f"{stem}-{day}.jsonl", jsonl(render(e) for e in evs), gzip)
        n += 1
    return n
