"""Properties of the shared HTTP client over arbitrary answers: whatever the body and rate-limit headers,
a page fetch returns records or raises a CollectError with a message, never anything else; waits are
finite and never negative."""

from __future__ import annotations

import math

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.sources.collect.base import Window
from nhiwatch.sources.collect.errors import CollectError
from nhiwatch.sources.collect.http import HttpClient, RetryPolicy, next_link
from nhiwatch.sources.collect.ratelimit import asked_wait
from nhiwatch.sources.okta.collector import SystemLog
from tests.collectors.fakes import NOW, NOW_EPOCH

header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ).map(lambda v: httpx.Response(200, json=v).content),
)


@settings(max_examples=200, deadline=None)
@given(
    retry_after=header_text
    | st.sampled_from(["inf", "-inf", "nan", "1e400", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    reset=header_text | st.sampled_from(["inf", "nan", "-1e400", "99999999999"]),
)
def test_asked_wait_is_none_or_a_finite_non_negative_number(retry_after: str, reset: str) -> None:
    wait = asked_wait(httpx.Headers({"Retry-After": retry_after, "X-Rate-Limit-Reset": reset}), NOW_EPOCH)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


@settings(max_examples=200, deadline=None)
@given(link=header_text)
def test_next_link_never_raises(link: str) -> None:
    from nhiwatch.sources.collect.http import Reply

    got = next_link(Reply(200, httpx.Headers({"Link": link}), b"", "https://acme.okta.com/api/v1/logs"))
    assert got is None or isinstance(got, str)


@settings(max_examples=150, deadline=None)
@given(
    status=st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 500, 503]),
    body=bodies,
    link=header_text,
    retry_after=header_text,
)
def test_a_page_fetch_gives_records_or_a_collect_error(
    status: int, body: bytes, link: str, retry_after: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Link": link, "Retry-After": retry_after})

    sleeps: list[float] = []
    client = HttpClient(
        "https://acme.okta.com",
        transport=httpx.MockTransport(answer),
        policy=RetryPolicy(attempts=3),
        sleep=sleeps.append,
        clock=lambda: NOW_EPOCH,
        rng=lambda: 0.5,
    )
    stream = SystemLog("acme.okta.com", 100)
    try:
        page = stream.fetch(client, Window(NOW, NOW), None)
    except CollectError as exc:
        assert str(exc)
    else:
        assert isinstance(page.records, list)
        if page.next_cursor is not None:  # followed only if it stays on the org's host
            try:
                assert client.url(page.next_cursor).startswith("https://acme.okta.com/")
            except CollectError as exc:
                assert "another host" in str(exc)
    finally:
        client.close()
    assert all(math.isfinite(s) and 0 <= s <= RetryPolicy().max_wait + 1 for s in sleeps)
