"""The embedded DuckDB store: one file holding events, quarantine, inventory, tickets and results.

Everything downstream (baselines, detectors, alerts, the server) reads and writes through a
:class:`Store`. The SQL macros defined here (``nw_ts``, ``nw_bigint``, ``nw_host``) are what source
mappings compile to, so a timestamp or a byte count is parsed the same way for every vendor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.functions import register_functions
from nhiwatch.integrity import StoreDamagedError, check_file
from nhiwatch.schema import events_ddl

DEFAULT_DB = "nhiwatch.duckdb"
DEFAULT_MEMORY_LIMIT = "1GB"
# Values up to which insert_rows binds them as parameters of one INSERT rather than building Arrow columns.
SMALL_INSERT = 4096
_MEMORY_LIMIT_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
# The object an idempotent DDL statement (``ensure``) creates or alters, and the objects a statement drops
# or renames: what the catalog cache of :class:`Store` is keyed by and invalidated with.
_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)'
_ENSURED_RE = re.compile(
    r"^\s*(?:CREATE\s+(?:(?:TEMP|TEMPORARY)\s+)?(?:TABLE|SEQUENCE|VIEW)\s+IF\s+NOT\s+EXISTS\s+"
    + _NAME
    + r"|CREATE\s+(?:UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+\S+\s+ON\s+"
    + _NAME
    + r"|ALTER\s+TABLE\s+"
    + _NAME
    + r"\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\b)",
    re.IGNORECASE,
)
# nhiwatch writes SQL keywords in capitals; a lower-case DROP elsewhere would leave a stale entry, and the next
# statement that needs the object fails loudly (missing table), it is never read wrong.
_UNMAKING = ("DROP", "ALTER", "REPLACE")
_UNMADE_RE = re.compile(
    r"\b(?:DROP\s+(?:TABLE|VIEW|SEQUENCE|INDEX)\s+(?:IF\s+EXISTS\s+)?|ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?"
    r"|CREATE\s+OR\s+REPLACE\s+(?:(?:TEMP|TEMPORARY)\s+)?(?:TABLE|VIEW|SEQUENCE)\s+)" + _NAME,
    re.IGNORECASE,
)

MACROS = r"""
CREATE OR REPLACE MACRO nw_bigint(x) AS TRY_CAST(TRY_CAST(x AS DOUBLE) AS BIGINT);
CREATE OR REPLACE MACRO nw_host(u) AS nullif(lower(regexp_extract(trim(u),
    '^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#\s]+)', 1)), '');
CREATE OR REPLACE MACRO nw_ip_num(ip) AS (
  CASE WHEN regexp_full_match(ip, '[0-9]{1,3}(\.[0-9]{1,3}){3}') THEN
    CAST(split_part(ip, '.', 1) AS HUGEINT) * 16777216 + CAST(split_part(ip, '.', 2) AS HUGEINT) * 65536
    + CAST(split_part(ip, '.', 3) AS HUGEINT) * 256 + CAST(split_part(ip, '.', 4) AS HUGEINT) END);
-- nw_ts(x): a timestamp in any of the vendors' spellings (epoch s/ms/µs, compact, ISO 8601, RFC 2822, CLF,
-- slash dates), surrounding spaces ignored, NULL unless between 1990 and 2100. Written for cost: the text
-- forms skip the epoch regexes (an epoch has a digit where ISO has '-'), trim runs only when an end is not
-- printable ASCII (it strips Unicode spaces too), the zone is dropped through epoch_us (the session is UTC) rather than ICU's cast, and the range
-- check reads the value once (a CASE would expand the parse twice): greatest/least ignore NULL and each
-- bound sits one microsecond outside the range, so nullif turns exactly the out-of-range values into NULL.
CREATE OR REPLACE MACRO nw_ts_text(s) AS coalesce(
  make_timestamp(epoch_us(TRY_CAST(s AS TIMESTAMPTZ))),
  CAST(try_strptime(s, ['%a, %d %b %Y %H:%M:%S %z', '%d/%b/%Y:%H:%M:%S %z', '%Y-%m-%d %H:%M:%S %z',
                        '%Y-%m-%dT%H:%M:%S.%f%z']) AS TIMESTAMP),
  try_strptime(s, ['%Y/%m/%d %H:%M:%S', '%m/%d/%Y %H:%M:%S', '%d/%m/%Y %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f']));
CREATE OR REPLACE MACRO nw_ts_any(s) AS (
  CASE
    WHEN s IS NULL OR s = '' THEN NULL::TIMESTAMP
    WHEN strlen(s) < 9 OR NOT (substr(s, 5, 1) BETWEEN '0' AND '9') THEN nw_ts_text(s)
    WHEN regexp_full_match(s, '[0-9]{9,11}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e6 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{12,13}(\.[0-9]+)?') THEN make_timestamp(CAST(CAST(s AS DOUBLE) * 1e3 AS BIGINT))
    WHEN regexp_full_match(s, '[0-9]{14}(\.[0-9]{1,3})?')
      THEN try_strptime(s, ['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S'])
    WHEN regexp_full_match(s, '[0-9]{16}') THEN make_timestamp(CAST(s AS BIGINT))
    ELSE nw_ts_text(s)
  END);
CREATE OR REPLACE MACRO nw_ts_range(t) AS nullif(least(nullif(greatest(t,
    TIMESTAMP '1989-12-31 23:59:59.999999'), TIMESTAMP '1989-12-31 23:59:59.999999'),
    TIMESTAMP '2100-01-01 00:00:00.000001'), TIMESTAMP '2100-01-01 00:00:00.000001');
CREATE OR REPLACE MACRO nw_ts_plain(x) AS x[1] BETWEEN '!' AND '~' AND x[-1] BETWEEN '!' AND '~';
CREATE OR REPLACE MACRO nw_ts(x) AS nw_ts_range(
  CASE WHEN nw_ts_plain(x) THEN nw_ts_any(x) ELSE nw_ts_any(trim(x)) END);
-- nw_ts in two steps, for mappings: nw_ts_of_clean(nw_ts_clean(x)) is nw_ts(x). A mapping cleans the raw time a
-- level below, so the parser is expanded once in its statement; nw_ts expands it once per branch of its trim,
-- which cost ~7 ms more to plan each mapping statement (a push's batch pays it once per source).
CREATE OR REPLACE MACRO nw_ts_clean(x) AS CASE WHEN nw_ts_plain(x) THEN x ELSE trim(x) END;
CREATE OR REPLACE MACRO nw_ts_of_clean(s) AS nw_ts_range(nw_ts_any(s));
"""

BASE_TABLES = (
    "CREATE SEQUENCE IF NOT EXISTS nw_ingest_batch START 1",  # events.ingest_batch: see nhiwatch.rollups
    events_ddl("events"),
    # Stores written before the lean store keep their raw_data column (read by nhiwatch.evidence) and gain
    # the hash that lets evidence re-read a record from its file.
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS raw_hash UBIGINT",
    """CREATE TABLE IF NOT EXISTS quarantine (
        ingest_file VARCHAR, ingest_line BIGINT, source VARCHAR, reason VARCHAR, raw_data VARCHAR,
        quarantined_at TIMESTAMP DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS ingest_runs (
        run_at TIMESTAMP DEFAULT current_timestamp, files BIGINT, read BIGINT, stored BIGINT,
        duplicates BIGINT, quarantined BIGINT, seconds DOUBLE)""",
    "CREATE TABLE IF NOT EXISTS store_meta (name VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS tickets (
        id VARCHAR PRIMARY KEY, start_time TIMESTAMP, end_time TIMESTAMP, integration_id VARCHAR,
        summary VARCHAR, kind VARCHAR, source_file VARCHAR)""",
)


class Store:
    """A DuckDB database holding nhiwatch's state. Use as a context manager or call :meth:`close`."""

    _tx_depth = 0
    # Catalog cache (see :meth:`ensure`): the ensure-statements known applied, by the object they make, and
    # tables known to exist. Only a Store that owns its connection keeps one; a cursor over another's
    # connection cannot see that one's DROPs.
    _caching = False
    _ensured: dict[str, str]  # statement -> object it makes
    _ensured_tx: dict[str, str]  # applied inside the open transaction: kept only if it commits
    _tables: set[str]

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False) -> None:
        self.path = str(path)
        self._own_connection()
        memory_limit = os.environ.get("NHIWATCH_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
        if not _MEMORY_LIMIT_RE.match(memory_limit):
            raise ConfigError(f"NHIWATCH_MEMORY_LIMIT {memory_limit!r} is not a size such as 1GB or 512MiB")
        on_disk = self.path != ":memory:" and os.path.exists(self.path)
        if on_disk:
            _check_before_open(self.path)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if on_disk and ("corrupt" in text.lower() or "not a valid duckdb" in text.lower()):
                raise StoreDamagedError(
                    f"the store {self.path} is damaged: {text}; nothing was written to it. "
                    f"Run `nhiwatch doctor --db {self.path}` for its state and how to recover"
                ) from None
            raise NhiwatchError(f"cannot open the store {self.path}: {text}") from exc
        try:
            self.con.execute("SET TimeZone = 'UTC'")
            # DuckDB caches up to 80 % of RAM by default; a bound keeps a laptop usable and spills beyond it.
            self.con.execute(f"SET memory_limit = '{memory_limit.strip()}'")
            self.con.execute(MACROS)
            register_functions(self.con)
            if on_disk:
                self._read_catalog()
            if not read_only:
                for ddl in BASE_TABLES:
                    self.con.execute(ddl)
        except BaseException:
            self.con.close()
            raise

    def _read_catalog(self) -> None:
        """Read the catalog and every table's row count: cheap (metadata only), and DuckDB's own checks
        catch a damaged catalog that the block checksums cannot see."""
        try:
            for (name,) in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall():
                self.con.execute(f'SELECT count(*) FROM "{name.replace(chr(34), chr(34) * 2)}"').fetchall()
        except duckdb.Error as exc:
            self.con.close()
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreDamagedError(
                f"the store {self.path} is damaged: DuckDB cannot read its catalog ({first}); "
                f"nothing was written to it. Run `nhiwatch doctor --db {self.path}` for how to recover"
            ) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def on_cursor(self) -> Store:
        """A second connection to the same database, for another thread: its own transactions, temp tables
        and catalog cache; the same data, macros and functions. Close it before this one."""
        other = Store.__new__(Store)
        other.path, other.con = self.path, self.con.cursor()
        other._own_connection()
        other.con.execute("SET TimeZone = 'UTC'")
        return other

    def _own_connection(self) -> None:
        """State of a Store that owns its connection: no transaction open, an empty catalog cache."""
        self._tx_depth = 0
        self._caching = True
        self._ensured, self._ensured_tx, self._tables = {}, {}, set()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Run the block in one transaction: committed if it ends normally, rolled back on any exception
        (KeyboardInterrupt and RecursionError included), so a failure never leaves half a write or an
        aborted transaction behind for the next caller.

        Nested use joins the outer transaction, which commits or rolls back the whole. DuckDB has no
        savepoints, and a failed ``BEGIN`` aborts the open transaction, so nesting is counted here: open
        transactions with this method, not with a raw ``BEGIN``."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._tx_depth = 1
        committed = False
        try:
            yield self
        except BaseException:
            with suppress(duckdb.Error):  # DuckDB may have ended the transaction itself
                self.con.execute("ROLLBACK")
            raise
        else:
            try:
                self.con.execute("COMMIT")
                committed = True
            except BaseException:
                with suppress(duckdb.Error):
                    self.con.execute("ROLLBACK")
                raise
        finally:
            self._tx_depth = 0
            if self._caching:
                if committed:
                    self._ensured.update(self._ensured_tx)
                else:  # what the transaction made is gone, and what it dropped may be back: forget both
                    self._forget_all()
                self._ensured_tx.clear()

    def ensure(self, *ddl: str) -> None:
        """Create tables a later stage owns (baselines, alerts, ...) if they do not exist.

        Stages call this before every use, dozens of times a micro-batch, and each statement costs DuckDB a
        catalog lookup; so an idempotent statement (``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT
        EXISTS``) once applied is not run again until a statement through :meth:`execute` drops, alters
        or replaces its object, or a transaction rolls back."""
        for statement in ddl:
            if self._caching and (statement in self._ensured or statement in self._ensured_tx):
                continue
            self.con.execute(statement)
            made = self._made_by(statement) if self._caching else None
            if made is not None:
                (self._ensured_tx if self._tx_depth else self._ensured)[statement] = made

    @staticmethod
    def _made_by(statement: str) -> str | None:
        """The object an idempotent single statement makes, or None when it cannot be cached."""
        if ";" in statement.strip().rstrip(";"):
            return None
        m = _ENSURED_RE.match(statement)
        return _key(next(g for g in m.groups() if g)) if m else None

    def _forget(self, sql: str) -> None:
        """Forget what ``sql`` may drop, alter or replace."""
        if not any(word in sql for word in _UNMAKING):  # most statements: a substring test, not the regex
            return
        names = {_key(n) for n in _UNMADE_RE.findall(sql)}
        if names:
            self._tables -= names
            for cache in (self._ensured, self._ensured_tx):
                for statement in [s for s, made in cache.items() if made in names]:
                    del cache[statement]

    def _forget_all(self) -> None:
        self._ensured.clear()
        self._ensured_tx.clear()
        self._tables.clear()

    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        if not self._caching:
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        self._forget(sql)
        result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        if sql.lstrip()[:8].upper().startswith(("ROLLBACK", "ABORT")):
            self._forget_all()  # a transaction was open (else DuckDB raised): what it made is gone
        return result

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
        if self._caching and name in self._tables:
            return True
        found = bool(
            self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
        )
        if found and self._caching and not self._tx_depth:  # inside a transaction it may yet roll back
            self._tables.add(name)
        return found

    def event_count(self) -> int:
        return int(self.scalar("SELECT count(*) FROM events") or 0)

    def insert_rows(self, table: str, columns: Iterable[str], rows: Sequence[Sequence[Any]]) -> None:
        cols = list(columns)
        if not rows:
            return
        names = ", ".join(cols)
        if len(rows) * len(cols) <= SMALL_INSERT:
            # One statement, its values bound as parameters (DuckDB casts each, as executemany does). A columnar
            # insert infers Arrow types first, and pyarrow imports pandas to do that when pandas is installed:
            # ~0.25 s once per process, which the inventory's few hundred rows paid inside every ingest.
            marks = "(" + ", ".join("?" for _ in cols) + ")"
            values = [v for row in rows for v in row]
            self.con.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(rows))}", values)
            return
        try:  # one columnar insert: DuckDB's executemany costs ~1 ms per row
            nw_insert_batch = pa.table(  # noqa: F841 - read by the INSERT below, by name
                {f"c{i}": pa.array([r[i] for r in rows]) for i in range(len(cols))}
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python types in a column: row by row
            marks = ", ".join("?" for _ in cols)
            self.con.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        picks = ", ".join(f"c{i}" for i in range(len(cols)))
        # DuckDB finds ``nw_insert_batch`` by its Python name (a replacement scan); register() would refuse
        # while an earlier statement's result is still open on this connection.
        self.con.execute(f"INSERT INTO {table} ({names}) SELECT {picks} FROM nw_insert_batch")


def _key(name: str) -> str:
    """An object name as the catalog cache keys it: unquoted, schema dropped (temp or main alike)."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.rsplit(".", 1)[-1]


def _check_before_open(path: str) -> None:
    """Refuse a damaged file before DuckDB opens it: DuckDB would replay a cut-short WAL and delete it, or
    write new blocks after a truncation. A file another process is writing (``nhiwatch serve``) can look
    torn while it is being written; DuckDB's lock then gives the true reason."""
    try:
        check_file(path)
    except OSError as exc:
        raise NhiwatchError(f"cannot read the store {path}: {exc.strerror or exc}") from None
    except StoreDamagedError:
        try:
            duckdb.connect(path, read_only=True).close()
        except duckdb.Error as exc:
            if "could not set lock" in str(exc).lower():
                raise NhiwatchError(
                    f"the store {path} is in use by another process (e.g. `nhiwatch serve`); stop it or "
                    "use the API"
                ) from None
        raise
