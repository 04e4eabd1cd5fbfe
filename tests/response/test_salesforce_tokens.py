"""Salesforce: list the connected app's OauthToken rows, revoke each DeleteToken, never show one."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.response.base import ActionFailed
from nhiwatch.response.salesforce_tokens import RevokeAppTokens, soql_text
from tests.response.conftest import connection, no_secret_logged, targets

ACCESS = "00D5e000000abcd!AQ0AQHx.session-token-value"
DELETE_TOKENS = ["5Aep861secretDeleteTokenOne", "5Aep861secretDeleteTokenTwo"]


def _conn(httpserver: HTTPServer) -> Any:
    settings = {
        "base_url": httpserver.url_for("").rstrip("/"),
        "consumer_key": "3MVG9consumerkey",
        "username": "integration@acme.example",
    }
    return connection({"salesforce": settings}, {}, salesforce=lambda refresh: ACCESS)


def test_revokes_every_token_of_the_app(httpserver: HTTPServer, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    query = "SELECT DeleteToken FROM OauthToken WHERE AppName = 'Drift \\'Chat\\''"
    httpserver.expect_oneshot_request(
        "/services/data/v62.0/query", method="GET", query_string={"q": query},
        headers={"Authorization": f"Bearer {ACCESS}"},
    ).respond_with_json({"done": True, "records": [{"DeleteToken": t} for t in DELETE_TOKENS]})  # fmt: skip
    revoked: list[str] = []

    def revoke(request: Request) -> Response:
        assert "Authorization" not in request.headers  # the DeleteToken is the credential
        revoked.extend(parse_qs(request.get_data(as_text=True))["token"])
        return Response("", 200)

    httpserver.expect_request("/services/oauth2/revoke", method="POST").respond_with_handler(revoke)
    action = RevokeAppTokens(targets("salesforce", {"app_name": "Drift 'Chat'"}), _conn(httpserver))
    assert "Drift 'Chat'" in action.describe()
    outcome = action.execute()
    httpserver.check_assertions()
    assert revoked == DELETE_TOKENS
    assert outcome.count == 2 and not any(t in outcome.message for t in DELETE_TOKENS)
    no_secret_logged(caplog, ACCESS, *DELETE_TOKENS)


def test_a_failed_revocation_masks_the_delete_token(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/services/data/v62.0/query").respond_with_json(
        {"done": True, "records": [{"DeleteToken": DELETE_TOKENS[0]}]}
    )
    httpserver.expect_request("/services/oauth2/revoke").respond_with_json(
        {"error": "unsupported_token_type", "error_description": f"bad token {DELETE_TOKENS[0]}"}, status=400
    )
    with pytest.raises(ActionFailed) as err:
        RevokeAppTokens(targets("salesforce", {"app_name": "Drift"}), _conn(httpserver)).execute()
    assert err.value.status == 400 and DELETE_TOKENS[0] not in str(err.value)


def test_soql_text_escapes_quotes_and_backslashes() -> None:
    assert soql_text("a'b\\c") == "'a\\'b\\\\c'"
