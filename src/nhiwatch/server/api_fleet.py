"""``/api/v1/fleet-events`` and the console's ``/fleet`` page: vendor outages and silences (fleet events).

A fleet event (:mod:`nhiwatch.fleet`) is one outage or silence that hit most integrations of a platform at
once; the per-integration findings it explains are kept as alerts suppressed by ``fleet:<event id>``, counted
here as ``explained_alerts``. Read-only, for any signed-in role, like the other read endpoints.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from nhiwatch.alerts.suppress import FLEET_PREFIX
from nhiwatch.fleet import load_events
from nhiwatch.fleet.table import COLUMNS
from nhiwatch.redact import redact_value
from nhiwatch.server.auth import Require
from nhiwatch.server.console import render
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal
from nhiwatch.server.values import MAX_OFFSET, UtcTime
from nhiwatch.store import Store

router = APIRouter(tags=["fleet"])
StateDep = Annotated[ServerState, Depends(get_state)]
Kind = Literal["outage", "silence"]
FIELDS = tuple(c for c in COLUMNS if c != "updated_at")  # the stored row, less bookkeeping


def fleet_events(
    store: Store,
    since: Any = None,
    until: Any = None,
    kind: str | None = None,
    group: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of fleet events with how many alerts each explains; values from logs are redacted."""
    total, rows = load_events(store, since, until, kind=kind, group=group, limit=limit, offset=offset)
    counts: dict[str, int] = {}
    if rows and store.table_exists("alerts"):
        counts = dict(
            store.fetchall(
                "SELECT suppressed_by, count(*) FROM alerts WHERE suppressed_by IN (SELECT unnest(?::VARCHAR[]))"
                " GROUP BY ALL",
                [[FLEET_PREFIX + r["event_id"] for r in rows]],
            )
        )
    items = [
        dict(redact_value({k: r[k] for k in FIELDS}))
        | {"explained_alerts": int(counts.get(FLEET_PREFIX + r["event_id"], 0))}
        for r in rows
    ]
    return total, items


@router.get("/api/v1/fleet-events")
def list_fleet_events(
    state: StateDep,
    _: Annotated[Principal, Depends(Require("viewer"))],
    since: Annotated[UtcTime | None, Query()] = None,
    until: Annotated[UtcTime | None, Query()] = None,
    kind: Annotated[Kind | None, Query()] = None,
    group: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Fleet events overlapping ``[since, until)``, newest first; ``group`` is a platform (``salesforce``)."""
    with state.reader() as store:
        total, items = fleet_events(store, since, until, kind, group, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "fleet_events": items}


@router.get("/fleet", response_class=HTMLResponse, include_in_schema=False)
def fleet_page(
    request: Request, state: StateDep, _: Annotated[Principal, Depends(Require("viewer", console=True))]
) -> HTMLResponse:
    with state.reader() as store:
        total, items = fleet_events(store, limit=200)
    return render(request, "fleet.html", items=items, total=total)
