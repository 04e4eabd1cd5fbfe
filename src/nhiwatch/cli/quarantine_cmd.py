"""``nhiwatch quarantine``: the records ingest set aside, with file, line and reason."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, open_store
from nhiwatch.redact import redact


def register(app: typer.Typer) -> None:
    app.command("quarantine")(quarantine)


def quarantine(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Show quarantined records, most recent first, and a count per reason."""
    with open_store(db, must_exist=True) as store:
        by_reason = store.fetchall(
            "SELECT regexp_replace(reason, ' \\(.*', ''), count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC"
        )
        rows = store.fetchall(
            "SELECT ingest_file, ingest_line, source, reason, left(coalesce(raw_data, ''), 65536) FROM quarantine "
            "ORDER BY quarantined_at DESC, ingest_file, ingest_line LIMIT ?",
            [limit],
        )
    if not by_reason:
        console.print("[green]quarantine is empty[/green]")
        return
    for reason, n in by_reason:
        console.print(f"{n:>8,}  {redact(reason)}", markup=False, highlight=False)
    t = Table("file", "line", "source", "reason", "raw (start)")
    for f, line, src, reason, raw in rows:
        # redacted whole, then cut: a secret cut short first might no longer look like one
        t.add_row(
            redact(str(f)), "" if line is None else str(line), src or "?", redact(reason), redact(raw)[:80]
        )
    console.print(t)
