"""Per-integration hourly features for the generic anomaly detectors, computed in one DuckDB query.

Features: event counts per action class, records, bytes, distinct resources, destinations and source
IPs, and failures. Each is ``log1p``-transformed and standardised with the integration's own history
(mean and standard deviation before the window), so one pooled model compares an integration with itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from nhiwatch.schema import ACTION_CLASSES
from nhiwatch.store import Store

NAMES = (
    *(f"n_{c}" for c in ACTION_CLASSES),
    "records",
    "bytes",
    "resources",
    "destinations",
    "ips",
    "failures",
)


@dataclass
class HourlyFeatures:
    integration: list[str]
    hour: list[datetime]
    x: np.ndarray  # (rows, features), standardised


def _query(store: Store, start: datetime, end: datetime) -> tuple[list[str], list[datetime], np.ndarray]:
    counts = ", ".join(f"count(*) FILTER (WHERE action_class = '{c}')" for c in ACTION_CLASSES)
    rows = store.fetchall(
        f"""SELECT integration_id, time_bucket(INTERVAL 1 hour, time) AS hour, {counts},
                   coalesce(sum(records), 0),
                   coalesce(sum(traffic_bytes_in), 0) + coalesce(sum(traffic_bytes_out), 0),
                   count(DISTINCT resource_name), count(DISTINCT dst_endpoint_hostname),
                   count(DISTINCT src_endpoint_ip), count(*) FILTER (WHERE status = 'Failure')
            FROM events WHERE integration_id IS NOT NULL AND time >= ? AND time < ?
            GROUP BY ALL ORDER BY hour, integration_id""",
        [start, end],
    )
    x = np.log1p(np.array([r[2:] for r in rows], dtype=float).reshape(len(rows), len(NAMES)))
    return [r[0] for r in rows], [r[1] for r in rows], x


def hourly(
    store: Store, since: datetime, until: datetime, history_days: int
) -> tuple[HourlyFeatures, HourlyFeatures]:
    """(history before ``since``, window ``[since, until)``), both standardised per integration."""
    hi, hh, hx = _query(store, since - timedelta(days=history_days), since)
    wi, wh, wx = _query(store, since, until)
    g_mean = hx.mean(axis=0) if len(hx) else np.zeros(len(NAMES))
    g_std = hx.std(axis=0) if len(hx) else np.ones(len(NAMES))
    stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    idx: dict[str, list[int]] = {}
    for i, integ in enumerate(hi):
        idx.setdefault(integ, []).append(i)
    for integ, rows in idx.items():
        sub = hx[rows]
        stats[integ] = (sub.mean(axis=0), sub.std(axis=0) if len(rows) > 1 else g_std)

    def norm(names: list[str], x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for i, integ in enumerate(names):
            mean, std = stats.get(integ, (g_mean, g_std))
            out[i] = (x[i] - mean) / np.maximum(std, 0.25)
        return out

    return HourlyFeatures(hi, hh, norm(hi, hx)), HourlyFeatures(wi, wh, norm(wi, wx))
