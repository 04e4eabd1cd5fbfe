"""``/api/v1/integrations``: the inventory and discovered integrations, one with its baseline and charts.

Each integration carries owner, purpose, risk tier, last activity, open alerts and a baseline summary;
``/{id}/baseline`` is :func:`nhiwatch.baseline.show` and ``/{id}/charts`` the console's Vega-Lite specs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from nhiwatch.errors import NhiwatchError, NotFoundError
from nhiwatch.redact import redact_value
from nhiwatch.server import charts, queries
from nhiwatch.server.auth import Require
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])
StateDep = Annotated[ServerState, Depends(get_state)]
Viewer = Annotated[Principal, Depends(Require("viewer"))]


@router.get("")
def list_integrations(state: StateDep, _: Viewer) -> dict[str, Any]:
    """Every declared and discovered integration; ownerless and discovered ones are flagged."""
    with state.reader() as store:
        items = queries.list_integrations(store)
    return {"total": len(items), "integrations": items}


@router.get("/{integration_id}")
def get_integration(integration_id: str, state: StateDep, _: Viewer) -> dict[str, Any]:
    with state.reader() as store:
        return queries.get_integration(store, integration_id)


@router.get("/{integration_id}/baseline")
def get_baseline(integration_id: str, state: StateDep, _: Viewer) -> dict[str, Any]:
    """The learned baseline in full (profile, envelope, hourly volume, value sets)."""
    from nhiwatch.baseline import show

    with state.reader() as store:
        queries.get_integration(store, integration_id)  # 404 for an unknown id
        try:
            return dict(redact_value(show(store, integration_id)))
        except NhiwatchError as exc:
            raise NotFoundError(f"no baseline for {integration_id!r}: {exc}") from None


@router.get("/{integration_id}/charts")
def get_charts(integration_id: str, state: StateDep, _: Viewer) -> dict[str, Any]:
    """Vega-Lite specs of observed activity against the baseline (volume, hour-of-week, destinations)."""
    with state.reader() as store:
        queries.get_integration(store, integration_id)
        return charts.all_charts(store, integration_id)
