"""``nw_ts`` (the timestamp parser every mapping's ``time`` goes through) gives exactly what the slower
macro it replaced gave, on generated strings of every spelling it knows and on the raw times seen in the
benchmark's data and the test fixtures. The reference below is that macro as it was (store.py at 4b5233a)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.store import Store

REFERENCE = r"""
CREATE OR REPLACE MACRO ref_ts_any(s) AS (
  CASE
    WHEN s IS NULL OR s = '' THEN NULL::TIMESTAMP
    WHEN regexp_full_match(s, '[0-9]{9,11}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e6 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{12,13}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e3 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{14}(\.[0-9]{1,3})?')
      THEN try_strptime(s, ['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S'])
    WHEN regexp_full_match(s, '[0-9]{16}') THEN make_timestamp(CAST(s AS BIGINT))
    ELSE coalesce(
      CAST(TRY_CAST(s AS TIMESTAMPTZ) AS TIMESTAMP),
      CAST(try_strptime(s, ['%a, %d %b %Y %H:%M:%S %z', '%d/%b/%Y:%H:%M:%S %z', '%Y-%m-%d %H:%M:%S %z',
                            '%Y-%m-%dT%H:%M:%S.%f%z']) AS TIMESTAMP),
      try_strptime(s, ['%Y/%m/%d %H:%M:%S', '%m/%d/%Y %H:%M:%S', '%d/%m/%Y %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f']))
  END);
CREATE OR REPLACE MACRO ref_ts(x) AS (
  CASE WHEN ref_ts_any(trim(x)) BETWEEN TIMESTAMP '1990-01-01' AND TIMESTAMP '2100-01-01'
       THEN ref_ts_any(trim(x)) END);
"""

# One raw time of each shape (digits as 9) among the 954,907 distinct raw times of the benchmark's simulated
# logs and the test fixtures (all of which were compared once, with no difference).
SEEN = [
    "2026-02-16T00:00:06.324Z",
    "2026-02-16T00:00:00Z",
    "1771200015401",
    "1771200015.331",
    "2026-02-16T00:00:41.5080000Z",
    "1771200009.326322",
    "1771200000",
    "1771200018.83332",
    "1771204301.8402",
    "2025-04-27T17:14:03.000+0000",
    "1772162861.21",
]

WS = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\u3000", " \u2003"])


def _digits(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=lo, max_size=hi)


@st.composite
def _iso(draw: st.DrawFn) -> str:
    year = draw(st.sampled_from(["1989", "1990", "2026", "2099", "2100", "2101", "0001", "9999", "0099"]))
    date = f"{year}-{draw(st.integers(0, 13)):02d}-{draw(st.integers(0, 32)):02d}"
    if draw(st.booleans()):
        return date
    clock = f"{draw(st.integers(0, 24)):02d}:{draw(st.integers(0, 60)):02d}:{draw(st.integers(0, 60)):02d}"
    frac = draw(st.sampled_from(["", ".", "."]))
    if frac:
        frac += draw(_digits(1, 9))
    zone = draw(
        st.sampled_from(
            ["", "Z", "z", "+00:00", "-05:00", "+0530", "+02", " UTC", " America/New_York", " +01:00", "X"]
        )
    )
    return date + draw(st.sampled_from(["T", " ", "t", "  "])) + clock + frac + zone


@st.composite
def _epoch(draw: st.DrawFn) -> str:
    """Seconds, milli-, micro- or nanoseconds around the accepted range, or any run of digits."""
    seconds = draw(st.integers(5 * 10**8, 5 * 10**9))
    scale = draw(st.sampled_from([1, 10, 100, 1000, 10**4, 10**5, 10**6, 10**7, 10**9]))
    whole = draw(st.one_of(st.just(str(seconds * scale + draw(st.integers(0, scale - 1)))), _digits(7, 18)))
    return whole + ("." + draw(_digits(0, 8)) if draw(st.booleans()) else "")


@st.composite
def _compact(draw: st.DrawFn) -> str:
    stamp = draw(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
    text = stamp.strftime("%Y%m%d%H%M%S")
    return text + draw(st.sampled_from(["", ".1", ".12", ".123", ".1234", "Z", ".0Z"]))


@st.composite
def _formatted(draw: st.DrawFn) -> str:
    stamp = draw(st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2110, 1, 1)))
    fmt = draw(
        st.sampled_from(
            [
                "%a, %d %b %Y %H:%M:%S +0000",
                "%a, %d %b %Y %H:%M:%S -0700",
                "%d/%b/%Y:%H:%M:%S +0000",
                "%d/%b/%Y:%H:%M:%S +0200",
                "%Y/%m/%d %H:%M:%S",
                "%m/%d/%Y %H:%M:%S",
                "%d/%m/%Y %H:%M:%S",
                "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S +0100",
                "%Y-%m-%dT%H:%M:%S.%f+0000",
                "%Y-%m-%dT%H:%M:%S.%f%%",
                "%b %d %Y %H:%M:%S",
            ]
        )
    )
    return stamp.strftime(fmt)


RAW = st.one_of(
    _iso(),
    _epoch(),
    _compact(),
    _formatted(),
    st.text(max_size=30),
    st.text("0123456789.-:TZ +/", max_size=30),
    st.sampled_from(["", " ", "infinity", "-infinity", "epoch", "now", "today", "null", "0", "NaN"]),
)


@st.composite
def _padded(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 30)) == 0:
        return None
    return draw(WS) + draw(RAW) + draw(WS)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with Store(":memory:") as store:
        store.con.execute(REFERENCE)
        yield store.con


def _differences(con: duckdb.DuckDBPyConnection, values: list[str | None]) -> list[tuple[object, ...]]:
    rows = con.execute(
        "SELECT s, ref_ts(s), nw_ts(s) FROM unnest(CAST(? AS VARCHAR[])) t(s) "
        "WHERE ref_ts(s) IS DISTINCT FROM nw_ts(s)",
        [values],
    ).fetchall()
    return rows


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_padded(), min_size=1, max_size=40))
def test_nw_ts_matches_the_reference_on_generated_times(
    con: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    assert _differences(con, values) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_padded(), min_size=1, max_size=40))
def test_the_two_steps_mappings_take_are_nw_ts(
    con: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    """A mapping cleans the raw time a level below and parses the clean text (``compile_mapping``)."""
    rows = con.execute(
        "SELECT s FROM (SELECT s, nw_ts_clean(s) AS c FROM unnest(CAST(? AS VARCHAR[])) t(s)) "
        "WHERE nw_ts_of_clean(c) IS DISTINCT FROM nw_ts(s)",
        [values],
    ).fetchall()
    assert rows == []


def test_nw_ts_matches_the_reference_on_seen_times(con: duckdb.DuckDBPyConnection) -> None:
    padded = [p + s + q for s in SEEN for p, q in (("", ""), (" ", ""), ("", "  "), ("\u00a0", "\u3000"))]
    assert _differences(con, padded) == []
    parsed = con.execute("SELECT count(nw_ts(s)) FROM unnest(CAST(? AS VARCHAR[])) t(s)", [padded]).fetchall()
    assert parsed == [(len(padded),)]  # every seen spelling parses: the comparison above compared times


def test_nw_ts_matches_the_reference_at_every_epoch_length(con: duckdb.DuckDBPyConnection) -> None:
    """Runs of 7 to 18 digits, bare and with fractions: the lengths that choose seconds, milliseconds, the
    compact form or microseconds, and their neighbours."""
    runs = [lead + "0" * (n - 1) for n in range(7, 19) for lead in ("1", "7")] + ["1999" + "0" * 10]
    values = [r + frac for r in runs for frac in ("", ".", ".5", ".123", ".1234", ".1234567")]
    assert _differences(con, values) == []


def test_nw_ts_keeps_its_edges(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute(
        "SELECT nw_ts('1990-01-01'), nw_ts('1989-12-31 23:59:59.999999'), nw_ts('2100-01-01'),"
        " nw_ts('2100-01-01 00:00:00.000001'), nw_ts(' 1776383471 '), nw_ts(NULL), nw_ts('infinity')"
    ).fetchall()[0]
    assert got == (
        datetime(1990, 1, 1),
        None,
        datetime(2100, 1, 1),
        None,
        datetime(2026, 4, 16, 23, 51, 11),
        None,
        None,
    )
