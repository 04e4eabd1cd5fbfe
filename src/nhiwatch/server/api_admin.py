"""Admin endpoints: API tokens, suppression rules, and reloading the inventory.

A token's text is returned once, by ``POST /api/v1/tokens``; afterwards only its name, role and dates
are shown. An inventory reload replaces the declared integrations (discovered ones are kept) and
re-attributes every event, exactly as ``nhiwatch ingest --inventory`` does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from nhiwatch.alerts.suppress import describe, load_rules
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.inventory import load_inventory
from nhiwatch.pipeline import attribute, replace_inventory
from nhiwatch.redact import redact_value
from nhiwatch.server.auth import Require
from nhiwatch.server.body import read_limited
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal, create_token, list_tokens, revoke_token
from nhiwatch.server.values import UtcTime

router = APIRouter(prefix="/api/v1", tags=["admin"])
StateDep = Annotated[ServerState, Depends(get_state)]
Admin = Annotated[Principal, Depends(Require("admin"))]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "analyst", "admin"]
    expires: UtcTime | None = None


@router.get("/tokens")
def tokens(state: StateDep, _: Admin) -> dict[str, Any]:
    with state.reader() as store:
        return {"tokens": list_tokens(store)}


@router.post("/tokens", status_code=201)
def new_token(body: TokenIn, state: StateDep, _: Admin) -> dict[str, Any]:
    """Create a token; its text is in this answer only."""
    with state.db() as store:
        token = create_token(store, body.name, body.role, body.expires)
    return {"name": body.name, "role": body.role, "token": token}


@router.delete("/tokens/{name}")
def delete_token(name: str, state: StateDep, _: Admin) -> dict[str, Any]:
    with state.db() as store:
        revoke_token(store, name)
    return {"name": name, "state": "revoked"}


@router.get("/suppressions")
def suppressions(state: StateDep, _: Admin) -> dict[str, Any]:
    with state.reader() as store:
        return {"rules": [redact_value(describe(r)) for r in load_rules(store)]}


@router.post("/inventory/reload")
async def reload_inventory(request: Request, _: Admin) -> dict[str, Any]:
    """Replace the declared inventory with the YAML body, or re-read the server's ``--inventory`` file."""
    state = get_state(request)
    body = await read_limited(request, state.settings.max_body_bytes)
    if body.strip():
        with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as fh:
            fh.write(body)
            path = Path(fh.name)
        try:
            return await run_in_threadpool(_reload, state, path, "the inventory body")
        finally:
            path.unlink(missing_ok=True)
    if state.settings.inventory is None:
        raise HTTPException(400, "send the inventory YAML as the body (the server has no --inventory file)")
    return await run_in_threadpool(_reload, state, state.settings.inventory, "the server's inventory file")


def _reload(state: ServerState, path: Path, label: str) -> dict[str, Any]:
    try:
        inv = load_inventory(path)  # raises ConfigError (400) before anything changes
    except NhiwatchError as exc:  # the message names the file: say which one without a server path
        raise type(exc)(str(exc).replace(str(path), label)) from None
    except RecursionError:  # YAML nested thousands of levels deep ("- - - - ..."): nothing was changed
        raise ConfigError(f"{label}: nested too deeply to be an inventory") from None
    with state.db() as store:
        changed = replace_inventory(store, inv)
        resolved = attribute(store, everything=changed)
    return {"integrations": len(inv.integrations), "resolved": resolved}
