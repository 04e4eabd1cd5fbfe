"""One-click response through the API: off by default, admin only, a confirmation bound to alert, action
and user, every attempt in the audit log, idempotent, and a vendor's refusal an answer (never a 500, never
a token)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from nhiwatch.response.config import ResponseConfig
from tests.server.conftest import Company, auth, make_app
from tests.server.respond_fixtures import GITHUB_TOKEN, PAT, PAT_PATH, release_alert, response_app

ACTION = "github.revoke_pat"


@pytest.fixture
def rapp(
    company: Company, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FastAPI]:
    monkeypatch.setenv("NHIWATCH_GITHUB_TOKEN", GITHUB_TOKEN)
    app = response_app(company, tmp_path, httpserver, worker_enabled=False)
    yield app
    app.state.nw.close()


@pytest.fixture
def rclient(rapp: FastAPI) -> TestClient:
    return TestClient(rapp, base_url="http://127.0.0.1")


def _url(alert_id: str, action: str = ACTION) -> str:
    return f"/api/v1/alerts/{alert_id}/actions/{action}"


def _audit(client: TestClient, company: Company) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", headers=auth(company.tokens["admin"]))
    assert r.status_code == 200
    return list(r.json()["entries"])


def _expect_revoke(httpserver: HTTPServer, status: int = 204, body: Any = "") -> None:
    handler = httpserver.expect_oneshot_request(
        PAT_PATH,
        method="POST",
        json={"action": "revoke"},
        headers={"Authorization": f"Bearer {GITHUB_TOKEN}"},
    )
    if isinstance(body, dict):
        handler.respond_with_json(body, status=status)
    else:
        handler.respond_with_data(body, status=status)


def test_disabled_by_default_refuses_with_a_clear_403(
    app: FastAPI, client: TestClient, company: Company
) -> None:
    alert_id = release_alert(app)
    r = client.post(_url(alert_id), headers=auth(company.tokens["admin"]))
    assert r.status_code == 403
    assert "response: {enabled: true}" in r.json()["detail"]
    listing = client.get(f"/api/v1/alerts/{alert_id}/actions", headers=auth(company.tokens["admin"])).json()
    assert listing["enabled"] is False and listing["actions"] == []
    rows = _audit(client, company)
    assert rows[0]["event"] == "refused" and rows[0]["actor"] == "admin-1"


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins(
    rapp: FastAPI, rclient: TestClient, company: Company, role: str, httpserver: HTTPServer
) -> None:
    alert_id = release_alert(rapp)
    r = rclient.post(_url(alert_id), headers=auth(company.tokens[role]))
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert (
        rclient.get(f"/api/v1/alerts/{alert_id}/actions", headers=auth(company.tokens[role])).status_code
        == 403
    )
    assert not httpserver.log


def test_confirm_then_execute_records_every_step(
    rapp: FastAPI, rclient: TestClient, company: Company, httpserver: HTTPServer, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    alert_id = release_alert(rapp)
    admin = auth(company.tokens["admin"])
    offered = rclient.get(f"/api/v1/alerts/{alert_id}/actions", headers=admin).json()
    assert [a["id"] for a in offered["actions"]] == [ACTION] and offered["actions"][0]["object"] == PAT
    first = rclient.post(_url(alert_id), headers=admin)
    assert first.status_code == 200
    step = first.json()
    assert step["state"] == "confirm" and PAT in step["description"] and "acme" in step["description"]
    assert not httpserver.log  # nothing is done before the confirmation
    _expect_revoke(httpserver)
    second = rclient.post(_url(alert_id), headers=admin, json={"nonce": step["nonce"]})
    assert second.status_code == 200, second.text
    assert second.json()["state"] == "succeeded" and PAT in second.json()["message"]
    httpserver.check_assertions()
    rows = _audit(rclient, company)
    assert [r["event"] for r in rows[:3]] == ["succeeded", "confirmed", "requested"]
    assert all(r["actor"] == "admin-1" and r["action"] == ACTION and r["object"] == PAT for r in rows[:3])
    assert all(r["alert_id"] == alert_id for r in rows[:3])
    everything = first.text + second.text + str(rows) + caplog.text
    assert GITHUB_TOKEN not in everything


def test_repeating_a_success_says_it_was_done(
    rapp: FastAPI, rclient: TestClient, company: Company, httpserver: HTTPServer
) -> None:
    alert_id = release_alert(rapp)
    admin = auth(company.tokens["admin"])
    _expect_revoke(httpserver)
    nonce = rclient.post(_url(alert_id), headers=admin).json()["nonce"]
    assert rclient.post(_url(alert_id), headers=admin, json={"nonce": nonce}).json()["state"] == "succeeded"
    again = rclient.post(_url(alert_id), headers=admin)
    assert again.status_code == 200
    assert again.json()["state"] == "already_done" and "admin-1" in again.json()["message"]
    assert len(httpserver.log) == 1  # the vendor was called once
    assert _audit(rclient, company)[0]["event"] == "already_done"


def test_no_wrong_reused_or_expired_nonce_runs_anything(
    rapp: FastAPI, rclient: TestClient, company: Company, httpserver: HTTPServer
) -> None:
    alert_id = release_alert(rapp)
    admin = auth(company.tokens["admin"])
    nonce = rclient.post(_url(alert_id), headers=admin).json()["nonce"]
    wrong = rclient.post(_url(alert_id), headers=admin, json={"nonce": "not-the-nonce"})
    assert wrong.status_code == 403 and "no valid confirmation" in wrong.json()["detail"]
    other_action = rclient.post(
        _url(alert_id, "okta.revoke_app_tokens"), headers=admin, json={"nonce": nonce}
    )
    assert other_action.status_code == 403
    reused = rclient.post(
        _url(alert_id), headers=admin, json={"nonce": nonce}
    )  # consumed by the attempt above
    assert reused.status_code == 403
    late = rclient.post(_url(alert_id), headers=admin).json()["nonce"]
    confirmations = rapp.state.nw.responder.confirmations
    now = confirmations.clock()
    confirmations.clock = lambda: now + 121  # the default confirmation lives 120 s
    assert rclient.post(_url(alert_id), headers=admin, json={"nonce": late}).status_code == 403
    assert not httpserver.log
    assert {r["event"] for r in _audit(rclient, company)} == {"requested", "refused"}


def test_a_nonce_is_bound_to_its_user(
    rapp: FastAPI, rclient: TestClient, company: Company, httpserver: HTTPServer
) -> None:
    from nhiwatch.server.tokens import create_token

    with rapp.state.nw.db() as store:
        other = create_token(store, "admin-2", "admin")
    alert_id = release_alert(rapp)
    nonce = rclient.post(_url(alert_id), headers=auth(company.tokens["admin"])).json()["nonce"]
    r = rclient.post(_url(alert_id), headers=auth(other), json={"nonce": nonce})
    assert r.status_code == 403 and not httpserver.log


def test_a_vendor_refusal_is_an_answer_without_the_token(
    rapp: FastAPI, rclient: TestClient, company: Company, httpserver: HTTPServer, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    alert_id = release_alert(rapp)
    admin = auth(company.tokens["admin"])
    _expect_revoke(
        httpserver, 403, {"message": f"Resource not accessible by integration (Bearer {GITHUB_TOKEN})"}
    )
    nonce = rclient.post(_url(alert_id), headers=admin).json()["nonce"]
    r = rclient.post(_url(alert_id), headers=admin, json={"nonce": nonce})
    assert r.status_code == 502
    body = r.json()
    assert body["state"] == "failed" and body["vendor_status"] == 403
    assert "permission" in body["message"]
    row = _audit(rclient, company)[0]
    assert row["event"] == "failed" and row["status"] == 403
    assert GITHUB_TOKEN not in r.text + str(row) + caplog.text
    # a failure is not a success: asking again offers the confirmation again
    assert rclient.post(_url(alert_id), headers=admin).json()["state"] == "confirm"


def test_allow_list_unknown_and_manual_actions(
    company: Company, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIWATCH_GITHUB_TOKEN", GITHUB_TOKEN)
    app = response_app(
        company,
        tmp_path,
        httpserver,
        ResponseConfig(enabled=True, actions=("okta.deactivate_app",)),
        worker_enabled=False,
    )
    try:
        client = TestClient(app, base_url="http://127.0.0.1")
        admin = auth(company.tokens["admin"])
        alert_id = release_alert(app)
        r = client.post(_url(alert_id), headers=admin)
        assert r.status_code == 403 and "allow list" in r.json()["detail"]
        assert client.post(_url(alert_id, "github.delete_everything"), headers=admin).status_code == 404
        manual = client.post(_url(alert_id, "github.suspend_installation"), headers=admin)
        assert manual.status_code == 400 and "private key" in manual.json()["detail"]
        assert client.post(_url("no-such-alert", "okta.deactivate_app"), headers=admin).status_code == 404
        # the release bot's alert names no Okta app: nothing to act on
        assert client.post(_url(alert_id, "okta.deactivate_app"), headers=admin).status_code == 409
    finally:
        app.state.nw.close()


def test_missing_collector_settings_are_a_clear_refusal(
    company: Company, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NHIWATCH_GITHUB_ORG", raising=False)
    app = make_app(company, tmp_path, response=ResponseConfig(enabled=True), worker_enabled=False)
    with app.state.nw.db() as store:
        store.execute("UPDATE integrations SET kind = 'pat' WHERE id = 'release-bot'")
        store.execute(
            "INSERT INTO identities (integration_id, source, key, value, priority) VALUES ('release-bot', 'github', 'token_id', ?, 1)",
            [PAT],
        )
    try:
        client = TestClient(app, base_url="http://127.0.0.1")
        r = client.post(_url(release_alert(app)), headers=auth(company.tokens["admin"]))
        assert r.status_code == 409 and "org" in r.json()["detail"]
    finally:
        app.state.nw.close()


def test_console_forms_need_an_admin_session_and_csrf(
    rapp: FastAPI, company: Company, httpserver: HTTPServer
) -> None:
    from tests.server.test_console import csrf_of, signed_in

    alert_id = release_alert(rapp)
    url = f"/alerts/{alert_id}/actions/{ACTION}"
    admin = signed_in(rapp, company.tokens["admin"])
    page = admin.get(f"/alerts/{alert_id}").text
    assert f'data-action="{ACTION}"' in page and 'href="/audit"' in page
    assert admin.post(url, data={"csrf": "forged"}).status_code == 403
    analyst = signed_in(rapp, company.tokens["analyst"])
    analyst_page = analyst.get(f"/alerts/{alert_id}").text
    assert "action-button" not in analyst_page and 'href="/audit"' not in analyst_page
    assert analyst.post(url, data={"csrf": csrf_of(analyst_page)}).status_code == 403
    assert analyst.get("/audit").status_code == 403
    confirm = admin.post(url, data={"csrf": csrf_of(page)})
    assert confirm.status_code == 200 and PAT in confirm.text and 'id="confirm-action-button"' in confirm.text
    assert not httpserver.log
    _expect_revoke(httpserver, 403, {"message": "Resource not accessible by personal access token"})
    nonce = re.search(r'name="nonce" value="([^"]+)"', confirm.text)
    assert nonce
    failed = admin.post(url, data={"csrf": csrf_of(page), "nonce": nonce.group(1)})
    assert failed.status_code == 502 and "Not done" in failed.text and "HTTP 403" in failed.text
    assert GITHUB_TOKEN not in failed.text
    audit_page = admin.get("/audit").text
    assert "failed" in audit_page and ACTION in audit_page and GITHUB_TOKEN not in audit_page


def test_response_off_shows_the_guidance_alone(app: FastAPI, company: Company) -> None:
    from tests.server.test_console import signed_in

    admin = signed_in(app, company.tokens["admin"])
    alert_id = release_alert(app)
    page = admin.get(f"/alerts/{alert_id}").text
    assert 'id="response"' in page and "action-button" not in page and "Manual:" not in page


def test_a_step_no_api_can_take_is_marked_manual(company: Company, tmp_path: Path) -> None:
    """The release bot as declared (a GitHub App): suspending its installation needs the App's own key."""
    from tests.server.test_console import signed_in

    app = make_app(company, tmp_path, response=ResponseConfig(enabled=True), worker_enabled=False)
    try:
        page = signed_in(app, company.tokens["admin"]).get(f"/alerts/{release_alert(app)}").text
        assert "Manual: suspending an installation" in page and "action-button" not in page
    finally:
        app.state.nw.close()
