"""``nhiwatch doctor``: is the store healthy, and if not, how to recover. It never changes a damaged store.

Exit code 0 for a healthy store; 2 (with a one-line error) when the store is damaged or missing.
"""

from __future__ import annotations

import typer
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, friendly_errors
from nhiwatch.health import StoreHealth, store_health
from nhiwatch.integrity import readable_size


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Check the store: headers, block checksums, the write-ahead log, every table read in full, a test write."""
    with friendly_errors():
        health = store_health(db)
    _print(health)
    if health.damaged:
        raise fail(f"the store {db} is damaged: {health.problem}; see the recovery steps above")
    console.print("[green]healthy[/green]")


def _yes_no(ok: bool | None, note: str = "") -> str:
    mark = "not tried" if ok is None else "[green]yes[/green]" if ok else "[red]no[/red]"
    return f"{mark} ({note})" if note else mark


def _print(h: StoreHealth) -> None:
    f = h.file
    facts = Table(title=f"store {f.path}", show_header=False, box=None)
    facts.add_row("size", readable_size(f.size))
    facts.add_row("written by", f"DuckDB {f.written_by or '?'}, storage version {f.storage_version or '?'}")
    facts.add_row("this DuckDB", h.library_version)
    if f.block_size:
        facts.add_row(
            "blocks",
            f"{f.used_blocks} used of {f.block_count} ({readable_size(f.block_size)} each); "
            f"{f.blocks_checked} checksummed, {len(f.bad_blocks)} bad",
        )
    facts.add_row(
        "write-ahead log",
        "none" if f.wal_size is None else f"{readable_size(f.wal_size)}, {f.wal_problem or 'entries whole'}",
    )
    facts.add_row("file check", f"[red]{f.problem}[/red]" if f.problem else "[green]ok[/green]")
    facts.add_row("DuckDB can open it", _yes_no(h.opened, h.open_error))
    facts.add_row("can write", _yes_no(h.writable, h.write_note))
    console.print(facts)
    if h.tables:
        t = Table("table", "rows", "read in full")
        for tab in h.tables:
            t.add_row(
                tab.name,
                "?" if tab.rows is None else f"{tab.rows:,}",
                "[green]yes[/green]" if tab.readable else f"[red]no[/red] ({tab.error})",
            )
        console.print(t)
    steps = h.advice()
    if steps:
        console.print("[bold]how to recover[/bold]")
        for i, step in enumerate(steps, 1):
            console.print(f"  {i}. {step}", markup=False, highlight=False)
