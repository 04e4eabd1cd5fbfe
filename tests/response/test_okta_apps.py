"""Okta actions against a fake org: the exact method, path and credential, and no credential in a message."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.response.base import ActionFailed
from nhiwatch.response.okta_apps import DeactivateApp, RevokeAppTokens
from tests.response.conftest import connection, no_secret_logged, targets

APP = "0oa1b2c3d4e5f6G7h8I9"
TOKEN = "00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcd"


def _okta(httpserver: HTTPServer) -> Any:
    return connection(
        {"okta": {"base_url": httpserver.url_for("").rstrip("/")}}, {"NHIWATCH_OKTA_API_TOKEN": TOKEN}
    )


def test_revoke_app_tokens_sends_delete_with_the_api_token(httpserver: HTTPServer, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_oneshot_request(
        f"/api/v1/apps/{APP}/tokens", method="DELETE", headers={"Authorization": f"SSWS {TOKEN}"}
    ).respond_with_data("", status=204)
    action = RevokeAppTokens(targets("okta", {"client_id": APP}), _okta(httpserver))
    assert APP in action.describe() and "DELETE /api/v1/apps/" in action.describe()
    outcome = action.execute()
    httpserver.check_assertions()
    assert APP in outcome.message
    no_secret_logged(caplog, TOKEN)


def test_deactivate_app_posts_the_lifecycle_call(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        f"/api/v1/apps/{APP}/lifecycle/deactivate", method="POST", headers={"Authorization": f"SSWS {TOKEN}"}
    ).respond_with_json({})
    action = DeactivateApp(targets("okta", seen={"actor_app_uid": APP}), _okta(httpserver))
    assert "Deactivate the Okta app " + APP in action.describe()
    assert "deactivated" in action.execute().message
    httpserver.check_assertions()


def test_a_refusal_names_the_status_and_never_the_token(httpserver: HTTPServer, caplog: Any) -> None:
    body = {"errorCode": "E0000006", "errorSummary": f"You do not have permission (SSWS {TOKEN})"}
    httpserver.expect_request(f"/api/v1/apps/{APP}/tokens", method="DELETE").respond_with_json(
        body, status=403
    )
    with pytest.raises(ActionFailed) as err:
        RevokeAppTokens(targets("okta", {"client_id": APP}), _okta(httpserver)).execute()
    assert err.value.status == 403
    assert "permission" in str(err.value) and TOKEN not in str(err.value)
    no_secret_logged(caplog, TOKEN)


def test_service_app_asks_for_the_apps_scope(httpserver: HTTPServer) -> None:
    """With the collector's private key, the token request asks for okta.apps.manage (not logs.read)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    seen: dict[str, Any] = {}

    def token(request: Request) -> Response:
        seen.update(parse_qs(request.get_data(as_text=True)))
        return Response(
            '{"access_token": "at-123456789", "expires_in": 3600}', content_type="application/json"
        )

    httpserver.expect_request("/oauth2/v1/token", method="POST").respond_with_handler(token)
    httpserver.expect_oneshot_request(
        f"/api/v1/apps/{APP}/tokens", method="DELETE", headers={"Authorization": "Bearer at-123456789"}
    ).respond_with_data("", status=204)
    conn = connection(
        {"okta": {"base_url": httpserver.url_for("").rstrip("/"), "client_id": "0oaCollector123"}},
        {"NHIWATCH_OKTA_PRIVATE_KEY": pem},
    )
    RevokeAppTokens(targets("okta", {"client_id": APP}), conn).execute()
    httpserver.check_assertions()
    assert seen["scope"] == ["okta.apps.manage"]
    assert seen["grant_type"] == ["client_credentials"]


@pytest.mark.parametrize(
    "value",
    [f"{APP}/../users", f"../{APP}", "0oa", "0oa1b2c3d4e5f6?x=1", f"{APP}%2F..", "", "00u1b2c3d4e5f6G7h8I9"],
)
def test_an_id_without_oktas_shape_is_never_offered(value: str) -> None:
    assert RevokeAppTokens.target(targets("okta", seen={"actor_app_uid": value})) is None


def test_another_vendors_alert_offers_no_okta_action() -> None:
    assert RevokeAppTokens.target(targets("github", {"client_id": APP})) is None
