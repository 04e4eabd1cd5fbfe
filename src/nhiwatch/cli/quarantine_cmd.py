"""``nhiwatch quarantine``: the records ingest set aside, with file, line and reason.

The rows come from :func:`nhiwatch.server.queries.quarantine`, read from the store or, while
``nhiwatch serve`` holds it, from the server's ``GET /api/v1/quarantine``: the same table either way.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, open_source
from nhiwatch.outputs.plain import plain, plain_str
from nhiwatch.server.queries import quarantine as quarantine_view
from nhiwatch.store import Store


def register(app: typer.Typer) -> None:
    app.command("quarantine")(quarantine)


def quarantine(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Show quarantined records, most recent first, and a count per reason."""
    with open_source(db, must_exist=True) as src:
        if isinstance(src, Store):
            view = quarantine_view(src, limit)
        else:
            view = src.get("/api/v1/quarantine", {"limit": min(max(limit, 1), 1000)})
    show(view)


def show(view: dict[str, Any]) -> None:
    if not view["by_reason"]:
        console.print("[green]quarantine is empty[/green]")
        return
    for r in view["by_reason"]:
        console.print(f"{r['records']:>8,}  {plain_str(r['reason'])}", markup=False, highlight=False)
    t = Table("file", "line", "source", "reason", "raw (start)")
    for r in view["records"]:
        line = r["line"]
        t.add_row(
            plain(r["file"]), "" if line is None else str(line), plain(r["source"] or "?"), plain(r["reason"]),
            plain(r["raw"][:80]),
        )  # fmt: skip
    console.print(t)
