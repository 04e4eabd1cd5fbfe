"""``nhiwatch netranges``: the cloud providers' address ranges in force, and refreshing them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail
from nhiwatch.errors import NhiwatchError
from nhiwatch.netranges.refresh import OFFICIAL, refresh
from nhiwatch.netranges.table import load_ranges

netranges = typer.Typer(help="Cloud and hosting providers' published address ranges.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(netranges, name="netranges")


@netranges.command("refresh")
def refresh_cmd(
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="A range file or http(s) URL (AWS ip-ranges.json, Google cloud.json, Azure ServiceTags_Public, "
            "a geofeed CSV); repeat for several. Default: the official URLs.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of next to the store.")
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Download (or read) the providers' range files, check every prefix and write the store's copy."""
    try:
        r = refresh(db, sources or (), out=out)
    except NhiwatchError as exc:
        raise fail(str(exc)) from None
    for provider, n in r.counts.items():
        console.print(f"{provider}: {n:,} prefixes from {r.sources.get(provider, '?')}")
    console.print(f"wrote {r.path}")


@netranges.command("show")
def show_cmd(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Which ranges are in force for the store, and how many prefixes per provider."""
    ranges, origin = load_ranges(db)
    counts: dict[str, int] = {}
    for x in ranges:
        counts[x.provider] = counts.get(x.provider, 0) + 1
    console.print(f"ranges in force: {origin}")
    for provider, n in sorted(counts.items()):
        console.print(f"  {provider}: {n:,} prefixes")
    console.print(f"refresh with `nhiwatch netranges refresh` (default sources: {', '.join(OFFICIAL)})")
