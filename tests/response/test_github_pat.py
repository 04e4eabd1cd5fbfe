"""GitHub: revoking a fine-grained PAT's access posts the documented body with the collector's token."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.response.base import ActionFailed
from nhiwatch.response.github_pat import RevokePat
from tests.response.conftest import connection, no_secret_logged, targets

TOKEN = "ghs_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"


def _conn(httpserver: HTTPServer) -> Any:
    base = httpserver.url_for("").rstrip("/")
    return connection({"github": {"org": "acme", "base_url": base}}, {"NHIWATCH_GITHUB_TOKEN": TOKEN})


def test_revoke_pat_posts_revoke_for_the_exact_token(httpserver: HTTPServer, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_oneshot_request(
        "/orgs/acme/personal-access-tokens/4242",
        method="POST",
        json={"action": "revoke"},
        headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
    ).respond_with_data("", status=204)
    action = RevokePat(targets("github", {"token_id": "4242"}), _conn(httpserver))
    words = action.describe()
    assert "4242" in words and "acme" in words and "Payments sync" in words
    assert "4242" in action.execute().message
    httpserver.check_assertions()
    no_secret_logged(caplog, TOKEN)


def test_a_classic_owner_token_is_refused_with_a_clear_message(httpserver: HTTPServer, caplog: Any) -> None:
    httpserver.expect_request("/orgs/acme/personal-access-tokens/4242", method="POST").respond_with_json(
        {"message": "Resource not accessible by personal access token"}, status=403
    )
    with pytest.raises(ActionFailed) as err:
        RevokePat(targets("github", {"token_id": "4242"}), _conn(httpserver)).execute()
    assert err.value.status == 403
    assert "permission" in str(err.value) and TOKEN not in str(err.value)
    no_secret_logged(caplog, TOKEN)


@pytest.mark.parametrize("value", ["4242/../../user", "abc", "ghp_secret", "1" * 19, ""])
def test_only_a_numeric_token_id_is_offered(value: str) -> None:
    assert RevokePat.target(targets("github", {"token_id": value})) is None


def test_the_hashed_token_of_a_classic_pat_is_not_an_id() -> None:
    hashed = "Qf4mUB0bqc1l1Fs1/ZyBgYLlvF9ehdxJ7Zxc7P4uGNo="
    assert RevokePat.target(targets("github", seen={"actor_user_credential_uid": hashed})) is None
