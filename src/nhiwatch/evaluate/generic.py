"""Two generic anomaly detectors over hourly features, held to nhiwatch's alert budget.

River's ``HalfSpaceTrees`` (online: learns the history, then scores each window hour before learning it)
and scikit-learn's ``IsolationForest`` (fitted on the history and the window). Each gets exactly as many
alerts as nhiwatch raised: its top-scoring integration-hours are taken in order and grouped into episodes
with the same gap rule as nhiwatch's alerts, until that number of alerts is reached.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from nhiwatch.evaluate.features import NAMES, HourlyFeatures
from nhiwatch.evaluate.metrics import Span

HOUR = timedelta(hours=1)


def isolation_forest_scores(history: HourlyFeatures, window: HourlyFeatures, seed: int = 7) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(seed)
    hist = (
        history.x
        if len(history.x) <= 50_000
        else history.x[rng.choice(len(history.x), 50_000, replace=False)]
    )
    # Fitted on history *and* window (its usual transductive use): a feature constant over the history alone
    # (exports by an integration that never exported) would otherwise never be split on, hiding the spike.
    model = IsolationForest(n_estimators=200, random_state=seed).fit(np.vstack([hist, window.x]))
    scores: np.ndarray = -model.score_samples(window.x)  # higher = more anomalous
    return scores


def half_space_trees_scores(history: HourlyFeatures, window: HourlyFeatures, seed: int = 7) -> np.ndarray:
    from river import anomaly

    lo, hi = -4.0, 12.0  # standardised features, clipped into the trees' fixed limits

    def row(v: np.ndarray) -> dict[str, float]:
        return {n: float(x) for n, x in zip(NAMES, np.clip(v, lo, hi), strict=True)}

    model = anomaly.HalfSpaceTrees(
        n_trees=15, height=10, window_size=250, seed=seed, limits={n: (lo, hi) for n in NAMES}
    )
    rng = np.random.default_rng(seed)
    train = (
        history.x
        if len(history.x) <= 20_000
        else history.x[np.sort(rng.choice(len(history.x), 20_000, replace=False))]
    )
    for v in train:
        model.learn_one(row(v))
    out = np.empty(len(window.x))
    for i, v in enumerate(window.x):
        features = row(v)
        out[i] = model.score_one(features)
        model.learn_one(features)
    return out


def budget_spans(window: HourlyFeatures, scores: np.ndarray, budget: int, gap: timedelta) -> list[Span]:
    """Top-scoring integration-hours, grouped per integration within ``gap``, until ``budget`` alerts."""
    if budget <= 0 or len(scores) == 0:
        return []
    taken: dict[str, list] = {}
    groups: dict[str, int] = {}
    total = 0
    for i in np.argsort(-scores, kind="stable"):
        integ = window.integration[i]
        taken.setdefault(integ, []).append(window.hour[i])
        n = len(_groups(taken[integ], gap))
        total += n - groups.get(integ, 0)
        groups[integ] = n
        if total >= budget:
            break
    spans = [Span(integ, g[0], g[-1] + HOUR) for integ, hours in taken.items() for g in _groups(hours, gap)]
    spans.sort(key=lambda s: s.first)
    return spans[:budget]


def _groups(hours: list, gap: timedelta) -> list[list]:
    out: list[list] = []
    for h in sorted(hours):
        if out and h <= out[-1][-1] + HOUR + gap:
            out[-1].append(h)
        else:
            out.append([h])
    return out
