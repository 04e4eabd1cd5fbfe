"""Business calendars per integration: public holidays, month, quarter and year ends, post-holiday catch-up.

An integration's calendar follows its ``country`` (an ISO 3166 code, optionally with a subdivision such as
``DE-BY``; the inventory's company-wide ``country`` when it declares none) read on the local days of its own
time zone. A business day is Monday to Friday and not a public holiday of that country (from the
``holidays`` package); without a country, every weekday is a business day. Temp tables, all keyed by local
date:

* ``nw_country(integration_id, country)``: the integration's calendar ('' when none);
* ``nw_calendar(country, d, dow, mon, bday, holiday, me_rank, ms_rank, held_back)``: ``me_rank`` counts the
  business days on or after ``d`` in its month (1 = the last business day; days after it rank 0 and belong
  to the month end), ``ms_rank`` those on or before it; ``held_back`` is, on a business day, the number of
  weekday holidays since the previous business day (the backlog it may catch up);
* ``nw_holdback(country, d, hday)``: each catch-up day with each holiday it follows;
* ``nw_special_days(integration_id, d, kind, held_back)``: the integration's holidays and catch-up days;
* ``nw_regime_days(integration_id, d, regime, why)``: local days that are bursty by design, one regime a
  day: the declared ``bursty_windows`` and the regimes learned by :mod:`nhiwatch.baseline.regimes`. A day in
  several takes the most specific (year end, quarter end, month end, month start, weekly). When judging
  (``build_calendar`` with learned regimes), a year end or quarter end with no day of its own in the learned
  volume baseline is judged as the nearest weaker regime that has some (a year end as the quarter ends
  before it, else the month ends; a quarter end as the month ends): a stronger month end, compared with the
  closes the integration has shown, rather than with an ordinary day times an allowance. An integration
  whose memory holds no month end yet has its first one added as a month end with no history
  (:func:`first_close`): its normal days times the burst allowance, as for a declared window never observed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

import holidays as _holidays

from nhiwatch.baseline.frames import DAY_NAMES
from nhiwatch.baseline.regimes import END_DAYS
from nhiwatch.store import Store

REGIME_PRIORITY = {"year_end": 5, "quarter_end": 4, "month_end": 3, "month_start": 2, "weekly": 1}
WEAKER = {"year_end": ("quarter_end", "month_end"), "quarter_end": ("month_end",)}  # nested closes
MARGIN_DAYS = 40  # calendar days kept either side of a window: a catch-up day looks back over its holidays


@cache
def _supported() -> dict[str, tuple[str, ...]]:
    return {k.upper(): tuple(v) for k, v in _holidays.list_supported_countries().items()}


def validate_country(code: str) -> str:
    """An ISO 3166 country code the ``holidays`` package knows, optionally with a subdivision, upper-cased.

    >>> validate_country("us"), validate_country("DE-BY")
    ('US', 'DE-BY')
    """
    text = code.strip().upper()
    country, _, subdiv = text.partition("-")
    supported = _supported()
    if country not in supported:
        raise ValueError(
            f"unknown country {code!r}: use an ISO 3166 code the holidays package knows (US, FR, DE-BY)"
        )
    if subdiv and subdiv not in {s.upper() for s in supported[country]}:
        raise ValueError(
            f"unknown subdivision {subdiv!r} of {country} (known: {', '.join(supported[country][:12])})"
        )
    return text


@cache
def public_holidays(code: str, year: int) -> dict[date, str]:
    """Public holidays of ``code`` (``FR`` or ``DE-BY``) in ``year``; empty for ''."""
    if not code:
        return {}
    country, _, subdiv = code.partition("-")
    return dict(_holidays.country_holidays(country, subdiv=subdiv or None, years=year).items())


def calendar_rows(
    code: str, lo: date, hi: date
) -> list[tuple[str, date, int, int, bool, str | None, int, int, int]]:
    """``nw_calendar`` rows for one country from ``lo`` to ``hi`` inclusive (whole months, for the ranks)."""
    first = lo.replace(day=1)
    last = (hi.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    hol = {d: name for y in range(first.year, last.year + 1) for d, name in public_holidays(code, y).items()}
    bday = {d: d.isoweekday() <= 5 and d not in hol for d in days}
    me: dict[date, int] = {}
    ms: dict[date, int] = {}
    run = 0
    for d in reversed(days):
        run = (0 if (d + timedelta(days=1)).month != d.month else run) + bday[d]
        me[d] = run
    run = 0
    held = 0
    rows = []
    for d in days:
        run = (0 if d.day == 1 else run) + bday[d]
        ms[d] = run
        back = held if bday[d] else 0
        if bday[d]:
            held = 0
        elif d in hol and d.isoweekday() <= 5:
            held += 1
        rows.append((code, d, d.isoweekday(), d.month, bday[d], hol.get(d), me[d], ms[d], back))
    return rows


def build_calendar(store: Store, start: datetime, until: datetime, learned: str | None = None) -> None:
    """Fill the temp tables of this module for local days around ``[start, until)``. ``learned`` names a
    table of learned regimes (``integration_id, regime, business_days``) to add to the declared windows."""
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_country AS
        SELECT id AS integration_id, coalesce(upper(country), '') AS country FROM integrations"""
    )
    codes = [r[0] for r in store.fetchall("SELECT DISTINCT country FROM nw_country")]
    lo = (start - timedelta(days=MARGIN_DAYS)).date()
    hi = (until + timedelta(days=MARGIN_DAYS)).date()
    rows = []
    for code in sorted({"", *codes}):
        try:
            rows += calendar_rows(code, lo, hi)
        except (NotImplementedError, KeyError):  # a store written by a version that knew more countries
            rows += [(code, *r[1:]) for r in calendar_rows("", lo, hi)]
    cols = ["country", "d", "dow", "mon", "bday", "holiday", "me_rank", "ms_rank", "held_back"]
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_calendar (country VARCHAR, d DATE, dow INTEGER, mon INTEGER,
           bday BOOLEAN, holiday VARCHAR, me_rank INTEGER, ms_rank INTEGER, held_back INTEGER)"""
    )
    store.insert_rows("nw_calendar", cols, rows)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_holdback AS
        SELECT c.country, c.d, h.d AS hday FROM nw_calendar c JOIN nw_calendar h
          ON h.country = c.country AND h.d < c.d AND h.d >= c.d - 14 AND h.holiday IS NOT NULL AND h.dow <= 5
        WHERE c.held_back > 0
          AND NOT EXISTS (SELECT 1 FROM nw_calendar b WHERE b.country = c.country AND b.bday
                          AND b.d > h.d AND b.d < c.d)"""
    )
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_special_days AS
        SELECT n.integration_id, c.d, CASE WHEN c.holiday IS NOT NULL THEN 'holiday' ELSE 'catch_up' END AS kind,
               c.held_back, c.holiday
        FROM nw_country n JOIN nw_calendar c USING (country)
        WHERE n.country <> '' AND (c.holiday IS NOT NULL OR c.held_back > 0)"""
    )
    build_regime_days(store, learned)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE nw_first_closes (integration_id VARCHAR, d DATE, kind VARCHAR)"
    )
    if learned:
        fall_back_to_history(store)
        first_close(store)


def first_close(store: Store) -> None:
    """Fill the temp table ``nw_first_closes(integration_id, d, kind)`` (made by :func:`build_calendar`): the close days of an integration that are the
    first of their kind in its memory (``month``: no month end before; ``quarter``: no quarter end before;
    ``year``: no December close before); and in ``nw_regime_days``, its first month end as a ``month_end``
    with no history of its own. A first close of a kind is judged at least as its normal days times the
    burst allowance, as a declared window never observed is: until it has seen one, nothing tells how much
    heavier that close is; after it, the learned regimes and the closes behind it decide."""
    if not store.table_exists("rollup_hourly"):
        return
    store.execute(
        f"""INSERT INTO nw_first_closes
        WITH first AS (SELECT integration_id, CAST(min(hour) AS DATE) AS f FROM rollup_hourly GROUP BY ALL),
        closes AS (SELECT n.integration_id, c.d, c.mon FROM nw_country n JOIN nw_calendar c USING (country)
                   WHERE c.me_rank <= {END_DAYS}),
        kinds AS (SELECT k.*, u.kind FROM closes k, (VALUES ('month'), ('quarter'), ('year')) u(kind)
                  WHERE u.kind = 'month' OR (u.kind = 'quarter' AND k.mon IN (3, 6, 9, 12))
                     OR (u.kind = 'year' AND k.mon = 12))
        SELECT k.integration_id, k.d, k.kind FROM kinds k JOIN first f USING (integration_id)
        WHERE k.d >= f.f
          AND NOT EXISTS (SELECT 1 FROM kinds p WHERE p.integration_id = k.integration_id AND p.kind = k.kind
                          AND p.d >= f.f AND p.d < k.d AND date_trunc('month', p.d) <> date_trunc('month', k.d))"""
    )
    store.execute(
        """INSERT INTO nw_regime_days
        SELECT k.integration_id, k.d, 'month_end', 'first close: no month end in its memory yet'
        FROM nw_first_closes k WHERE k.kind = 'month'
          AND NOT EXISTS (SELECT 1 FROM nw_regime_days r WHERE r.integration_id = k.integration_id AND r.d = k.d)"""
    )


def fall_back_to_history(store: Store) -> None:
    """Judge a year end or quarter end with no history of its own in ``baseline_volume`` as the nearest
    weaker close that has some (see the module docstring); ``why`` says so."""
    if not store.table_exists("baseline_volume"):
        return
    for regime, weaker in WEAKER.items():
        for base in weaker:
            store.execute(
                """UPDATE nw_regime_days r SET regime = ?,
                     why = r.why || ' (no ' || r.regime || ' behind it: judged as a ' || ? || ')'
                   WHERE r.regime = ?
                     AND NOT EXISTS (SELECT 1 FROM baseline_volume v
                                     WHERE v.integration_id = r.integration_id AND v.regime = r.regime)
                     AND EXISTS (SELECT 1 FROM baseline_volume v
                                 WHERE v.integration_id = r.integration_id AND v.regime = ?)""",
                [base, base.replace("_", " "), regime, base],
            )


def build_regime_days(store: Store, learned: str | None = None) -> None:
    """(Re)fill ``nw_regime_days`` from the declared windows and the ``learned`` regimes table."""
    learned_sql = ""
    if learned:
        learned_sql = f"""UNION ALL SELECT integration_id, regime, business_days, 'learned:' || regime, 1
                          FROM {learned}"""
    week = ", ".join(f"'{n}'" for n in DAY_NAMES)
    prio = " ".join(f"WHEN '{k}' THEN {v}" for k, v in REGIME_PRIORITY.items())
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_regime_days AS
        WITH w AS (
          SELECT id AS integration_id, u.w.calendar AS cal, coalesce(u.w.business_days, 3) AS bd,
                 'declared:' || u.w.calendar AS why,
                 list_position([{week}], lower(coalesce(u.w.weekday, 'fri'))) AS wd
          FROM (SELECT id, unnest(from_json(coalesce(bursty_windows, '[]'),
                  '[{{"calendar":"VARCHAR","business_days":"INTEGER","weekday":"VARCHAR"}}]')) AS w
                FROM integrations) u
          {learned_sql}),
        days AS (
          SELECT w.integration_id, c.d, w.cal AS regime, w.why, CASE w.cal {prio} ELSE 0 END AS prio
          FROM w JOIN nw_country n USING (integration_id) JOIN nw_calendar c ON c.country = n.country AND (
            (w.cal = 'month_end' AND c.me_rank <= w.bd)
            OR (w.cal = 'month_start' AND c.ms_rank <= w.bd AND c.ms_rank > 0)
            OR (w.cal = 'quarter_end' AND c.mon IN (3, 6, 9, 12) AND c.me_rank <= w.bd)
            OR (w.cal = 'year_end' AND c.mon = 12 AND c.me_rank <= w.bd)
            OR (w.cal = 'weekly' AND c.dow = w.wd)))
        SELECT integration_id, d, arg_max(regime, prio) AS regime,
               string_agg(DISTINCT why, ',' ORDER BY why) AS why
        FROM days GROUP BY ALL"""
    )


__all__ = [
    "REGIME_PRIORITY",
    "build_calendar",
    "build_regime_days",
    "calendar_rows",
    "fall_back_to_history",
    "public_holidays",
    "validate_country",
]
