"""``nhiwatch ingest``: read log files into the store, with the inventory and tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, open_store
from nhiwatch.pipeline import IngestOutcome, ingest_all
from nhiwatch.redact import redact
from nhiwatch.sources import files as F

SHOWN_FILES = 20  # files not read that the summary names; the quarantine has them all


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders (plain or .gz).")],
    inventory: Annotated[Path | None, typer.Option(help="Inventory YAML (integrations as code).")] = None,
    tickets: Annotated[
        Path | None, typer.Option(help="Change tickets / business events (CSV or JSON).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Force a source (e.g. github, okta) instead of detecting it.")
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Read logs in their vendors' formats; bad records go to quarantine with a reason."""
    with open_store(db) as store:
        n_files = len(F.expand(paths)) if all(p.exists() for p in paths) else 0
        with Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=n_files < 20,
        ) as bar:
            task = bar.add_task("files", total=n_files)
            outcome = ingest_all(
                store,
                paths,
                inventory=inventory,
                tickets=tickets,
                source=source,
                progress=lambda n: bar.advance(task, n),
            )
    _print(outcome)
    if outcome.report.read == 0 and outcome.report.stored == 0 and outcome.report.duplicates == 0:
        why = redact("; ".join(outcome.report.unreadable[:3])) or "no records found"
        raise fail(f"nothing could be read: {why}")


def _print(outcome: IngestOutcome) -> None:
    r = outcome.report
    t = Table(title="ingest", show_header=False, box=None)
    for k, v in (
        ("files", r.files),
        ("records read", r.read),
        ("stored", r.stored),
        ("skipped as duplicate", r.duplicates),
        ("quarantined", r.quarantined),
        ("seconds", f"{r.seconds:.2f}"),
        ("events/s", f"{r.read / r.seconds:,.0f}" if r.seconds else "-"),
    ):
        t.add_row(k, str(v))
    console.print(t)
    for src, n in sorted(r.by_source.items()):
        console.print(f"  {src}: {n:,} stored")
    if outcome.inventory_size is not None:
        console.print(
            f"inventory: {outcome.inventory_size} integrations; resolved {outcome.resolved:,} events"
        )
    if outcome.tickets is not None:
        console.print(f"tickets: {outcome.tickets} stored")
    if r.quarantined:
        console.print(
            f"[yellow]{r.quarantined} record(s) quarantined[/yellow]; see them with `nhiwatch quarantine`"
        )
    if r.unreadable:
        console.print(f"[yellow]{len(r.unreadable)} file(s) not read[/yellow] (the rest were ingested):")
        for line in r.unreadable[:SHOWN_FILES]:
            console.print(f"  [yellow]{escape(redact(line))}[/yellow]", soft_wrap=True)
        if len(r.unreadable) > SHOWN_FILES:
            console.print(f"  ... and {len(r.unreadable) - SHOWN_FILES} more; see `nhiwatch quarantine`")
        if any("unrecognised format" in line for line in r.unreadable):
            console.print(supported_formats(), soft_wrap=True)


def supported_formats() -> str:
    """What `nhiwatch ingest` recognises, for a user whose file matched none of it."""
    from nhiwatch.sources.registry import all_sources

    listed = "\n".join(f"  {s.id:34} {s.title} ({s.layout})" for s in all_sources())
    return (
        "formats nhiwatch recognises by content (plain or .gz; force one with --source ID or --source VENDOR):\n"
        f"{listed}\nsee docs/sources.md for the fields each one reads"
    )
