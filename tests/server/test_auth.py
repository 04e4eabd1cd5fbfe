"""Every route refuses a missing, wrong, expired, revoked or insufficient token; routes are enumerated from
the app, so a route added later without a :class:`Require` dependency fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from nhiwatch.server.auth import SESSION_COOKIE, Require
from nhiwatch.server.tokens import ROLES
from tests.server.conftest import Company, auth

# The only routes anyone may call: liveness and the sign-in form itself.
PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login")}


def requirement(route: APIRoute) -> Require | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, through included routers (newer FastAPI keeps them as ``_IncludedRouter``)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            assert not r.include_context.prefix, "routers carry their own prefix"
            yield from api_routes(r.original_router.routes)


def routes(app: FastAPI) -> list[tuple[str, str, Require]]:
    out = []
    for r in api_routes(app.routes):
        for method in sorted(r.methods):
            if (method, r.path) in PUBLIC:
                continue
            req = requirement(r)
            assert req is not None, f"{method} {r.path} has no Require(...) dependency"
            out.append((method, re.sub(r"\{[^}]+\}", "x", r.path), req))
    return out


def test_every_route_but_health_and_sign_in_requires_a_role(app: FastAPI) -> None:
    found = routes(app)
    assert len(found) >= 20
    paths = {p for _, p, _ in found}
    assert {"/api/v1/alerts", "/api/v1/ingest", "/metrics", "/alerts", "/integrations/x"} <= paths


def test_api_routes_refuse_missing_wrong_expired_revoked_and_weaker_tokens(
    app: FastAPI, client: TestClient, company: Company
) -> None:
    bad = {
        "missing": {},
        "wrong": auth("nhw_not-a-real-token"),
        "not bearer": {"Authorization": f"Basic {company.tokens['admin']}"},
        "expired": auth(company.tokens["expired"]),
        "revoked": auth(company.tokens["revoked"]),
    }
    app.state.nw.limiter.per_minute = 10_000  # this test makes many failed attempts on purpose
    for method, path, req in routes(app):
        if req.console:
            continue
        for why, headers in bad.items():
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401, f"{method} {path} with {why} token: {r.status_code}"
            assert "traceback" not in r.text.lower()
        for weaker in ROLES[: ROLES.index(req.role)]:
            r = client.request(method, path, headers=auth(company.tokens[weaker]))
            assert r.status_code == 403, f"{method} {path} as {weaker}: {r.status_code}"


def test_console_routes_refuse_missing_wrong_and_weaker_sessions(
    app: FastAPI, client: TestClient, company: Company
) -> None:
    app.state.nw.limiter.per_minute = 10_000
    sessions = {}
    for role in ROLES:
        c = TestClient(app, base_url="http://127.0.0.1")
        assert (
            c.post("/login", data={"token": company.tokens[role]}, follow_redirects=False).status_code == 303
        )
        sessions[role] = c.cookies[SESSION_COOKIE]
    for method, path, req in routes(app):
        if not req.console:
            continue
        client.cookies.clear()
        r = client.request(method, path, follow_redirects=False)
        assert r.status_code == 401, f"{method} {path} without a session: {r.status_code}"
        client.cookies.set(SESSION_COOKIE, "forged-session-id")
        r = client.request(method, path, follow_redirects=False)
        assert r.status_code == 401, f"{method} {path} with a forged session: {r.status_code}"
        # an API token is not a session: the console ignores Authorization headers
        client.cookies.clear()
        r = client.request(method, path, headers=auth(company.tokens["admin"]), follow_redirects=False)
        assert r.status_code == 401, f"{method} {path} with only a bearer token: {r.status_code}"
        for weaker in ROLES[: ROLES.index(req.role)]:
            client.cookies.set(SESSION_COOKIE, sessions[weaker])
            r = client.request(method, path, follow_redirects=False)
            assert r.status_code == 403, f"{method} {path} as {weaker}: {r.status_code}"
        client.cookies.clear()


def test_health_is_public_and_discloses_nothing(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and set(r.json()) == {"status", "store", "worker"}


def test_repeated_failures_from_one_ip_are_rate_limited_but_a_valid_token_signs_in(
    client: TestClient, company: Company
) -> None:
    codes = [client.get("/api/v1/alerts", headers=auth(f"nhw_guess{i}")).status_code for i in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]
    r = client.get("/api/v1/alerts", headers=auth(f"nhw_guess{99}"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # the same address (a proxy, a shared shipper host) with a valid token is not locked out
    assert client.get("/api/v1/alerts", headers=auth(company.tokens["admin"])).status_code == 200
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "n", "role": "viewer"}, headers=auth(company.tokens["admin"])
        ).status_code
        == 201
    )
    r = client.post("/login", data={"token": company.tokens["viewer"]}, follow_redirects=False)
    assert r.status_code == 303
    assert client.post("/login", data={"token": "nhw_wrong"}).status_code == 429


def test_tokens_are_stored_hashed_and_revocation_takes_effect(client: TestClient, company: Company) -> None:
    admin = auth(company.tokens["admin"])
    r = client.post("/api/v1/tokens", json={"name": "ci-reader", "role": "viewer"}, headers=admin)
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("nhw_") and len(token) > 40
    state = client.app.state.nw  # type: ignore[attr-defined]
    with state.db() as store:
        rows = store.fetchall("SELECT * FROM api_tokens")
    assert all(token not in str(row) for row in rows)
    listed = client.get("/api/v1/tokens", headers=admin).json()["tokens"]
    assert {"ci-reader", "old-admin", "gone-admin"} <= {t["name"] for t in listed}
    assert all("digest" not in t and "token" not in t for t in listed)
    assert {t["name"]: t["state"] for t in listed}["old-admin"] == "expired"
    assert client.get("/api/v1/alerts", headers=auth(token)).status_code == 200
    assert client.delete("/api/v1/tokens/ci-reader", headers=admin).status_code == 200
    assert client.get("/api/v1/alerts", headers=auth(token)).status_code == 401
    assert client.delete("/api/v1/tokens/ci-reader", headers=admin).status_code == 404


@pytest.mark.parametrize("body", [{"name": "x y", "role": "viewer"}, {"name": "ok", "role": "root"}])
def test_bad_token_requests_are_refused(client: TestClient, company: Company, body: dict[str, str]) -> None:
    r = client.post("/api/v1/tokens", json=body, headers=auth(company.tokens["admin"]))
    assert r.status_code in (400, 422)


def test_large_form_bodies_are_refused_before_parsing(client: TestClient) -> None:
    r = client.post(
        "/login",
        content=b"token=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
