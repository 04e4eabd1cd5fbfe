"""``nhiwatch inventory validate|list|gaps``: the integration inventory, and what it is missing.

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
        found = inventory_gaps(src) if isinstance(src, Store) else src.get("/api/v1/inventory/gaps")["gaps"]
    if not found:
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
