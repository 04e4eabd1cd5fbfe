"""Helpers shared by the command modules: consoles, the --db option, opening the store (or, while
``nhiwatch serve`` holds it, its API), and turning errors into messages."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import duckdb
import psutil
import typer
from rich.console import Console

from nhiwatch.errors import NhiwatchError
from nhiwatch.server import local
from nhiwatch.server.local import ServerFile
from nhiwatch.store import DEFAULT_DB, Store

if TYPE_CHECKING:
    from nhiwatch.cli.remote import Remote

# Piped or captured output (logs, CI) would otherwise be cut to 80 columns, wrapping table cells mid-value.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_PIPE_WIDTH)
console_err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB store file.", envvar="NHIWATCH_DB")]
DEFAULT_DB_PATH = Path(DEFAULT_DB)
_LOCK_RE = re.compile(r"Could not set lock on file|Conflicting lock is held")
_PID_RE = re.compile(r"\(PID (\d+)\)")


class HandledError(Exception):
    """An error already worded for the user."""


def register_module(app: typer.Typer, module: str) -> None:
    """Import a command module and let it add its commands; a module not written yet is skipped."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return
        raise
    mod.register(app)


def fail(message: str) -> typer.Exit:
    console_err.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


@dataclass(frozen=True)
class Holder:
    """Who holds a store DuckDB refused to open: a running ``nhiwatch serve`` (with its server file), or
    another process (the pid DuckDB names, if it names one)."""

    db: Path
    pid: int | None
    server: ServerFile | None

    def message(self) -> str:
        if self.server is not None:
            url = self.server.url
            return (
                f"the store {self.db} is held by nhiwatch serve (pid {self.server.pid}) at {url}: "
                f"push logs to it with `POST {url}/api/v1/ingest`, or stop the server and run this again"
            )
        who = "another process" if self.pid is None else f"another process (pid {self.pid}{_name(self.pid)})"
        return (
            f"the store {self.db} is held by {who}: DuckDB lets one process open a store; "
            "wait for it to finish or stop it, then run this again"
        )


def _name(pid: int) -> str:
    try:
        return f", {psutil.Process(pid).name()}"
    except (psutil.Error, OSError):
        return ""


def holder(db: Path, exc: BaseException) -> Holder | None:
    """The holder of ``db`` if ``exc`` (or its cause) is DuckDB's lock conflict, else None.

    A server file counts only if its pid is alive and, when DuckDB names the lock's pid, is that pid: a
    stale file (a server that died, a pid since reused) is ignored."""
    text = " ".join(str(e) for e in (exc, exc.__cause__) if e is not None)
    if not _LOCK_RE.search(text):
        return None
    m = _PID_RE.search(text)
    pid = int(m.group(1)) if m else None
    server = local.read(db)
    if server is not None and pid is not None and server.pid != pid:
        server = None
    return Holder(db, pid if pid is not None else (server.pid if server else None), server)


def _duckdb_fail(db: Path, exc: duckdb.Error) -> typer.Exit:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, duckdb.IOException) or "corrupt" in first.lower():
        return fail(f"the store {db} could not be read or written ({first}); run `nhiwatch doctor --db {db}`")
    return fail(f"DuckDB error on {db} ({type(exc).__name__}: {first})")


@contextmanager
def open_source(
    db: Path, *, read_only: bool = False, must_exist: bool = False, remote: bool = True
) -> Iterator[Store | Remote]:
    """The store, or, while a running ``nhiwatch serve`` holds it, a client of that server's API.

    Read commands pass ``remote=True`` and feed the same row builders from either. Any other holder, or a
    write command (``remote=False``), gets a one-line message naming the process that holds the store.
    Library errors raised inside the block become a clean message and exit 2; a DuckDB error that escapes
    the library (an I/O error on a block the open checks could not see) is a one-line message pointing at
    ``nhiwatch doctor``, never a traceback."""
    if must_exist and not db.exists():
        raise fail(f"no store at {db}: run `nhiwatch ingest` (or `nhiwatch demo`) first, or pass --db")
    held: Holder | None = None
    try:
        store = Store(db, read_only=read_only)
    except NhiwatchError as exc:
        held = holder(db, exc)
        if held is None:
            raise fail(str(exc)) from None
    except duckdb.Error as exc:
        held = holder(db, exc)
        if held is None:
            raise _duckdb_fail(db, exc) from None
    if held is not None:
        if held.server is None or not remote:
            raise fail(held.message())
        from nhiwatch.cli.remote import Remote

        with Remote(held.server, db) as client:
            yield client
        return
    try:
        with store:
            yield store
    except NhiwatchError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise _duckdb_fail(db, exc) from None


@contextmanager
def open_store(db: Path, *, read_only: bool = False, must_exist: bool = False) -> Iterator[Store]:
    """The store itself, for commands that write it (or need more than the server's API offers).

    While another process holds it, a one-line message names that process (a running ``nhiwatch serve``
    with its URL and how to push to it instead); see :func:`open_source`."""
    with open_source(db, read_only=read_only, must_exist=must_exist, remote=False) as store:
        assert isinstance(store, Store)
        yield store


def minute(value: object) -> str | None:
    """A time as ``YYYY-MM-DD HH:MM``, from a datetime (the store) or ISO 8601 text (the server's JSON)."""
    if value is None:
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return f"{t:%Y-%m-%d %H:%M}"


@contextmanager
def friendly_errors(db: Path | None = None) -> Iterator[None]:
    """Library errors as a one-line message; with ``db``, a lock on it names the process holding it."""
    try:
        yield
    except NhiwatchError as exc:
        held = holder(db, exc) if db is not None else None
        raise fail(held.message() if held else str(exc)) from None
