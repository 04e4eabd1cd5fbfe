"""Microsoft Graph: removePassword and deleting consent grants, with the collector's Graph token."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.response.base import ActionFailed
from nhiwatch.response.graph_grants import DeleteGrants
from nhiwatch.response.graph_password import RemovePassword
from tests.response.conftest import connection, no_secret_logged, targets

SP = "5e2a9d1c-0b7f-4c1e-9a3d-2f6b8c4e1a70"
KEY = "f0b0b335-1d71-4883-8f98-567911bfdca6"
GRAPH_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.graph-token-value"
TENANT = "7a1c0e2b-3d4f-4a5b-8c6d-9e0f1a2b3c4d"


def _conn(httpserver: HTTPServer) -> Any:
    settings = {"tenant_id": TENANT, "client_id": "11111111-2222-3333-4444-555555555555"}
    settings["base_url"] = httpserver.url_for("").rstrip("/")
    return connection({"microsoft": settings}, {}, microsoft=lambda refresh: GRAPH_TOKEN)


def _sp(**seen: str) -> Any:
    return targets("microsoft", seen={"actor_user_uid": SP, **seen}, kind="service_principal")


def test_remove_password_posts_the_key_id(httpserver: HTTPServer, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_oneshot_request(
        f"/v1.0/servicePrincipals/{SP}/removePassword",
        method="POST",
        json={"keyId": KEY},
        headers={"Authorization": f"Bearer {GRAPH_TOKEN}"},
    ).respond_with_data("", status=204)
    action = RemovePassword(_sp(actor_user_credential_uid=KEY), _conn(httpserver))
    assert KEY in action.describe() and SP in action.describe()
    assert KEY in action.execute().message
    httpserver.check_assertions()
    no_secret_logged(caplog, GRAPH_TOKEN)


def test_remove_password_needs_both_the_principal_and_the_key() -> None:
    assert RemovePassword.target(_sp()) is None
    assert RemovePassword.target(_sp(actor_user_credential_uid="not-a-guid")) is None


def test_a_missing_key_is_a_clear_failure(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        f"/v1.0/servicePrincipals/{SP}/removePassword", method="POST"
    ).respond_with_json(
        {"error": {"code": "Request_ResourceNotFound", "message": "No password credential found"}}, status=404
    )
    with pytest.raises(ActionFailed) as err:
        RemovePassword(_sp(actor_user_credential_uid=KEY), _conn(httpserver)).execute()
    assert err.value.status == 404 and "removed already" in str(err.value)
    assert GRAPH_TOKEN not in str(err.value)


def test_delete_grants_lists_then_deletes_each(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/v1.0/oauth2PermissionGrants",
        method="GET",
        query_string={"$filter": f"clientId eq '{SP}'"},
        headers={"Authorization": f"Bearer {GRAPH_TOKEN}"},
    ).respond_with_json({"value": [{"id": "grant-A_1"}, {"id": "grant-B_2"}, {"id": "../evil"}]})
    for grant in ("grant-A_1", "grant-B_2"):
        httpserver.expect_oneshot_request(
            f"/v1.0/oauth2PermissionGrants/{grant}", method="DELETE"
        ).respond_with_data("", status=204)
    outcome = DeleteGrants(_sp(), _conn(httpserver)).execute()
    httpserver.check_assertions()
    assert outcome.count == 2 and "2 delegated consent grant(s)" in outcome.message


def test_no_grants_left_is_said_plainly(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1.0/oauth2PermissionGrants", method="GET").respond_with_json({"value": []})
    outcome = DeleteGrants(_sp(), _conn(httpserver)).execute()
    assert outcome.count == 0 and "no delegated consent grants" in outcome.message
