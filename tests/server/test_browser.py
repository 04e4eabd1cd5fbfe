"""End to end in headless Chromium against a real server: sign in, see an integration's charts drawn by
the vendored Vega (no network), open an alert and see its evidence drawn against the baseline (the alert's
window highlighted, its hours marked) and the response steps, mark it benign or malicious and undo it, and
open the HTML report in the console and as a file.

Debian's ``chromium`` is used (``make browser-deps``); Playwright never downloads a browser. Without
Chromium the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from nhiwatch.outputs import report_html
from nhiwatch.store import Store
from tests.server import data
from tests.server.conftest import Company, Live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        msg = "Chromium not found at /usr/bin/chromium: run `make browser-deps` (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(base_url=live.url)
    pg = context.new_page()
    outside: list[str] = []
    # the console must work offline: any request off the loopback server is a failure
    pg.route("**/*", lambda route: _only_local(route, live.url, outside))
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    # Vega reports a chart it cannot lay out (e.g. unparsable times) as a console warning
    pg.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    yield pg
    context.close()
    assert not outside, f"requests left the server: {outside}"
    assert not errors, f"errors in the page: {errors}"


def _only_local(route: Any, base: str, outside: list[str]) -> None:
    if route.request.url.startswith(base):
        route.continue_()
    else:
        outside.append(route.request.url)
        route.abort()


def sign_in(page: Any, token: str) -> None:
    page.goto("/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/alerts")


def test_integration_page_draws_its_charts(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["viewer"])
    page.goto("/integrations")
    page.click("text=Release bot")
    page.wait_for_url("**/integrations/release-bot")
    for name in ("volume", "heatmap", "destinations"):
        chart = page.locator(f"#chart-{name}")
        chart.locator("svg, canvas").first.wait_for(state="attached", timeout=20_000)
        assert chart.get_attribute("data-rendered") == "true"
        assert chart.locator("svg .mark-rect, svg .mark-symbol, svg path").count() > 0


def test_alert_marked_benign_leaves_the_queue(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["analyst"])
    row = page.locator("tr[data-alert]", has_text="Release bot").first
    alert_id = row.get_attribute("data-alert")
    row.locator("td a").first.click()
    page.wait_for_url(f"**/alerts/{alert_id}")
    assert page.locator("pre.explanation").inner_text().strip()
    assert page.locator("#alert-status").inner_text().startswith("open")
    page.fill("textarea[name=note]", "release day, expected")
    page.click("#mark-benign")
    assert "will not alert again" in page.locator("#teaches").inner_text()  # it says what it teaches
    page.click("#confirm-benign")
    page.wait_for_url("**/alerts?done=*")
    assert "marked benign" in page.locator("#flash").inner_text()
    assert page.locator(f"tr[data-alert='{alert_id}']").count() == 0
    page.goto(f"/alerts/{alert_id}")
    assert page.locator("#alert-status").inner_text().startswith("benign")
    page.click("#undo")  # and back: the verdict and its allowance are taken back
    page.wait_for_url(f"**/alerts/{alert_id}")
    assert page.locator("#alert-status").inner_text().startswith("open")


def test_htmx_triage_removes_the_row_in_place(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["analyst"])
    rows = page.locator("tr[data-alert]")
    before = rows.count()
    first = rows.first
    alert_id = first.get_attribute("data-alert")
    first.locator("button[value=malicious]").click()
    page.locator(f"tr[data-alert='{alert_id}']").wait_for(state="detached", timeout=10_000)
    assert page.url.endswith("/alerts")  # no navigation: htmx swapped the row out
    assert rows.count() == before - 1


INJECTED = (
    "() => document.querySelectorAll('img[src=x], script:not([src]):not([type=\"application/json\"])').length"
)


def test_crafted_log_field_cannot_run_script(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["viewer"])
    page.goto("/integrations/discovered:github:actor:mystery[bot]")
    page.locator("#chart-destinations svg").wait_for(state="attached", timeout=20_000)
    assert page.title() != "pwned" and page.evaluate(INJECTED) == 0
    drawn = page.locator("#chart-destinations").inner_html().replace("&lt;", "<").replace("&gt;", ">")
    assert "<script>document" in drawn  # drawn as text in the chart
    hrefs = []
    for queue in ("/alerts?status=", "/posture?status="):
        page.goto(queue)
        hrefs += page.locator("tr[data-alert] td a[href^='/alerts/']").evaluate_all(
            "els => els.map(e => e.href)"
        )
    for href in hrefs:
        page.goto(href)
        assert page.title() != "pwned" and page.evaluate(INJECTED) == 0
    assert data.XSS  # the payload the fixture company carries in a repository name


def open_release_alert(page: Any) -> str:
    row = page.locator("tr[data-alert]", has_text="Release bot").first
    alert_id = str(row.get_attribute("data-alert"))
    row.locator("td a").first.click()
    page.wait_for_url(f"**/alerts/{alert_id}")
    return alert_id


def drawn(page: Any, name: str) -> Any:
    chart = page.locator(f"#chart-{name}")
    chart.locator("svg").first.wait_for(state="attached", timeout=20_000)
    page.wait_for_function(
        f"document.querySelector('#chart-{name}').dataset.rendered === 'true'", timeout=20_000
    )
    return chart


def test_alert_page_draws_the_evidence_against_the_baseline(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["viewer"])
    open_release_alert(page)
    volume = drawn(page, "volume")
    # the alert window is drawn as a highlighted band over the hours, on the baseline's usual range
    assert volume.locator("g.alert_window_marks path").count() == 1
    assert volume.locator("g.baseline_band_marks path").count() == 1
    assert volume.locator("g.hourly_marks path").count() > 10
    heat = drawn(page, "heatmap")
    assert heat.locator("g.alert_hours_marks path").count() >= 1  # the alert's local hours marked
    assert "UTC" in heat.inner_text()  # the zone is named
    novelty = drawn(page, "novelty")
    assert novelty.locator("g.new_values_marks path").count() >= 1
    assert "198.51.100.0/24" in page.locator("table.new-values").inner_text()
    cards = page.locator("article.card")
    assert cards.count() >= 2
    assert "Clones the payments repository" in page.locator("section.cards p.context").inner_text()
    assert cards.first.locator("dd.why").inner_text().strip()


def test_response_steps_are_on_the_alert_page(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["viewer"])
    open_release_alert(page)
    response = page.locator("#response")
    assert response.is_visible()
    assert "platform@acme.example" in response.locator("p.contact").inner_text()
    steps = response.locator("ol.contain li")
    assert steps.count() >= 1 and steps.first.is_visible()
    assert response.locator("ul.investigate li").count() >= 1


def test_triage_malicious_then_undo_on_the_alert_page(page: Any, company: Company) -> None:
    sign_in(page, company.tokens["analyst"])
    alert_id = open_release_alert(page)
    page.fill("textarea[name=note]", "not ours: the address is unknown")
    page.click("#mark-malicious")
    page.wait_for_url("**/alerts?done=*")
    assert "marked malicious" in page.locator("#flash").inner_text()
    page.click("#flash #undo")  # undo from the message
    page.wait_for_url(f"**/alerts/{alert_id}")
    assert page.locator("#alert-status").inner_text().startswith("open")
    drawn(page, "volume")  # the page after the undo draws its evidence again


def test_report_renders_in_the_console_and_as_a_file(page: Any, company: Company, tmp_path: Any) -> None:
    sign_in(page, company.tokens["viewer"])
    page.click("header nav >> text=Report")
    page.wait_for_url("**/report")
    for name in ("severity", "timeline", "a1"):
        drawn(page, name)
    assert page.locator("section.alert-item").count() >= 1
    # the file the CLI and the demo write: self-contained, no request leaves it, no console error
    shutil.copy(company.db, tmp_path / "copy.duckdb")
    with Store(tmp_path / "copy.duckdb") as store:
        path = report_html.write(store, tmp_path / "report.html")
    context = page.context.browser.new_context()
    try:
        pg = context.new_page()
        problems: list[str] = []
        pg.on("pageerror", lambda exc: problems.append(str(exc)))
        pg.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        pg.on("request", lambda r: None if r.url.startswith("file:") else problems.append(r.url))
        pg.goto(path.as_uri())
        pg.wait_for_function(
            "[...document.querySelectorAll('div.chart')].every(c => c.dataset.rendered === 'true')",
            timeout=30_000,
        )
        assert pg.locator("div.chart svg").count() == pg.locator("div.chart").count() >= 3
        assert not problems, problems
    finally:
        context.close()
