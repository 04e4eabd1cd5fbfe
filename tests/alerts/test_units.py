"""Human units: examples an analyst reads, and properties over any number hypothesis can find."""

from __future__ import annotations

import doctest
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nhiwatch.alerts import units


def test_doctests() -> None:
    result = doctest.testmod(units)
    assert result.attempted > 10 and result.failed == 0


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999.4, "999 B"),
        (999.6, "1.0 KB"),
        (74_979.5, "75.0 KB"),
        (999_960, "1.0 MB"),  # not "1000.0 KB"
        (18_674_933, "18.7 MB"),
        (3_200_000_000, "3.2 GB"),
        (5e18, "5,000.0 PB"),
    ],
)
def test_size(n: float, text: str) -> None:
    assert units.size(n) == text


@pytest.mark.parametrize(
    ("observed", "usual", "of", "text"),
    [
        (39, 13, "the usual maximum", "3× the usual maximum"),
        (42, 10, "the usual", "4.2× the usual"),
        (1_000, 10, "the usual", "100× the usual"),
        (5, 0, "the usual", "where there is usually none"),
    ],
)
def test_ratio(observed: float, usual: float, of: str, text: str) -> None:
    assert units.ratio(observed, usual, of) == text


def test_local_time_names_its_zone_and_utc() -> None:
    winter = datetime(2026, 2, 3, 2, 12, tzinfo=UTC)
    assert units.local_time(winter, "Europe/Berlin") == "03:12 Europe/Berlin (02:12 UTC)"
    summer = datetime(2026, 7, 3, 2, 12, tzinfo=UTC)
    assert units.local_time(summer, "America/New_York") == "22:12 America/New_York (02:12 UTC)"
    assert units.local_time(summer, "America/New_York", with_date=True) == (
        "2026-07-02 22:12 America/New_York (2026-07-03 02:12 UTC)"
    )
    assert units.local_time(summer, "Not/AZone") == "02:12 UTC"
    assert units.local_time(summer.replace(tzinfo=None), "UTC") == "02:12 UTC"


@pytest.mark.parametrize(
    ("n", "noun", "text"),
    [
        (1, "resource", "1 resource"),
        (13, "resource", "13 resources"),
        (1, "prefix", "1 prefix"),
        (2, "prefix", "2 prefixes"),
        (0, "detection", "0 detections"),
        (3, "new address", "3 new addresses"),
        (2, "identity", "2 identities"),
        (1_000_000, "event", "1,000,000 events"),
        (1.2, "event", "1 event"),
    ],
)
def test_plural(n: float, noun: str, text: str) -> None:
    assert units.plural(n, noun) == text


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("egress burst", "an egress burst"),
        ("burst", "a burst"),
        ("unusual hour", "an unusual hour"),
        ("unique address", "a unique address"),
        ("hour", "an hour"),
        ("API key", "an API key"),
        ("SSO login", "an SSO login"),
        ("GitHub app", "a GitHub app"),
        ("8 MB export", "an 8 MB export"),
        ("18,000 row export", "an 18,000 row export"),
        ("110 row export", "a 110 row export"),
    ],
)
def test_article(phrase: str, text: str) -> None:
    assert units.article(phrase) == text


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (90, "1 minute 30 seconds"),
        (timedelta(days=1, seconds=5), "1 day"),
        (timedelta(hours=26), "1 day 2 hours"),
    ],
)
def test_duration(span: timedelta | float, text: str) -> None:
    assert units.duration(span) == text


finite = st.floats(min_value=-1e21, max_value=1e21, allow_nan=False)


@given(finite)
def test_size_reads_back_within_its_rounding(n: float) -> None:
    text = units.size(n)
    m = re.fullmatch(r"(-?)([\d,]+(?:\.\d)?) (B|KB|MB|GB|TB|PB)", text)
    assert m, text
    scale = 1000 ** (["B", "KB", "MB", "GB", "TB", "PB"].index(m.group(3)))
    back = float(m.group(2).replace(",", "")) * scale * (-1 if m.group(1) else 1)
    assert abs(back - n) <= 0.05 * scale + 0.5
    if m.group(3) not in ("B", "PB"):
        assert 1.0 <= float(m.group(2).replace(",", "")) < 1000


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_count_reads_back_exactly(n: int) -> None:
    text = units.count(n)
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*", text)
    assert int(text.replace(",", "")) == n


@given(
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(["resource", "prefix", "address", "day", "burst"]),
)
def test_plural_is_singular_only_for_one(n: int, noun: str) -> None:
    text = units.plural(n, noun)
    assert text.startswith(units.count(n) + " ")
    assert (text.split(" ", 1)[1] == noun) == (n == 1)
    assert "(s)" not in text


@given(st.floats(min_value=1e-3, max_value=1e9), st.floats(min_value=1e-3, max_value=1e9))
def test_ratio_reads_back(observed: float, usual: float) -> None:
    text = units.ratio(observed, usual)
    m = re.fullmatch(r"([\d,]+(?:\.\d)?)× the usual", text)
    assert m, text
    shown = float(m.group(1).replace(",", ""))
    factor = observed / usual
    assert abs(shown - factor) <= (0.05 if factor < 10 else 0.5) + 1e-9 * factor


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)))
def test_local_time_keeps_utc_and_zone(ts: datetime) -> None:
    text = units.local_time(ts, "Asia/Kolkata")
    assert text.endswith(f"({ts:%H:%M} UTC)")
    assert " Asia/Kolkata " in text
    assert text.startswith(f"{(ts.replace(tzinfo=UTC) + timedelta(hours=5, minutes=30)):%H:%M}")
