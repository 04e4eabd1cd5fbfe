"""Every answer is hostile and every output a place a secret could leak: links to other hosts, endless
pagination, oversized or wrongly shaped bodies; credentials kept out of errors, logs and checkpoints."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect import registry
from nhiwatch.sources.collect.secrets import Secret, read_secret
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, collect, ids, serve
from tests.collectors.fakes import NOW, FakeOkta, okta_events, reply

TOKEN = "00Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0PpOoNnMm"
ENV = {"NHIWATCH_OKTA_API_TOKEN": TOKEN}
SINCE = NOW - timedelta(days=1)


def _okta(httpserver: HTTPServer, n: int = 150) -> tuple[FakeOkta, dict[str, str]]:
    fake = FakeOkta(token=TOKEN, events=okta_events(n))
    return fake, {"base_url": serve(httpserver, fake), "limit": "100"}


def test_a_next_link_to_another_host_is_refused_and_no_request_goes_there(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _okta(httpserver)
    fake.script[1] = reply(
        200, okta_events(3), {"Link": '<https://collector.evil.example/api/v1/logs?after=x>; rel="next"'}
    )
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error
    assert error and "refusing a link to another host (https://collector.evil.example)" in error
    assert len(fake.requests) == 1
    assert len(ids(store, "okta")) == 3  # the page itself was fine and is kept


def test_a_pagination_loop_ends_the_run(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    fake, settings = _okta(httpserver)
    loop = f'<{settings["base_url"]}/api/v1/logs?after=same>; rel="next"'
    for n in range(1, 5):
        fake.script[n] = reply(200, okta_events(2), {"Link": loop})
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error
    assert error and "pagination loop" in error
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"errorCode": "E0000001", "errorSummary": "odd"}, "did not answer a JSON array"),
        ("just a string", "did not answer a JSON array"),
    ],
)
def test_a_page_of_the_wrong_shape_is_a_clear_error(
    httpserver: HTTPServer, store: Store, clock: Clock, body: object, expected: str
) -> None:
    fake, settings = _okta(httpserver)
    fake.script[1] = reply(200, body)
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert expected in (report.streams[0].error or "")


def test_records_that_are_not_events_go_to_quarantine_and_the_rest_is_stored(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _okta(httpserver)
    good = okta_events(2)
    fake.script[1] = reply(200, [good[0], 42, {"uuid": "x", "published": "yesterday"}, good[1]])
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert report.streams[0].stored == 2 and report.streams[0].quarantined == 2
    assert store.scalar("SELECT count(*) FROM quarantine WHERE source = 'okta.system_log'") == 2


def test_an_oversized_response_is_refused(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    _fake, settings = _okta(httpserver)
    report = collect(store, "okta", settings, ENV, clock, since=SINCE, max_body=10_000)
    error = report.streams[0].error
    assert error and "larger than" in error


def test_secrets_never_reach_errors_logs_or_the_checkpoint_table(
    httpserver: HTTPServer, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake, settings = _okta(httpserver)
    echo = {"errorSummary": f"token SSWS {TOKEN} is not valid here"}
    fake.script.update(
        {1: reply(500, echo), 2: reply(503, raw=TOKEN.encode()), 3: reply(401, echo), 4: reply(401, echo)}
    )
    caplog.set_level(logging.DEBUG)
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error
    assert error and "HTTP 401" in error and "[redacted]" in error
    dumped = str(store.fetchall("SELECT * FROM collector_state")) + caplog.text + error
    assert TOKEN not in dumped
    collector = registry.build("okta", settings, env=ENV)
    try:
        assert TOKEN not in repr(collector) + str(collector.__dict__) + repr(collector.http.secrets)
    finally:
        collector.close()


def test_secret_is_not_shown_by_repr_str_or_format() -> None:
    s = Secret("NHIWATCH_X", "hunter2-hunter2")
    assert "hunter2" not in repr(s) + str(s) + f"{s}" + f"{s!r}" + f"{s}"
    assert s.reveal() == "hunter2-hunter2"


def test_a_credential_comes_from_the_variable_or_its_file(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("from-a-file\n")
    secret = read_secret("NHIWATCH_OKTA_API_TOKEN", {"NHIWATCH_OKTA_API_TOKEN_FILE": str(f)})
    assert secret is not None and secret.reveal() == "from-a-file"
    with pytest.raises(ConfigError, match="set one"):
        read_secret("T", {"T": "a", "T_FILE": str(f)})
    with pytest.raises(ConfigError, match="set T or T_FILE"):
        read_secret("T", {})
    with pytest.raises(ConfigError, match="cannot read"):
        read_secret("T", {"T_FILE": str(tmp_path / "missing")})


def test_settings_refuse_unknown_keys_and_never_take_a_credential() -> None:
    with pytest.raises(ConfigError) as err:
        registry.settings("okta", {"base_url": "https://acme.okta.com", "api_token": "s3cr3t-value"}, env={})
    assert "api_token (-o api_token): unknown setting" in str(err.value)
    assert "s3cr3t-value" not in str(err.value)
    with pytest.raises(ConfigError, match="base_url"):
        registry.settings("okta", {}, env={})
    with pytest.raises(ConfigError, match="no collector 'nope'"):
        registry.settings("nope", {}, env={})


def test_settings_come_from_the_environment_and_options_override_them() -> None:
    env = {"NHIWATCH_OKTA_BASE_URL": "https://env.okta.com", "NHIWATCH_OKTA_LIMIT": "500"}
    s = registry.settings("okta", {"limit": "200"}, env=env)
    assert (s.base_url, s.limit) == ("https://env.okta.com", 200)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "link",
    [
        "https://acme.okta.com@evil.example/api/v1/logs",
        "https://acme.okta.com\\@evil.example/",
        "https://evil.example/api/v1/logs",
        "http://acme.okta.com/api/v1/logs",
        "https://acme.okta.com:8443/api/v1/logs",
        "https://user:pw@acme.okta.com/api/v1/logs",
        "//evil.example/api/v1/logs",  # a network-path reference: another host
    ],
)
def test_links_off_the_api_origin_are_refused(link: str) -> None:
    from nhiwatch.sources.collect.errors import BadResponse
    from nhiwatch.sources.collect.http import HttpClient

    with HttpClient("https://acme.okta.com") as client, pytest.raises(BadResponse, match="refusing a link"):
        client.url(link)


def test_links_on_the_api_origin_resolve_like_a_browser() -> None:
    from nhiwatch.sources.collect.http import HttpClient

    with HttpClient("https://ghe.example/api/v3") as client:
        assert client.url("orgs/acme/audit-log") == "https://ghe.example/api/v3/orgs/acme/audit-log"
        assert client.url("/api/v3/orgs/a?after=1") == "https://ghe.example/api/v3/orgs/a?after=1"


def test_a_redirect_is_not_followed_so_the_credentials_stay_home(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _okta(httpserver)
    fake.script[1] = reply(302, {}, {"Location": "https://collector.evil.example/steal"})
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert (report.streams[0].error or "").startswith("HTTP 302 from")
    assert len(fake.requests) == 1
