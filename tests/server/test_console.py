"""The console over HTTP: sign-in cookie flags, CSRF on every state change, autoescaping of everything
that came from a log, redaction in pages, and triage through a form."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch.server.auth import SESSION_COOKIE
from tests.server import data
from tests.server.conftest import Company


def signed_in(app: FastAPI, token: str, base_url: str = "http://127.0.0.1") -> TestClient:
    c = TestClient(app, base_url=base_url)
    r = c.post("/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    return c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def test_sign_in_sets_a_strict_http_only_cookie(app: FastAPI, company: Company) -> None:
    c = TestClient(app, base_url="http://127.0.0.1")
    r = c.post("/login", data={"token": company.tokens["viewer"]}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert company.tokens["viewer"] not in cookie
    https = TestClient(app, base_url="https://127.0.0.1")
    r = https.post("/login", data={"token": company.tokens["viewer"]}, follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]
    bad = c.post("/login", data={"token": "nhw_wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text


def test_pages_render_for_a_viewer(app: FastAPI, company: Company) -> None:
    c = signed_in(app, company.tokens["viewer"])
    for path in ("/alerts", "/integrations", "/integrations/release-bot", "/alerts?status=&severity=high"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert "Traceback" not in r.text
    page = c.get("/integrations").text
    assert 'class="ownerless' in page and "discovered" in page and "no owner" in page
    integ = c.get("/integrations/release-bot").text
    for name in ("volume", "heatmap", "destinations"):
        assert f'id="chart-{name}"' in integ and f'<script type="application/json" id="spec-{name}">' in integ
    assert 'name="verdict"' not in c.get("/alerts").text  # a viewer gets no triage buttons
    assert c.get("/integrations/nope").status_code == 404
    assert c.get("/alerts/nope").status_code == 404


def test_log_content_is_escaped_and_redacted(app: FastAPI, company: Company) -> None:
    c = signed_in(app, company.tokens["viewer"])
    mystery = "discovered:github:actor:mystery[bot]"
    pages = [c.get(f"/integrations/{mystery}").text]
    alerts = c.get("/alerts").text + c.get("/posture").text
    ids = re.findall(r'data-alert="([^"]+)"', alerts)
    pages += [c.get(f"/alerts/{i}").text for i in ids]
    joined = "\n".join(pages)
    assert "&lt;script&gt;document.title" in joined  # shown, as text
    assert "<script>document.title" not in joined and "<img src=x" not in joined
    assert data.LEAKED not in joined and "[REDACTED]" in joined
    # chart specs are JSON in a data block: '<' is escaped so the block cannot be closed early
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', joined, re.S):
        assert "<" not in block


def test_triage_form_needs_csrf_and_an_analyst(app: FastAPI, company: Company) -> None:
    viewer = signed_in(app, company.tokens["viewer"])
    analyst = signed_in(app, company.tokens["analyst"])
    queue = analyst.get("/alerts").text
    alert_id = re.findall(r'data-alert="([^"]+)"', queue)[0]
    url = f"/alerts/{alert_id}/triage"
    assert analyst.post(url, data={"verdict": "benign"}).status_code == 403  # no CSRF token
    assert analyst.post(url, data={"verdict": "benign", "csrf": "forged"}).status_code == 403
    token = csrf_of(queue)
    assert viewer.post(url, data={"verdict": "benign", "csrf": token}).status_code == 403
    # Benign teaches an allowance: first a confirmation saying what and until when, then a note is required
    ask = analyst.post(url, data={"verdict": "benign", "csrf": token}, follow_redirects=False)
    assert ask.status_code == 200 and "will not alert again" in ask.text and "A note is required" in ask.text
    assert alert_id in analyst.get("/alerts").text  # nothing changed yet
    no_note = {"verdict": "benign", "csrf": token, "confirm": "yes"}
    assert analyst.post(url, data=no_note, follow_redirects=False).status_code == 400
    r = analyst.post(url, data={**no_note, "note": "release day"}, follow_redirects=False)
    assert r.status_code == 303
    done = analyst.get(r.headers["location"]).text
    assert "marked benign" in done and "will not alert again until" in done and 'id="undo"' in done
    assert f'data-alert="{alert_id}"' not in done
    assert alert_id in analyst.get("/alerts?status=benign").text
    # Undo: the alert is back in the queue and its allowance is gone
    back = analyst.post(f"/alerts/{alert_id}/undo", data={"csrf": token}, follow_redirects=False)
    assert back.status_code == 303
    assert f'data-alert="{alert_id}"' in analyst.get("/alerts").text
    assert "undid benign" in analyst.get(f"/alerts/{alert_id}").text
    # htmx: the row is replaced by nothing; the CSRF token travels in a header
    other = re.findall(r'data-alert="([^"]+)"', analyst.get("/alerts").text)[0]
    r = analyst.post(
        f"/alerts/{other}/triage",
        data={"verdict": "malicious"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert r.status_code == 200 and r.text == ""


def test_admin_suppresses_from_the_alert_page_and_signs_out(app: FastAPI, company: Company) -> None:
    admin = signed_in(app, company.tokens["admin"])
    queue = admin.get("/posture?integration=sync-bot").text  # sync-bot has no owner: a posture finding
    alert_id = re.findall(r'data-alert="([^"]+)"', queue)[0]
    page = admin.get(f"/alerts/{alert_id}").text
    assert "Suppress because" in page
    r = admin.post(
        f"/alerts/{alert_id}/suppress",
        data={"reason": "owner on leave", "expires": "2099-12-31", "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "suppressed" in admin.get(f"/alerts/{alert_id}").text
    r = admin.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert admin.get("/alerts", follow_redirects=False).status_code == 401


def test_revoking_a_token_ends_its_sessions(app: FastAPI, company: Company) -> None:
    c = signed_in(app, company.tokens["analyst"])
    assert c.get("/alerts").status_code == 200
    with app.state.nw.db() as store:
        store.execute("UPDATE api_tokens SET revoked_at = now() WHERE name = 'analyst-1'")
    assert c.get("/alerts").status_code == 401
