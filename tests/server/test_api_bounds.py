"""Out-of-range values get a 4xx with a reason, never a 500: the values issue 8 found (an offset past
BIGINT, times in year 1 with an offset or in year 9999, deeply nested JSON bodies), then a hypothesis fuzz
of every API route's query and body that asserts no answer is 5xx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Company, auth, make_app

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)


def lenient(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)


@pytest.fixture(scope="module")
def fuzz_app(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for the whole module (hypothesis runs many examples); limits high enough not to hide a 5xx."""
    application = make_app(
        company, tmp_path_factory.mktemp("fuzz"), auth_failures_per_minute=10**6, pushes_per_minute=10**6
    )
    yield application
    application.state.nw.close()


def an_alert(client: TestClient, company: Company) -> str:
    r = client.get("/api/v1/alerts", headers=auth(company.tokens["viewer"]))
    return str(r.json()["alerts"][0]["alert_id"])


def refused(r: Any, *words: str) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    for w in words:
        assert w in r.text, r.text


# --- the values issue 8 found --------------------------------------------------------------------------


def test_offset_past_bigint_and_times_out_of_range(client: TestClient, company: Company) -> None:
    v = auth(company.tokens["viewer"])
    c = lenient(client.app)  # type: ignore[arg-type]
    refused(c.get("/api/v1/alerts", params={"offset": "9223372036854775808"}, headers=v), "offset")
    for t in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01", "9999-12-31"):
        refused(c.get("/api/v1/alerts", params={"since": t}, headers=v), "since", "out of range")
        refused(c.get("/api/v1/alerts", params={"until": t}, headers=v), "until", "out of range")
    assert (
        c.get("/api/v1/alerts", params={"since": "2025-09-01T00:00:00+02:00"}, headers=v).status_code == 200
    )


@pytest.mark.parametrize("expires", ["0001-01-01T00:00:00+01:00", "0001-01-01", "9999-12-31T23:00:00-01:00"])
def test_token_and_suppression_expiry_out_of_range(
    client: TestClient, company: Company, expires: str
) -> None:
    c = lenient(client.app)  # type: ignore[arg-type]
    admin = auth(company.tokens["admin"])
    r = c.post("/api/v1/tokens", json={"name": "far", "role": "viewer", "expires": expires}, headers=admin)
    refused(r, "expires", "out of range")
    alert = an_alert(c, company)
    r = c.post(f"/api/v1/alerts/{alert}/suppress", json={"reason": "x", "expires": expires}, headers=admin)
    refused(r, "expires", "out of range")


def test_console_suppression_expiry_out_of_range(app: FastAPI, company: Company) -> None:
    c = lenient(app)
    assert (
        c.post("/login", data={"token": company.tokens["admin"]}, follow_redirects=False).status_code == 303
    )
    alert = an_alert(c, company)
    page = c.get(f"/alerts/{alert}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    for expires in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00"):
        r = c.post(
            f"/alerts/{alert}/suppress", data={"reason": "x", "expires": expires, "csrf": token.group(1)}
        )
        refused(r, "out of range")


def deep(depth: int) -> bytes:
    return ('{"verdict": "benign", "note": ' + "[" * depth + "]" * depth + "}").encode()


def test_deeply_nested_json_bodies_on_every_json_route(client: TestClient, company: Company) -> None:
    c = lenient(client.app)  # type: ignore[arg-type]
    alert = an_alert(c, company)
    routes = [
        (f"/api/v1/alerts/{alert}/triage", company.tokens["analyst"]),
        (f"/api/v1/alerts/{alert}/suppress", company.tokens["admin"]),
        ("/api/v1/tokens", company.tokens["admin"]),
    ]
    for url, token in routes:
        for depth in (65, 20_000):
            r = c.post(url, content=deep(depth), headers={**auth(token), "content-type": "application/json"})
            refused(r, "nested deeper than 64")
    assert c.post(routes[0][0], content=deep(3), headers=auth(company.tokens["analyst"])).status_code == 422


# --- fuzz: no 5xx from any route ----------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
OFFSETS = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)))
TIMES = (
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.none() | OFFSETS
    ).map(lambda t: t.isoformat())
    | st.text(max_size=40)
    | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:00", "2025-13-01", "now", ""])
)
INTS = st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(max_size=20)
TEXT = st.text(max_size=60)
NESTED = st.integers(min_value=1, max_value=5000).map(lambda d: "[" * d + "]" * d)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@FUZZ
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            k: s
            for k, s in {
                "status": TEXT | st.sampled_from(["open", "benign"]),
                "severity": TEXT,
                "integration": TEXT,
                "detector": TEXT,
                "kind": TEXT,
                "since": TIMES,
                "until": TIMES,
                "limit": INTS,
                "offset": INTS,
            }.items()
        },
    )
)
def test_fuzz_alert_list_query(fuzz_app: FastAPI, company: Company, params: dict[str, str]) -> None:
    r = lenient(fuzz_app).get("/api/v1/alerts", params=params, headers=auth(company.tokens["viewer"]))
    assert r.status_code < 500, r.text


@FUZZ
@given(ident=TEXT.filter(lambda s: s not in ("", ".", "..")))
def test_fuzz_ids_in_paths(fuzz_app: FastAPI, company: Company, ident: str) -> None:
    c = lenient(fuzz_app)
    ident = quote(ident, safe="")
    v = auth(company.tokens["viewer"])
    for url in ("/api/v1/alerts/{}", "/api/v1/integrations/{}", "/api/v1/integrations/{}/baseline"):
        r = c.get(url.format(ident), headers=v)
        assert r.status_code < 500, (url, r.text)
    r = c.delete(f"/api/v1/tokens/{ident}", headers=auth(company.tokens["admin"]))
    assert r.status_code < 500, r.text


def body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Objects with the route's fields (each any JSON, or a plausible value), or any JSON at all."""
    return st.fixed_dictionaries({}, optional={k: s | JSON for k, s in fields.items()}) | JSON


def send(c: TestClient, url: str, token: str, payload: Any, nested: str | None) -> Any:
    content = json.dumps(payload).encode() if nested is None else nested.encode()
    return c.post(url, content=content, headers={**auth(token), "content-type": "application/json"})


@FUZZ
@given(
    payload=body({"verdict": st.sampled_from(["benign", "malicious"]), "note": TEXT}),
    nested=maybe(NESTED),
)
def test_fuzz_triage_body(fuzz_app: FastAPI, company: Company, payload: Any, nested: str | None) -> None:
    c = lenient(fuzz_app)
    r = send(c, f"/api/v1/alerts/{an_alert(c, company)}/triage", company.tokens["analyst"], payload, nested)
    assert r.status_code < 500, r.text


@FUZZ
@given(payload=body({"reason": TEXT, "expires": TIMES, "owner": TEXT}), nested=maybe(NESTED))
def test_fuzz_suppress_body(fuzz_app: FastAPI, company: Company, payload: Any, nested: str | None) -> None:
    c = lenient(fuzz_app)
    r = send(c, f"/api/v1/alerts/{an_alert(c, company)}/suppress", company.tokens["admin"], payload, nested)
    assert r.status_code < 500, r.text


@FUZZ
@given(
    payload=body({"name": TEXT, "role": st.sampled_from(["viewer", "admin"]), "expires": TIMES}),
    nested=maybe(NESTED),
)
def test_fuzz_token_body(fuzz_app: FastAPI, company: Company, payload: Any, nested: str | None) -> None:
    r = send(lenient(fuzz_app), "/api/v1/tokens", company.tokens["admin"], payload, nested)
    assert r.status_code < 500, r.text


@FUZZ
@given(raw=st.binary(max_size=300) | NESTED.map(str.encode) | JSON.map(lambda v: json.dumps(v).encode()))
def test_fuzz_push_and_inventory_bodies(fuzz_app: FastAPI, company: Company, raw: bytes) -> None:
    c = lenient(fuzz_app)
    r = c.post("/api/v1/ingest", content=raw, headers=auth(company.tokens["analyst"]))
    assert r.status_code < 500, r.text
    r = c.post("/api/v1/inventory/reload", content=raw, headers=auth(company.tokens["admin"]))
    assert r.status_code < 500, r.text


@FUZZ
@given(token=st.text(max_size=300), expires=TIMES, reason=TEXT)
def test_fuzz_console_forms(
    fuzz_app: FastAPI, company: Company, token: str, expires: str, reason: str
) -> None:
    c = lenient(fuzz_app)
    assert c.post("/login", data={"token": token}).status_code < 500
    assert (
        c.post("/login", data={"token": company.tokens["admin"]}, follow_redirects=False).status_code == 303
    )
    alert = an_alert(c, company)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(f"/alerts/{alert}").text)
    assert csrf is not None
    r = c.post(
        f"/alerts/{alert}/suppress", data={"reason": reason, "expires": expires, "csrf": csrf.group(1)}
    )
    assert r.status_code < 500, r.text
    r = c.post(f"/alerts/{alert}/triage", data={"verdict": reason, "note": reason, "csrf": csrf.group(1)})
    assert r.status_code < 500, r.text
    params = {"status": reason, "severity": reason, "integration": token[:50], "detector": expires}
    assert c.get("/alerts", params=params).status_code < 500
    assert c.get(f"/integrations/{quote(reason, safe='') or 'x'}").status_code < 500


def test_fuzz_app_store_is_still_writable(fuzz_app: FastAPI) -> None:
    """After every fuzz example above, the store still takes writes."""
    assert lenient(fuzz_app).get("/healthz").status_code == 200
