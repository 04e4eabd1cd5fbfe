"""``nhiwatch prune``: keep raw events for weeks and rollups for a year (see :mod:`nhiwatch.retention`)."""

from __future__ import annotations

from typing import Annotated

import typer

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, open_store
from nhiwatch.retention import DEFAULT_RAW_DAYS, DEFAULT_ROLLUP_DAYS, prune


def register(app: typer.Typer) -> None:
    app.command("prune")(prune_cmd)


def prune_cmd(
    raw_days: Annotated[
        float,
        typer.Option(
            "--raw-days",
            envvar="NHIWATCH_RAW_DAYS",
            help="Days of raw events to keep (evidence of alerts stays).",
        ),
    ] = DEFAULT_RAW_DAYS,
    rollup_days: Annotated[
        float, typer.Option("--rollup-days", envvar="NHIWATCH_ROLLUP_DAYS", help="Days of rollups to keep.")
    ] = DEFAULT_ROLLUP_DAYS,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Delete raw events and rollups past their retention; baselines keep learning from the rollups."""
    with open_store(db, must_exist=True) as store:
        r = prune(store, raw_days=raw_days, rollup_days=rollup_days)
    console.print(
        f"deleted {r.events_deleted:,} raw events before {r.raw_before:%Y-%m-%d} "
        f"(kept {r.evidence_kept:,} that are evidence of alerts) and {r.rollup_rows_deleted:,} rollup rows "
        f"before {r.rollups_before:%Y-%m-%d}"
    )
