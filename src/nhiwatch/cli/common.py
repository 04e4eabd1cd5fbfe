"""Helpers shared by the command modules: consoles, the --db option, and turning errors into messages."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console

from nhiwatch.errors import NhiwatchError
from nhiwatch.store import DEFAULT_DB, Store

# Piped or captured output (logs, CI) would otherwise be cut to 80 columns, wrapping table cells mid-value.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_PIPE_WIDTH)
console_err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB store file.", envvar="NHIWATCH_DB")]
DEFAULT_DB_PATH = Path(DEFAULT_DB)


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


@contextmanager
def open_store(db: Path, *, read_only: bool = False, must_exist: bool = False) -> Iterator[Store]:
    """Open the store, turning library errors raised inside the block into a clean message and exit 2.

    A DuckDB error that escapes the library (an I/O error on a block the open checks could not see) is a
    one-line message pointing at ``nhiwatch doctor``, never a traceback."""
    if must_exist and not db.exists():
        raise fail(f"no store at {db}: run `nhiwatch ingest` (or `nhiwatch demo`) first, or pass --db")
    try:
        with Store(db, read_only=read_only) as store:
            yield store
    except NhiwatchError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, duckdb.IOException) or "corrupt" in first.lower():
            raise fail(
                f"the store {db} could not be read or written ({first}); run `nhiwatch doctor --db {db}`"
            ) from None
        raise fail(f"DuckDB error on {db} ({type(exc).__name__}: {first})") from None


@contextmanager
def friendly_errors() -> Iterator[None]:
    try:
        yield
    except NhiwatchError as exc:
        raise fail(str(exc)) from None
