"""A server with one-click response on, its GitHub collector pointed at a fake API, and the release bot
declared as a fine-grained PAT (token id 4242) so its alerts offer ``github.revoke_pat``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pytest_httpserver import HTTPServer

from nhiwatch.response.config import ResponseConfig
from tests.server.conftest import Company, make_app

GITHUB_TOKEN = "ghs_" + "Respond1Token2Value3Four5Six7Eight9Ten"
PAT = "4242"
PAT_PATH = f"/orgs/acme/personal-access-tokens/{PAT}"


def response_app(
    company: Company,
    tmp_path: Path,
    httpserver: HTTPServer,
    config: ResponseConfig | None = None,
    **settings: Any,
) -> FastAPI:
    app = make_app(
        company,
        tmp_path,
        response=config or ResponseConfig(enabled=True),
        collectors={"github": {"org": "acme", "base_url": httpserver.url_for("").rstrip("/")}},
        **settings,
    )
    with app.state.nw.db() as store:
        store.execute("UPDATE integrations SET kind = 'pat' WHERE id = 'release-bot'")
        store.execute(
            "INSERT INTO identities (integration_id, source, key, value, priority) VALUES (?, ?, ?, ?, ?)",
            ["release-bot", "github", "token_id", PAT, 1],
        )
    return app


def release_alert(app: FastAPI) -> str:
    with app.state.nw.reader() as store:
        rows = store.fetchall(
            "SELECT alert_id FROM alerts WHERE integration_id = 'release-bot' AND kind = 'behaviour' "
            "ORDER BY risk_score DESC LIMIT 1"
        )
    assert rows, "the fixture company has a behaviour alert for the release bot"
    return str(rows[0][0])
