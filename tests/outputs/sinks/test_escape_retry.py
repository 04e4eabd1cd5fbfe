"""The small pure pieces: escaping per format, backoff with jitter, Retry-After, and their doctests."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nhiwatch.outputs.sinks import escape, retry
from nhiwatch.outputs.sinks.retry import Backoff, retry_after


@pytest.mark.parametrize("module", [escape, retry])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted and not result.failed


@given(st.text(max_size=200))
def test_slack_text_has_no_control_sequences(text: str) -> None:
    out = escape.slack(text)
    assert "<" not in out and ">" not in out
    assert out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").count("&") == 0


@given(st.text(max_size=200))
def test_html_text_has_no_markup(text: str) -> None:
    out = escape.html_text(text)
    assert not set("<>\"'") & set(out)


def test_secrets_are_masked_before_escaping() -> None:
    token = "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx"
    for fn in (escape.slack, escape.html_text, escape.cef_header, escape.cef_value):
        assert token not in fn(f"token={token}"), fn


@given(st.integers(1, 30), st.floats(0, 1))
def test_backoff_grows_and_stays_within_its_cap(attempt: int, r: float) -> None:
    b = Backoff(base=0.5, cap=20.0, rand=lambda: r)
    d = b.delay(attempt)
    step = min(20.0, 0.5 * 2 ** (attempt - 1))
    assert step / 2 <= d <= step
    assert b.delay(attempt, asked=100.0) == 100.0  # the receiver's Retry-After wins when longer


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
    assert retry_after("30") == 30.0
    assert retry_after("Mon, 01 Sep 2025 12:01:30 GMT", now) == 90.0
    assert retry_after("Mon, 01 Sep 2025 11:00:00 GMT", now) == 0.0  # in the past: now
    for bad in (None, "", "soon", "nan", "inf", "-5x"):
        assert retry_after(bad) is None, bad
    assert retry_after("-5") == 0.0
