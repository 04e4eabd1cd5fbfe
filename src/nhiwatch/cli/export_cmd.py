"""``nhiwatch export --lake DIR``: the store's events and rollups as a Hive-partitioned Parquet lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, friendly_errors, open_store
from nhiwatch.lake.export import export_lake, lake_path


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)


def export_cmd(
    lake: Annotated[str, typer.Option("--lake", help="Lake root directory (created if missing).")],
    full: Annotated[
        bool, typer.Option("--full", help="Rewrite every event, not only those since the last export.")
    ] = False,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Write events (new ones since the last export), rollups and the inventory to the lake as Parquet."""
    with friendly_errors(db):
        root: Path = lake_path(lake)
        with open_store(db, must_exist=True) as store:
            r = export_lake(store, root, full=full)
    rows = ", ".join(f"{name} {n:,}" for name, n in r.rows.items())
    console.print(
        f"exported {r.events:,} new event(s) to {r.lake} (cursor: ingest batch {r.cursor}); {rows}; "
        f"{r.seconds:.1f} s"
    )
