"""The health of a store file, for ``nhiwatch doctor``: what the bytes say, what DuckDB can still read, and
how to recover.

Everything here reads the store read-only, so looking at a damaged store never changes it; only a store
whose file checks pass is opened for writing, and then only inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from nhiwatch.errors import NhiwatchError
from nhiwatch.integrity import FileReport, inspect_file


@dataclass(frozen=True)
class TableHealth:
    name: str
    rows: int | None  # from the catalog; None if even that failed
    readable: bool  # every column of every row was read
    error: str = ""


@dataclass
class StoreHealth:
    file: FileReport
    library_version: str
    opened: bool = False
    open_error: str = ""
    tables: list[TableHealth] = field(default_factory=list)
    writable: bool | None = None  # None: not tried (damaged, or in use)
    write_note: str = ""

    @property
    def damaged(self) -> bool:
        return self.file.damaged or not self.opened or any(not t.readable for t in self.tables)

    @property
    def problem(self) -> str:
        """One line saying what is wrong, empty if nothing is."""
        if self.file.damaged:
            return str(self.file.problem or self.file.wal_problem)
        if not self.opened:
            return f"DuckDB cannot open it ({self.open_error})"
        bad = [t.name for t in self.tables if not t.readable]
        return f"table(s) {', '.join(bad)} cannot be read in full" if bad else ""

    def advice(self) -> list[str]:
        """How to recover, most reliable first; empty for a healthy store."""
        if not self.damaged:
            return []
        path = self.file.path
        readable = [t.name for t in self.tables if t.readable]
        steps = [
            f"Stop anything using {path} (`nhiwatch serve`), keep the damaged file as it is, and restore the "
            "latest backup copy of it (together with its .wal file, if the backup has one).",
        ]
        if self.file.wal_problem and not self.file.problem:
            steps.append(
                f"The database file itself is intact; only its write-ahead log is cut. Moving {path}.wal aside "
                "opens the store as of its last checkpoint, losing the transactions that were in the log."
            )
        if readable:
            steps.append(
                f"Without a backup, copy out what DuckDB can still read ({', '.join(readable)}): "
                f"`duckdb -readonly {path} \"EXPORT DATABASE 'nhiwatch-export'\"` (or COPY each readable table "
                "to Parquet if the export stops at a damaged table), then IMPORT DATABASE into a new file."
            )
        steps.append(
            "Or rebuild: `nhiwatch ingest LOGS --inventory FILE --tickets FILE --db NEW.duckdb` from the original "
            "logs, then `nhiwatch detect`. Verdicts, suppressions and API tokens live only in the store: "
            "export those tables first if they are readable, or re-create them."
        )
        return steps


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def store_health(path: str | Path, *, try_write: bool = True) -> StoreHealth:
    """Inspect the store at ``path``: headers and block checksums, WAL framing, every table read in full,
    and (for a store that passes) whether a write would succeed."""
    p = Path(path)
    if not p.is_file():
        raise NhiwatchError(f"no store at {p}: pass --db with the store file")
    health = StoreHealth(inspect_file(p), duckdb.__version__)
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as exc:
        health.open_error = _first_line(exc)
        if "could not set lock" in health.open_error.lower():
            health.open_error = "in use by another process (e.g. `nhiwatch serve`); only the file was checked"
            health.opened = not health.file.damaged
            health.write_note = "in use by another process"
        return health
    try:
        health.opened = True
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "ORDER BY table_name"
            ).fetchall()
        ]
        for name in names:
            health.tables.append(_table_health(con, name))
    except duckdb.Error as exc:
        health.open_error = f"the catalog cannot be read ({_first_line(exc)})"
        health.opened = False
    finally:
        con.close()
    if try_write and not health.damaged:
        _probe_write(health)
    return health


def _table_health(con: duckdb.DuckDBPyConnection, name: str) -> TableHealth:
    try:
        rows = con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0][0]
    except duckdb.Error as exc:
        return TableHealth(name, None, False, _first_line(exc))
    try:
        # Hashing every column makes DuckDB read (and checksum) every block of the table.
        con.execute(f"SELECT count(*), max(hash(COLUMNS(*))) FROM {_quote(name)}").fetchall()
    except duckdb.Error as exc:
        return TableHealth(name, int(rows), False, _first_line(exc))
    return TableHealth(name, int(rows), True)


def _probe_write(health: StoreHealth) -> None:
    """Open for writing and create a table in a transaction that is rolled back: nothing reaches the file."""
    p = health.file.path
    if not os.access(p, os.W_OK) or not os.access(p.parent, os.W_OK):
        health.writable, health.write_note = False, "no write permission on the file or its folder"
        return
    try:
        con = duckdb.connect(str(p))
    except duckdb.Error as exc:
        health.writable, health.write_note = False, _first_line(exc)
        return
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE nhiwatch_doctor_probe (x INTEGER)")
        con.execute("INSERT INTO nhiwatch_doctor_probe VALUES (1)")
        health.writable, health.write_note = True, "a test write in a rolled-back transaction succeeded"
    except duckdb.Error as exc:
        health.writable, health.write_note = False, _first_line(exc)
    finally:
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        con.close()
