"""``nhiwatch inventory validate|list|gaps|suggest``: the integration inventory, what it is missing, and drafts.

``list`` and ``gaps`` build their rows from :mod:`nhiwatch.server.queries`, fed by the store or, while
``nhiwatch serve`` holds it, by the same reads through the server's API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, friendly_errors, minute, open_source
from nhiwatch.inventory import load_inventory
from nhiwatch.inventory.suggest import suggest, to_yaml
from nhiwatch.inventory.suggest import validate as validate_draft
from nhiwatch.outputs.plain import plain
from nhiwatch.server.queries import inventory_gaps, list_integrations
from nhiwatch.store import Store

inventory_app = typer.Typer(help="The integration inventory (kept as code).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(inventory_app, name="inventory")


@inventory_app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="Inventory YAML.")]) -> None:
    """Check an inventory file; every problem is reported with its line."""
    with friendly_errors():
        inv = load_inventory(file)
    n_id = sum(len(i.identities) for i in inv.integrations)
    console.print(f"[green]ok[/green]: {len(inv.integrations)} integrations, {n_id} identities")


@inventory_app.command("list")
def list_(
    file: Annotated[
        Path | None, typer.Option("--inventory", help="List this file instead of the store.")
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Integrations with owner, purpose, risk tier and last activity (declared and discovered)."""
    if file is not None:
        with friendly_errors():
            inv = load_inventory(file)
        rows: list[tuple[str, ...]] = [
            (i.id, i.name, i.owner or "—", i.kind, i.risk_tier, i.purpose or "—", "", "declared")
            for i in inv.integrations
        ]
    else:
        if not db.exists():
            raise fail(f"no store at {db}: pass --inventory FILE or ingest first")
        with open_source(db) as src:
            items = (
                list_integrations(src)
                if isinstance(src, Store)
                else src.get("/api/v1/integrations")["integrations"]
            )
        rows = [_row(i) for i in sorted(items, key=lambda i: (bool(i["discovered"]), i["id"]))]
    t = Table("id", "name", "owner", "kind", "tier", "purpose", "last seen", "origin")
    for r in rows:
        t.add_row(*[plain(x) for x in r])
    console.print(t)


def _row(i: dict[str, Any]) -> tuple[str, ...]:
    origin = "discovered" if i["discovered"] else "declared"
    values = (i["id"], i["name"], i["owner"], i["kind"], i["risk_tier"], i["purpose"], minute(i["last_seen"]))
    return (*("—" if v is None else str(v) for v in values), origin)


@inventory_app.command("gaps")
def gaps(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Discovered integrations (seen in logs, in no inventory) and declared ones with no owner or purpose."""
    if not db.exists():
        raise fail(f"no store at {db}: ingest logs first")
    with open_source(db) as src:
        if isinstance(src, Store):
            found, known = inventory_gaps(src), len(list_integrations(src))
        else:
            found = src.get("/api/v1/inventory/gaps")["gaps"]
            known = int(src.get("/api/v1/integrations")["total"])
    if not found:
        if not known:
            console.print(
                "nothing to check yet: the store knows no integration (ingest logs, with --inventory FILE)"
            )
            return
        console.print("[green]no gaps[/green]: every non-human actor seen is declared, owned and explained")
        return
    t = Table("integration", "gap", "seen as", "events", "last seen")
    for g in found:
        t.add_row(
            plain(g["integration_id"]),
            g["gap"],
            plain(g["identity"]),
            f"{g['events']:,}",
            str(g["last_seen"]),
        )
    console.print(t)


@inventory_app.command("suggest")
def suggest_(
    db: DbOption = DEFAULT_DB_PATH,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the draft here (refuses to overwrite).")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--id", help="Only this discovered integration (repeatable).")
    ] = None,
) -> None:
    """Draft inventory YAML for the non-human identities seen in the logs and declared nowhere.

    Each entry carries the identity, kind, destinations, scopes and schedule observed, and an owner guessed
    from who installed it or consented to it: a draft for a person to review and commit, never applied."""
    if not db.exists():
        raise fail(f"no store at {db}: ingest logs first")
    with open_source(db) as src:
        if isinstance(src, Store):
            text = to_yaml(suggest(src, only=only))
        else:
            text = src.get("/api/v1/inventory/suggest", {"id": only or []})["yaml"]
    try:
        validate_draft(text)
    except ValueError as exc:  # a bug, not the user's: say so plainly rather than write a broken draft
        raise fail(f"the draft does not validate as an inventory ({exc}); please report this") from None
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise fail(f"{out} exists: choose another file (the draft never overwrites one)") from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(f"[green]wrote[/green] {plain(str(out))}: review it, then merge the entries you keep")
