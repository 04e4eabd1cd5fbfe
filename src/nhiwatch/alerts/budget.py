"""The alert budget: how many behaviour alerts a day each integration risk tier may raise at full severity.

A budget is a rate per 100 integration-days of the tier (``budget.per_100_integration_days``), turned into a
daily allowance for the tier's size (never under ``min_per_day``). On a day (UTC, by the alert's first
evidence) where a tier raises more, the alerts beyond the allowance, lowest risk first, are *demoted*: their
severity becomes ``demote_to`` (a digest an analyst reads once a day), the alert says so in its explanation
and in ``score_factors["budget"]``, and nothing is dropped. Alerts at or above ``protect`` are never demoted
(by default ``high``: the budget quiets the medium and low noise, it never hides an attack), and suppressed
or posture alerts do not count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from nhiwatch.alerts.config import LEVELS, Budget
from nhiwatch.alerts.model import Alert


def allowance(budget: Budget, tier: str, integrations: int) -> int:
    """Alerts a day the tier may raise at full severity.

    >>> from nhiwatch.alerts.config import default_config
    >>> b = default_config().budget
    >>> allowance(b, "medium", 150), allowance(b, "medium", 3)
    (3, 2)
    """
    rate = budget.per_100_integration_days.get(tier, budget.per_100_integration_days.get("medium", 0.0))
    return max(budget.min_per_day, math.ceil(rate * integrations / 100))


def apply(alerts: Sequence[Alert], budget: Budget, tier_sizes: Mapping[str, int]) -> int:
    """Demote, in place, the alerts beyond each tier's daily allowance; returns how many were demoted."""
    if not budget.enabled:
        return 0
    days: dict[tuple[str, object], list[Alert]] = defaultdict(list)
    for a in alerts:
        if a.kind == "behaviour" and a.status == "open":
            days[(a.risk_tier or "medium", a.first_seen.date())].append(a)
    protect = LEVELS.index(budget.protect)
    demoted = 0
    for (tier, day), group in days.items():
        allowed = allowance(budget, tier, tier_sizes.get(tier, 0))
        if len(group) <= allowed:
            continue
        ranked = sorted(group, key=lambda a: (-LEVELS.index(a.severity), -a.risk_score, a.first_seen))
        for a in ranked[allowed:]:
            if LEVELS.index(a.severity) >= protect or LEVELS.index(a.severity) <= LEVELS.index(
                budget.demote_to
            ):
                continue
            note = (
                f"Demoted from {a.severity} to {budget.demote_to} by the alert budget: {len(group)} behaviour "
                f"alerts of {tier}-risk integrations on {day}, {allowed} allowed at full severity; this one "
                "ranked below them (still stored and visible)."
            )
            a.score_factors["budget"] = {
                "from": a.severity,
                "to": budget.demote_to,
                "day": str(day),
                "allowed": allowed,
            }
            a.severity = budget.demote_to
            a.explanation = f"{a.explanation}\n{note}"
            demoted += 1
    return demoted
