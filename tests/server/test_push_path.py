"""The small-push path: a Bearer token verified seconds ago is not looked up again (a revocation or the
token's expiry still refuses it at once), an accepted push says where its time went, and a ticket written
but never renamed (a crash before the commit point) is dropped at start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nhiwatch.server import auth as auth_module
from nhiwatch.server.tokens import Principal, VerifiedCache, now_utc
from tests.server.conftest import Company, auth, make_app


def test_a_verified_token_is_looked_up_once_until_a_revocation(
    client: TestClient, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = auth(company.tokens["admin"])
    token = client.post("/api/v1/tokens", json={"name": "shipper", "role": "analyst"}, headers=admin).json()[
        "token"
    ]
    lookups: list[str] = []
    real = auth_module.lookup_digest

    def counted(store: Any, presented: str) -> Any:
        lookups.append(presented)
        return real(store, presented)

    monkeypatch.setattr(auth_module, "lookup_digest", counted)
    for _ in range(3):
        assert client.get("/api/v1/alerts", headers=auth(token)).status_code == 200
    assert len(lookups) == 1
    assert client.delete("/api/v1/tokens/shipper", headers=admin).status_code == 200
    assert client.get("/api/v1/alerts", headers=auth(token)).status_code == 401


def test_a_cached_token_past_its_expiry_or_ttl_is_not_served() -> None:
    cache = VerifiedCache(ttl=60)
    who = Principal("ci", "analyst")
    cache.put("db", "d1", who, now_utc() - timedelta(seconds=1), cache.generation())
    assert cache.get("db", "d1") is None
    cache.put("db", "d2", who, None, cache.generation())
    assert cache.get("db", "d2") == who
    assert cache.get("other.db", "d2") is None  # another store's tokens are its own
    stale = cache.generation()
    cache.clear()  # a revocation between the lookup and the put: the result is not kept
    cache.put("db", "d3", who, None, stale)
    assert cache.get("db", "d3") is None
    short = VerifiedCache(ttl=0)
    short.put("db", "d4", who, None, short.generation())
    assert short.get("db", "d4") is None


@pytest.fixture
def running(company: Company, tmp_path: Path) -> Iterator[TestClient]:
    """A client whose app has its worker running: a push is then only accepted (202)."""
    app = make_app(company, tmp_path, worker_interval=0.2)
    app.state.nw.worker.start()
    try:
        yield TestClient(app, base_url="http://127.0.0.1")
    finally:
        app.state.nw.close()


def test_an_accepted_push_says_where_its_time_went(running: TestClient, company: Company) -> None:
    r = running.post("/api/v1/ingest", content=b'{"x": 1}\n', headers=auth(company.tokens["analyst"]))
    assert r.status_code == 202
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert set(parts) == {"auth", "body", "durable", "queue", "flush", "resume", "total"}
    assert all(float(v) >= 0 for v in parts.values())
    assert float(parts["total"]) >= float(parts["durable"])


def test_a_ticket_never_renamed_is_dropped_at_start(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path)
    spool = app.state.nw.intake.spool
    app.state.nw.close()
    # the crash came after both were flushed, before the renames: never acknowledged
    (spool.dir / "tmp-18ece63c6fe28561.log").write_bytes(b'{"a": 1}\n')
    (spool.dir / "tmp-18ece63c6fe28561.json").write_text('{"id": "18ece63c6fe28561"}')
    again = make_app(company, tmp_path)
    try:
        assert again.state.nw.intake.backlog()[0] == 0 and not list(spool.dir.iterdir())
    finally:
        again.state.nw.close()
