"""Per-integration baselines learned from a trailing history window, stored in DuckDB tables.

Estimators (``profile``, ``envelope``, ``volume``, ``values``) share one contract
(:mod:`nhiwatch.baseline.contract`); :func:`learn` runs them all and :func:`show` describes one
integration. Detections only read the tables; they never learn.
"""

from nhiwatch.baseline.learn import DEFAULT_HISTORY_DAYS, BaselineSummary, learn, learned, show

__all__ = ["DEFAULT_HISTORY_DAYS", "BaselineSummary", "learn", "learned", "show"]
