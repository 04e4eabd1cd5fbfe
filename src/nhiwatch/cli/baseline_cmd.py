"""``nhiwatch baseline [--until T]`` learns per-integration baselines; ``nhiwatch baseline show ID`` shows one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table

from nhiwatch.baseline import DEFAULT_HISTORY_DAYS, learn, show
from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, open_source, open_store
from nhiwatch.redact import redact_value
from nhiwatch.store import Store

baseline_app = typer.Typer(
    help="Per-integration baselines learned from a trailing history window.", invoke_without_command=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")


def _parse_until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"--until {text!r} is not an ISO 8601 time (e.g. 2026-10-01 or 2026-10-01T00:00:00Z)"
        ) from None
    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)


@baseline_app.callback()
def baseline(
    ctx: typer.Context,
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the history window (ISO 8601, UTC if no offset); default: now in the data."
        ),
    ] = None,
    history_days: Annotated[
        float, typer.Option(help="Length of the history window in days.")
    ] = DEFAULT_HISTORY_DAYS,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Learn every baseline (volume, envelope, cadence, value sets, failures) from the store's events."""
    if ctx.invoked_subcommand is not None:
        return
    end = _parse_until(until)
    with open_store(db, must_exist=True) as store:
        s = learn(store, until=end, history_days=history_days)
    t = Table(title="baseline", show_header=False, box=None)
    for k, v in (
        ("history", f"{s.start:%Y-%m-%d %H:%M} → {s.until:%Y-%m-%d %H:%M} UTC"),
        ("events", f"{s.events:,}"),
        ("integrations", str(s.integrations)),
        *((f"  {state}", str(n)) for state, n in sorted(s.states.items())),
        *((f"{name} rows", f"{n:,}") for name, n in s.rows.items()),
        ("seconds", f"{s.seconds:.2f}"),
    ):
        t.add_row(k, v)
    console.print(t)


@baseline_app.command("show")
def show_cmd(
    integration_id: Annotated[str, typer.Argument(help="Integration id (as in `nhiwatch inventory list`).")],
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Print what was learned for one integration, as JSON (secrets in it masked)."""
    with open_source(db, must_exist=True) as src:
        if isinstance(src, Store):
            data = redact_value(show(src, integration_id))
        else:
            data = src.get(f"/api/v1/integrations/{src.part(integration_id)}/baseline")
    console.print_json(orjson.dumps(data, default=str).decode())
