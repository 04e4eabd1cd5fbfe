"""Calendar regimes learned from the long memory: month, quarter and year ends that are systematically heavier.

For each integration, its daily events and records over the rollups' long memory (``LONG_MEMORY_DAYS``) are
laid on its business calendar (:mod:`nhiwatch.baseline.calendar`: its country's holidays, its time zone).
Business days since it was first seen count, idle ones as zero; catch-up days after a holiday are left out
(they have a model of their own). Each day is divided by the median of the ordinary business days within
``NEAR_DAYS`` either side of it (``(v + 1) / (m + 1)``; at least ``MIN_NEAR`` of them), so steady growth, a
trend inside the month or a quiet month does not pass for a calendar effect.

A regime is learned when its days are heavier than the days they are compared with beyond chance: a one-sided
Mann-Whitney rank test (:func:`~nhiwatch.baseline.stats.rank_sum_sf`, exact for few days) on events and on
records, Bonferroni-corrected, below ``ALPHA``. The comparisons nest:

* ``month_end``, the last ``END_DAYS`` business days of each month, against the other business days;
* ``quarter_end`` (March, June, September, December) against the other month ends when the month end is a
  regime, else against ordinary days;
* ``year_end`` (December) against the other quarter ends, else month ends, else ordinary days.

A declared window counts as a regime here: a quarter end splits from a declared month end only when it is
heavier than the other month ends, so it does not take the month end's history away from it.

A regime needs at least ``MIN_DAYS`` of its days in the memory: an integration with no month end behind it
has none, and its first month end is judged as an ordinary day. Declared ``bursty_windows`` need no
learning and hold from the first day. The rank test asks for no effect size: a month end heavier every time,
even slightly, is a regime, and is then scored against its own history (:mod:`.volume`), not waved through.

``baseline_regime_values`` keeps the kinds of action an integration performed on its bursty-by-design days
(declared or learned, :mod:`.calendar`) over the same long memory: the year-end export of a job that exported
at every month end is the close's usual work, even when the last month end has left the short memory the
value sets are learned over (:mod:`nhiwatch.detectors._novelty` reads it on such days only). Other values
(resource types, scopes, networks) are not carried over: data never exported is new at a month end too.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from nhiwatch.baseline.contract import HistoryWindow, rows_as_dicts
from nhiwatch.baseline.frames import TZ_JOIN
from nhiwatch.baseline.stats import rank_sum_sf
from nhiwatch.store import Store

LONG_MEMORY_DAYS = 400.0
ALPHA = 0.01
END_DAYS = 3
MAX_END_DAYS = 5  # a close learned to last longer than END_DAYS stops here (a week of business days)
MIN_DAYS = 2
NEAR_DAYS, MIN_NEAR = 10, 3  # a day's reference: the ordinary business days within ten days either side
METRICS = ("events", "records")

DDL = """CREATE TABLE IF NOT EXISTS baseline_regimes (
    integration_id VARCHAR, regime VARCHAR, business_days INTEGER, days INTEGER, occurrences INTEGER,
    compared_with VARCHAR, compared_days INTEGER, p_value DOUBLE, ratio DOUBLE)"""
VALUES_DDL = """CREATE TABLE IF NOT EXISTS baseline_regime_values (
    integration_id VARCHAR, dimension VARCHAR, value VARCHAR, days INTEGER, last_seen TIMESTAMP)"""
REGIME_DIMENSIONS = ("action_class",)


class Regimes:
    name = "regimes"
    tables = ("baseline_regimes", "baseline_regime_values")
    ddl = (DDL, VALUES_DDL)

    def learn(self, store: Store, window: HistoryWindow) -> int:
        """Needs ``nw_calendar`` and ``nw_country`` (:func:`~nhiwatch.baseline.calendar.build_calendar`)."""
        store.execute("DELETE FROM baseline_regimes")
        start = window.until - timedelta(days=max(LONG_MEMORY_DAYS, window.days))
        daily = store.fetchall(
            f"""SELECT e.integration_id, CAST(timezone(coalesce(z.tz, 'UTC'), e.hour::TIMESTAMPTZ) AS DATE) AS d,
                       sum(e.events), sum(coalesce(e.records, 0))
                FROM rollup_hourly e {TZ_JOIN}
                WHERE e.hour >= ? AND e.hour < ? AND e.action_class = '*' AND e.status = '*'
                  AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = e.integration_id
                                  AND t.start_time < e.hour + INTERVAL 1 HOUR AND t.end_time >= e.hour)
                GROUP BY ALL""",
            [start, window.until],
        )
        per: dict[str, dict[date, tuple[float, float]]] = defaultdict(dict)
        for integ, d, n, r in daily:
            per[integ][d] = (float(n), float(r))
        country = dict(store.fetchall("SELECT integration_id, country FROM nw_country"))
        cal: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
        for code, d, mon, me_rank in store.fetchall(
            "SELECT country, d, mon, me_rank FROM nw_calendar WHERE bday AND held_back = 0 ORDER BY d"
        ):
            cal[code].append((d, mon, me_rank))
        declared: dict[str, set[str]] = defaultdict(set)
        for integ, cal_name in store.fetchall(
            """SELECT id, unnest(from_json(coalesce(bursty_windows, '[]'), '[{"calendar":"VARCHAR"}]')).calendar
               FROM integrations"""
        ):
            declared[integ].add(cal_name)
        last_day = window.until.date()  # the day that holds `until` is not over: left out
        out = []
        for integ, days in per.items():
            first = min(days)
            bdays = [c for c in cal.get(country.get(integ, ""), cal[""]) if first <= c[0] < last_day]
            out += [(integ, *row) for row in learn_one(days, bdays, frozenset(declared[integ]))]
        store.insert_rows(
            "baseline_regimes",
            [
                "integration_id",
                "regime",
                "business_days",
                "days",
                "occurrences",
                "compared_with",
                "compared_days",
                "p_value",
                "ratio",
            ],
            out,
        )
        self._values(store, start, window.until)
        return len(out)

    @staticmethod
    def _values(store: Store, start: Any, until: Any) -> None:
        """``baseline_regime_values``: the kinds of action seen on the integration's bursty-by-design days."""
        from nhiwatch.baseline.calendar import build_regime_days

        store.execute("DELETE FROM baseline_regime_values")
        if not store.table_exists("rollup_values"):
            return
        build_regime_days(store, "baseline_regimes")
        store.execute(
            """INSERT INTO baseline_regime_values
            SELECT v.integration_id, v.dimension, v.value, count(DISTINCT v.day), max(v.last_seen)
            FROM rollup_values v LEFT JOIN nw_tz z ON z.integration_id = v.integration_id
            JOIN nw_regime_days r ON r.integration_id = v.integration_id
              AND r.d = CAST(timezone(coalesce(z.tz, 'UTC'), v.first_seen::TIMESTAMPTZ) AS DATE)
            WHERE v.day >= CAST(? AS DATE) AND v.day < ? AND list_contains(?::VARCHAR[], v.dimension)
            GROUP BY ALL""",
            [start, until, list(REGIME_DIMENSIONS)],
        )

    def show(self, store: Store, integration_id: str) -> dict[str, Any]:
        rows = rows_as_dicts(
            store,
            """SELECT regime, business_days, days, occurrences, compared_with, compared_days, p_value, ratio
               FROM baseline_regimes WHERE integration_id = ? ORDER BY regime""",
            [integration_id],
        )
        return {"learned": rows}


def learn_one(
    days: dict[date, tuple[float, float]],
    bdays: list[tuple[date, int, int]],
    declared: frozenset[str] = frozenset(),
) -> list[tuple[str, int, int, int, str, int, float, float]]:
    """Learned regimes of one integration: (regime, business_days, days, occurrences, compared_with,
    compared_days, p_value, ratio). ``days`` maps local day -> (events, records); ``bdays`` lists its business
    days (day, month, rank from the month end) in the memory, catch-up days left out. A ``declared`` regime
    is not tested (it holds anyway) but is the base the regimes nested in it are compared with: a quarter end
    splits from a declared month end only when heavier than the other month ends.

    >>> from datetime import date, timedelta
    >>> cal, vals = [], {}
    >>> for i in range(90):
    ...     d = date(2026, 1, 1) + timedelta(days=i)
    ...     if d.isoweekday() <= 5:
    ...         nxt = [d + timedelta(days=k) for k in range(1, 6) if (d + timedelta(days=k)).month == d.month]
    ...         rank = 1 + sum(x.isoweekday() <= 5 for x in nxt)
    ...         cal.append((d, d.month, rank))
    ...         vals[d] = (100.0 + i % 7, 0.0) if rank > 3 else (400.0, 0.0)
    >>> [r[0] for r in learn_one(vals, cal)]
    ['month_end']
    """
    ordinary = [(d, days.get(d, (0.0, 0.0))) for d, _mon, rank in bdays if rank > END_DAYS]
    when = [d.toordinal() for d, _ in ordinary]
    groups: dict[str, list[tuple[date, tuple[float, ...]]]] = defaultdict(list)
    by_rank: dict[int, list[tuple[date, tuple[float, ...]]]] = defaultdict(list)
    for d, mon, rank in bdays:
        # the reference: ordinary business days within NEAR_DAYS either side (not the day itself), so a
        # trend, a quiet month or growth is not mistaken for a calendar effect
        lo = bisect.bisect_left(when, d.toordinal() - NEAR_DAYS)
        hi = bisect.bisect_right(when, d.toordinal() + NEAR_DAYS)
        near = [v for k, v in ordinary[lo:hi] if k != d]
        if len(near) < MIN_NEAR:
            continue
        raw = days.get(d, (0.0, 0.0))
        v = tuple((raw[i] + 1) / (statistics.median(x[i] for x in near) + 1) for i in range(len(METRICS)))
        by_rank[rank].append((d, v))
        if rank > END_DAYS:
            groups["ordinary"].append((d, v))
        elif mon == 12:
            groups["year_end"].append((d, v))
        elif mon in (3, 6, 9):
            groups["quarter_end"].append((d, v))
        else:
            groups["month_end"].append((d, v))
    # nested sets: every year end is a quarter end, every quarter end a month end
    sets = {
        "ordinary": groups["ordinary"],
        "month_end": groups["month_end"] + groups["quarter_end"] + groups["year_end"],
        "quarter_end": groups["quarter_end"] + groups["year_end"],
        "year_end": groups["year_end"],
    }
    out: list[tuple[str, int, int, int, str, int, float, float]] = []
    learned: set[str] = set(declared)
    plans = (
        ("month_end", ("ordinary",)),
        ("quarter_end", ("month_end", "ordinary")),
        ("year_end", ("quarter_end", "month_end", "ordinary")),
    )
    width = END_DAYS
    for regime, bases in plans:
        base = next((b for b in bases if b == "ordinary" or b in learned), "ordinary")
        if regime in declared:
            continue
        xs = sets[regime]
        ys = sets["ordinary"] if base == "ordinary" else [p for p in sets[base] if p not in xs]
        if len(xs) < MIN_DAYS or not ys:
            continue
        p = _heavier(xs, ys)
        if p >= ALPHA:
            continue
        learned.add(regime)
        if regime == "month_end":
            width = _close_width(by_rank)
        ratio = max(
            statistics.median(v[i] for _, v in xs) / max(statistics.median(v[i] for _, v in ys), 1e-9)
            for i in range(len(METRICS))
        )
        occurrences = len({(d.year, d.month) for d, _ in xs})
        out.append((regime, width, len(xs), occurrences, base, len(ys), p, round(ratio, 3)))
    return out


def _heavier(xs: list[tuple[date, tuple[float, ...]]], ys: list[tuple[date, tuple[float, ...]]]) -> float:
    """Bonferroni-corrected p-value that ``xs`` are heavier than ``ys`` on any metric (one-sided rank test)."""
    return min(
        1.0,
        len(METRICS)
        * min(rank_sum_sf([v[i] for _, v in xs], [v[i] for _, v in ys]) for i in range(len(METRICS))),
    )


def _close_width(by_rank: dict[int, list[tuple[date, tuple[float, ...]]]]) -> int:
    """How many business days a learned month end lasts: ``END_DAYS``, and one more for each next business
    day back from the month end (up to ``MAX_END_DAYS``) that is itself heavier than the days before every
    close could start (rank above ``MAX_END_DAYS``), beyond chance. Some closes take a week; a job whose
    close runs four days would otherwise have its first close day judged as an ordinary day."""
    ys = [p for rank, ps in by_rank.items() if rank > MAX_END_DAYS for p in ps]
    width = END_DAYS
    for k in range(END_DAYS + 1, MAX_END_DAYS + 1):
        xs = by_rank.get(k, [])
        if len(xs) < MIN_DAYS or not ys or _heavier(xs, ys) >= ALPHA:
            break
        width = k
    return width


__all__ = [
    "ALPHA",
    "END_DAYS",
    "LONG_MEMORY_DAYS",
    "MAX_END_DAYS",
    "MIN_DAYS",
    "REGIME_DIMENSIONS",
    "Regimes",
    "learn_one",
]
