"""Slack: admin.apps.uninstall with the collector's token; Slack's ``ok: false`` is a failure, not a success."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.response.base import ActionFailed
from nhiwatch.response.registry import build
from nhiwatch.response.slack_apps import UninstallApp, web_api
from tests.response.conftest import connection, targets

TOKEN = "xoxp-1234567890-abcdefghijklmnop"


def _action(httpserver: HTTPServer, enterprise: str | None = "E0123ABCD") -> Any:
    conn = connection(
        {"slack": {"base_url": httpserver.url_for("").rstrip("/")}}, {"NHIWATCH_SLACK_TOKEN": TOKEN}
    )
    return build(
        "slack.uninstall_app",
        targets("slack", {"app_id": "A0ABCDEF12"}),
        conn,
        slack_enterprise_id=enterprise,
    )


def test_uninstall_posts_app_and_enterprise(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/api/admin.apps.uninstall",
        method="POST",
        data="app_id=A0ABCDEF12&enterprise_id=E0123ABCD",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).respond_with_json({"ok": True})
    action = _action(httpserver)
    assert "A0ABCDEF12" in action.describe() and "E0123ABCD" in action.describe()
    assert "uninstalled" in action.execute().message
    httpserver.check_assertions()


def test_ok_false_is_a_failure_with_slacks_word(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/admin.apps.uninstall").respond_with_json(
        {"ok": False, "error": "missing_scope"}
    )
    with pytest.raises(ActionFailed, match=r"missing_scope.*admin\.apps:write"):
        _action(httpserver).execute()


def test_without_an_enterprise_it_says_what_to_set(httpserver: HTTPServer) -> None:
    with pytest.raises(ActionFailed, match="slack_enterprise_id"):
        _action(httpserver, enterprise=None).describe()


def test_web_api_beside_the_audit_api() -> None:
    assert web_api("https://api.slack.com") == "https://slack.com/api"
    assert web_api("http://127.0.0.1:9999") == "http://127.0.0.1:9999/api"
    assert UninstallApp.target(targets("slack", {"app_id": "A0/../x"})) is None
