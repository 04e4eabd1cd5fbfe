"""The server file (:mod:`nhiwatch.server.local`) and its credential: private, only trusted when safely
ours and alive, accepted as admin only from this machine, never a stored token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch.server import local
from nhiwatch.server.tokens import digest
from tests.server.conftest import Company, auth


def test_the_file_is_private_replaced_whole_and_removed_only_by_its_writer(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    path = local.path_for(db)
    path.write_text("{stale}")
    credential = local.write(db, "http://127.0.0.1:8080")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = local.read(db)
    assert found == local.ServerFile(os.getpid(), "http://127.0.0.1:8080", credential)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    path.chmod(0o644)
    assert local.read(db) is None  # others could read it: not a credential to trust
    path.chmod(0o600)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_bytes(orjson.dumps({"pid": dead.pid, "url": "http://127.0.0.1:1", "credential": "x"}))
    assert local.read(db) is None  # a dead server's file is ignored
    local.remove(db)
    assert path.exists()  # not this process's file: left for its writer (or the next server) to replace
    for junk in (
        b"[]",
        b'{"pid": "1", "url": "http://x", "credential": "c"}',
        b'{"pid": 1, "url": "file:///etc"}',
    ):
        path.write_bytes(junk)
        assert local.read(db) is None


def test_url_for_a_wildcard_listener_goes_through_loopback() -> None:
    assert local.url_for("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert local.url_for("::", 8080) == "http://[::1]:8080"
    assert local.url_for("10.0.0.5", 81) == "http://10.0.0.5:81"


def test_the_local_credential_is_admin_from_loopback_only(app: FastAPI, company: Company) -> None:
    state = app.state.nw
    state.local_digest = digest("nhw_local_secret")
    here = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 5000))
    assert here.get("/api/v1/tokens", headers=auth("nhw_local_secret")).status_code == 200
    assert here.get("/api/v1/quarantine", headers=auth("nhw_local_secret")).status_code == 200
    assert here.get("/api/v1/tokens", headers=auth("nhw_local_wrong")).status_code == 401
    away = TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.9", 5000))
    assert away.get("/api/v1/tokens", headers=auth("nhw_local_secret")).status_code == 401
    assert "(local cli)" not in str(here.get("/api/v1/tokens", headers=auth(company.tokens["admin"])).json())
    viewer = here.get("/api/v1/quarantine", headers=auth(company.tokens["viewer"]))
    assert viewer.status_code == 403  # quarantined records are an admin's
    gaps = here.get("/api/v1/inventory/gaps", headers=auth(company.tokens["viewer"]))
    assert gaps.status_code == 200 and {g["gap"] for g in gaps.json()["gaps"]}
