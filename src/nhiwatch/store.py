"""The embedded DuckDB store: one file holding events, quarantine, inventory, tickets and results.

Everything downstream (baselines, detectors, alerts, the server) reads and writes through a
:class:`Store`. The SQL macros defined here (``nw_ts``, ``nw_bigint``, ``nw_host``) are what source
mappings compile to, so a timestamp or a byte count is parsed the same way for every vendor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from nhiwatch.errors import NhiwatchError
from nhiwatch.schema import events_ddl

DEFAULT_DB = "nhiwatch.duckdb"
DEFAULT_MEMORY_LIMIT = "1GB"

MACROS = r"""
CREATE OR REPLACE MACRO nw_bigint(x) AS TRY_CAST(TRY_CAST(x AS DOUBLE) AS BIGINT);
CREATE OR REPLACE MACRO nw_host(u) AS nullif(lower(regexp_extract(trim(u),
    '^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#\s]+)', 1)), '');
CREATE OR REPLACE MACRO nw_ip_num(ip) AS (
  CASE WHEN regexp_full_match(ip, '[0-9]{1,3}(\.[0-9]{1,3}){3}') THEN
    CAST(split_part(ip, '.', 1) AS HUGEINT) * 16777216 + CAST(split_part(ip, '.', 2) AS HUGEINT) * 65536
    + CAST(split_part(ip, '.', 3) AS HUGEINT) * 256 + CAST(split_part(ip, '.', 4) AS HUGEINT) END);
CREATE OR REPLACE MACRO nw_ts_any(s) AS (
  CASE
    WHEN s IS NULL OR s = '' THEN NULL::TIMESTAMP
    WHEN regexp_full_match(s, '[0-9]{9,11}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e6 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{12,13}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e3 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{14}(\.[0-9]{1,3})?')
      THEN try_strptime(s, ['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S'])
    WHEN regexp_full_match(s, '[0-9]{16}') THEN make_timestamp(CAST(s AS BIGINT))
    ELSE coalesce(
      CAST(TRY_CAST(s AS TIMESTAMPTZ) AS TIMESTAMP),
      CAST(try_strptime(s, ['%a, %d %b %Y %H:%M:%S %z', '%d/%b/%Y:%H:%M:%S %z', '%Y-%m-%d %H:%M:%S %z',
                            '%Y-%m-%dT%H:%M:%S.%f%z']) AS TIMESTAMP),
      try_strptime(s, ['%Y/%m/%d %H:%M:%S', '%m/%d/%Y %H:%M:%S', '%d/%m/%Y %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f']))
  END);
CREATE OR REPLACE MACRO nw_ts(x) AS (
  CASE WHEN nw_ts_any(trim(x)) BETWEEN TIMESTAMP '1990-01-01' AND TIMESTAMP '2100-01-01'
       THEN nw_ts_any(trim(x)) END);
"""

BASE_TABLES = (
    "CREATE SEQUENCE IF NOT EXISTS nw_ingest_batch START 1",  # events.ingest_batch: see nhiwatch.rollups
    events_ddl("events"),
    """CREATE TABLE IF NOT EXISTS quarantine (
        ingest_file VARCHAR, ingest_line BIGINT, source VARCHAR, reason VARCHAR, raw_data VARCHAR,
        quarantined_at TIMESTAMP DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS ingest_runs (
        run_at TIMESTAMP DEFAULT current_timestamp, files BIGINT, read BIGINT, stored BIGINT,
        duplicates BIGINT, quarantined BIGINT, seconds DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS tickets (
        id VARCHAR PRIMARY KEY, start_time TIMESTAMP, end_time TIMESTAMP, integration_id VARCHAR,
        summary VARCHAR, kind VARCHAR, source_file VARCHAR)""",
)


class Store:
    """A DuckDB database holding nhiwatch's state. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False) -> None:
        self.path = str(path)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise NhiwatchError(f"cannot open the store {self.path}: {exc}") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        # DuckDB caches up to 80 % of RAM by default; a bound keeps a laptop usable and spills beyond it.
        self.con.execute(
            f"SET memory_limit = '{os.environ.get('NHIWATCH_MEMORY_LIMIT', DEFAULT_MEMORY_LIMIT)}'"
        )
        self.con.execute(MACROS)
        if not read_only:
            for ddl in BASE_TABLES:
                self.con.execute(ddl)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def ensure(self, *ddl: str) -> None:
        """Create tables a later stage owns (baselines, alerts, ...) if they do not exist."""
        for statement in ddl:
            self.con.execute(statement)

    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def fetchall(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return self.execute(sql, params).fetchall()

    def fetchone(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def records(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
        )

    def event_count(self) -> int:
        return int(self.scalar("SELECT count(*) FROM events") or 0)

    def insert_rows(self, table: str, columns: Iterable[str], rows: Sequence[Sequence[Any]]) -> None:
        cols = list(columns)
        if not rows:
            return
        marks = ", ".join("?" for _ in cols)
        self.con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
