"""One-click response in headless Chromium: an admin clicks the step's action, reads the confirmation,
confirms, sees the result, and finds it in the audit log; a viewer sees the steps but no button.

The GitHub API is a local fake (pytest-httpserver); the page fixture refuses any request off the console's
own server, so the browser never reaches it: the server does, with the collector's token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.server.conftest import Company, Live, serve
from tests.server.respond_fixtures import GITHUB_TOKEN, PAT, PAT_PATH, response_app
from tests.server.test_browser import browser, open_release_alert, page, sign_in

__all__ = ["browser", "page"]  # fixtures, used by name
pytestmark = pytest.mark.browser


@pytest.fixture
def live(
    company: Company, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    """The live server of test_browser, with response on and the release bot's PAT declared."""
    monkeypatch.setenv("NHIWATCH_GITHUB_TOKEN", GITHUB_TOKEN)
    yield from serve(response_app(company, tmp_path, httpserver, worker_interval=0.5))


def test_admin_revokes_the_token_from_the_alert_page(
    page: Any, company: Company, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(
        PAT_PATH,
        method="POST",
        json={"action": "revoke"},
        headers={"Authorization": f"Bearer {GITHUB_TOKEN}"},
    ).respond_with_data("", status=204)
    sign_in(page, company.tokens["admin"])
    alert_id = open_release_alert(page)
    button = page.locator('#response button.action-button[data-action="github.revoke_pat"]')
    assert button.is_visible()
    button.click()
    page.wait_for_url(f"**/alerts/{alert_id}/actions/github.revoke_pat")
    dialog = page.locator("#confirm-action")
    assert dialog.is_visible()
    description = page.locator("#action-description").inner_text()
    assert PAT in description and "acme" in description
    assert not httpserver.log  # shown, not done
    page.click("#confirm-action-button")
    page.locator("#action-result").wait_for()
    assert "Done" in page.locator("#action-result h1").inner_text()
    assert PAT in page.locator("#action-message").inner_text()
    httpserver.check_assertions()
    page.click("#audit-link")
    page.wait_for_url("**/audit")
    rows = page.locator("#audit tbody tr")
    assert [rows.nth(i).locator("td.event").inner_text() for i in range(3)] == [
        "succeeded",
        "confirmed",
        "requested",
    ]
    assert "admin-1" in rows.first.inner_text() and "github.revoke_pat" in rows.first.inner_text()
    assert GITHUB_TOKEN not in page.content()


def test_viewer_sees_no_action_button(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["viewer"])
    open_release_alert(page)
    assert page.locator("#response ol.contain li").count() >= 1
    assert page.locator("#response button.action-button").count() == 0
