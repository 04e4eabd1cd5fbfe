"""Fixtures for the server tests: a small scored store (built once), an app over a copy of it, tokens
for every role, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch.detection import run_detection
from nhiwatch.pipeline import ingest_all
from nhiwatch.server.app import create_app
from nhiwatch.server.state import ServerState, Settings
from nhiwatch.server.tokens import create_token
from nhiwatch.store import Store
from tests.server import data


@dataclass
class Company:
    db: Path
    tokens: dict[str, str]  # viewer, analyst, admin, expired, revoked


@pytest.fixture(scope="session")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    folder = tmp_path_factory.mktemp("company")
    logs, inv = data.write_company(folder)
    db = folder / "company.duckdb"
    tokens: dict[str, str] = {}
    with Store(db) as store:
        ingest_all(store, [logs], inventory=inv)
        run_detection(store)
        for role in ("viewer", "analyst", "admin"):
            tokens[role] = create_token(store, f"{role}-1", role)
        tokens["expired"] = create_token(store, "old-admin", "admin")
        store.execute("UPDATE api_tokens SET expires_at = TIMESTAMP '2020-01-01' WHERE name = 'old-admin'")
        tokens["revoked"] = create_token(store, "gone-admin", "admin")
        store.execute("UPDATE api_tokens SET revoked_at = TIMESTAMP '2020-01-01' WHERE name = 'gone-admin'")
        store.execute("CHECKPOINT")
    return Company(db, tokens)


def make_app(company: Company, tmp_path: Path, **settings: object) -> FastAPI:
    db = tmp_path / "server.duckdb"
    shutil.copy(company.db, db)
    return create_app(db, settings=Settings(db, **settings))  # type: ignore[arg-type]


@pytest.fixture
def app(company: Company, tmp_path: Path) -> Iterator[FastAPI]:
    application = make_app(company, tmp_path)
    yield application
    application.state.nw.close()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """In-process client (no lifespan: the worker is driven by hand with ``run_once``)."""
    return TestClient(app, base_url="http://127.0.0.1")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    app: FastAPI


def serve(app: FastAPI) -> Iterator[Live]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def live(company: Company, tmp_path: Path) -> Iterator[Live]:
    """A real uvicorn server (worker scoring every 0.5 s) on a free loopback port."""
    yield from serve(make_app(company, tmp_path, worker_interval=0.5))


@contextmanager
def writer_holding(state: ServerState) -> Iterator[None]:
    """A thread holds the server's writer lock (as a long ingest does) for the block."""
    held, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with state.db():
            held.set()
            release.wait(60)

    writer = threading.Thread(target=long_write)
    writer.start()
    held.wait(10)
    try:
        yield
    finally:
        release.set()
        writer.join(30)
