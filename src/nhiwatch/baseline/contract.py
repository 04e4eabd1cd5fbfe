"""The one contract every baseline estimator follows.

An estimator learns from a trailing history window ``[start, until)`` with set-based SQL, writes its
state to its own DuckDB table keyed by ``integration_id`` (replacing what was there), and can describe
one integration's state as plain JSON-able data. Estimators run in order (``ESTIMATORS``): later ones may
read the state of earlier ones (the volume estimator reads the learned month-end regime of the profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from nhiwatch.baseline.frames import ts
from nhiwatch.store import Store


@dataclass(frozen=True)
class HistoryWindow:
    """The trailing window a baseline is learned from."""

    start: datetime
    until: datetime

    @classmethod
    def ending(cls, until: datetime, days: float) -> HistoryWindow:
        return cls(until - timedelta(days=days), until)

    @property
    def days(self) -> float:
        return (self.until - self.start).total_seconds() / 86400

    def where(self, alias: str = "e") -> str:
        """SQL predicate selecting this window's resolved events."""
        return (
            f"{alias}.time >= {ts(self.start)} AND {alias}.time < {ts(self.until)} "
            f"AND {alias}.integration_id IS NOT NULL"
        )


class Estimator(Protocol):
    """Learns one family of signals per integration."""

    name: str
    tables: tuple[str, ...]  # tables it owns
    ddl: tuple[str, ...]

    def learn(self, store: Store, window: HistoryWindow) -> int:
        """Replace the state from ``window``; return the number of state rows written."""
        ...

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        """This estimator's state for one integration, as JSON-able data."""
        ...


def rows_as_dicts(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Records with timestamps as ISO text, so the result serialises as JSON."""
    out = []
    for r in store.records(sql, params):
        out.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()})
    return out
