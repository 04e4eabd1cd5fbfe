"""Shared test helpers: a fresh store per test and a one-call ingest of literal file content."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from nhiwatch.ingest import IngestReport, ingest
from nhiwatch.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "test.duckdb")
    yield s
    s.close()


def write(tmp_path: Path, name: str, content: str | bytes, *, gz: bool = False) -> Path:
    data = content.encode() if isinstance(content, str) else content
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def ingest_text(store: Store, tmp_path: Path, name: str, content: str | bytes, **kw: object) -> IngestReport:
    """Write ``content`` to a file called ``name`` and ingest it."""
    return ingest(store, [write(tmp_path, name, content)], **kw)  # type: ignore[arg-type]


def events(store: Store, where: str = "true") -> list[dict[str, object]]:
    return store.records(f"SELECT * FROM events WHERE {where} ORDER BY ingest_file, ingest_line")


def quarantine(store: Store) -> list[dict[str, object]]:
    return store.records("SELECT * FROM quarantine ORDER BY ingest_file, ingest_line")
