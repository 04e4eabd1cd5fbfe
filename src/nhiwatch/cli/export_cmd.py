"""``nhiwatch export --lake DIR|s3://bucket/prefix``: the store's events and rollups as a Parquet lake."""

from __future__ import annotations

from typing import Annotated

import typer

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, friendly_errors, open_store
from nhiwatch.lake.export import export_lake
from nhiwatch.lake.location import parse_lake


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)


def export_cmd(
    lake: Annotated[
        str,
        typer.Option(
            "--lake",
            help="Lake root: a directory (created if missing) or s3://bucket/prefix (AWS credential chain; "
            "AWS_ENDPOINT_URL_S3 for an S3-compatible store).",
        ),
    ],
    full: Annotated[
        bool, typer.Option("--full", help="Rewrite every event, not only those since the last export.")
    ] = False,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Write events (new ones since the last export), rollups and the inventory to the lake as Parquet."""
    with friendly_errors(db):
        where = parse_lake(lake)  # a bad --lake is refused before the store is opened
        with open_store(db, must_exist=True) as store:
            r = export_lake(store, where, full=full)
    rows = ", ".join(f"{name} {n:,}" for name, n in r.rows.items())
    console.print(
        f"exported {r.events:,} new event(s) to {r.lake} (cursor: ingest batch {r.cursor}); {rows}; "
        f"{r.seconds:.1f} s"
    )
