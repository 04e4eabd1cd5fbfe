"""Matching alerts to attack episodes, and the numbers that say how good the alerts are.

An alert *detects* an episode when it is on the episode's integration and its evidence span overlaps the
episode window widened by ``slack``. Time to detect is from the attack start to the first evidence of
the earliest matching alert (zero if the evidence precedes the start). Precision is the share of alerts
matching some episode; false alerts are counted per 100 integration-days of the scored window.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nhiwatch.evaluate.truth import Episode


@dataclass(frozen=True)
class Span:
    """An alert reduced to what matching needs: the integration and the evidence time span."""

    integration_id: str
    first: datetime
    last: datetime
    alert_id: str = ""
    detectors: tuple[str, ...] = ()
    cause: str = ""  # the cause the alert's own context names (fleet event, vendor change, calendar), if any


@dataclass
class FamilyScore:
    family: str
    episodes: int = 0
    detected: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else 0.0

    @property
    def median_delay_s(self) -> float | None:
        return statistics.median(self.delays_s) if self.delays_s else None


@dataclass
class Metrics:
    families: dict[str, FamilyScore]
    overall: FamilyScore
    alerts: int
    true_alerts: int
    integration_days: float
    missed: list[Episode] = field(default_factory=list)
    false_alerts: list[Span] = field(default_factory=list)
    false_by_cause: dict[str, int] = field(default_factory=dict)  # see nhiwatch.evaluate.causes
    false_by_detail: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 0.0

    @property
    def false_per_100_days(self) -> float:
        false = self.alerts - self.true_alerts
        return 100.0 * false / self.integration_days if self.integration_days else 0.0

    def cause_per_100_days(self, cause: str) -> float:
        """False alerts of one cause per 100 integration-days (the causes add up to the overall rate)."""
        n = self.false_by_cause.get(cause, 0)
        return 100.0 * n / self.integration_days if self.integration_days else 0.0


def _overlaps(s: Span, e: Episode, slack: timedelta) -> bool:
    return s.integration_id == e.integration_id and s.first <= e.end + slack and s.last >= e.start - slack


def score_spans(
    episodes: Sequence[Episode], spans: Sequence[Span], *, integration_days: float, slack: timedelta
) -> Metrics:
    """Per-family and overall recall and delay, precision and false alerts per 100 integration-days.

    >>> t = datetime(2025, 1, 1)
    >>> ep = [Episode("e1", "fanout", "a", t, t + timedelta(hours=1))]
    >>> m = score_spans(ep, [Span("a", t + timedelta(minutes=5), t + timedelta(minutes=30)),
    ...                      Span("b", t, t)], integration_days=50, slack=timedelta(minutes=30))
    >>> m.overall.detected, m.overall.median_delay_s, m.precision, m.false_per_100_days
    (1, 300.0, 0.5, 2.0)
    """
    by_integ: dict[str, list[Span]] = {}
    for s in spans:
        by_integ.setdefault(s.integration_id, []).append(s)
    families: dict[str, FamilyScore] = {}
    overall = FamilyScore("overall")
    matched: set[int] = set()
    missed: list[Episode] = []
    for e in episodes:
        fam = families.setdefault(e.family, FamilyScore(e.family))
        fam.episodes += 1
        overall.episodes += 1
        hits = [s for s in by_integ.get(e.integration_id, []) if _overlaps(s, e, slack)]
        matched.update(id(s) for s in hits)
        if not hits:
            missed.append(e)
            continue
        delay = max(0.0, (min(s.first for s in hits) - e.start).total_seconds())
        for fs in (fam, overall):
            fs.detected += 1
            fs.delays_s.append(delay)
    false = [s for s in spans if id(s) not in matched]
    return Metrics(families, overall, len(spans), len(spans) - len(false), integration_days, missed, false)
