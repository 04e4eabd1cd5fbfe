"""``nhiwatch serve`` (the HTTP API and console) and ``nhiwatch token create | list | revoke``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, console_err, fail, minute, open_source
from nhiwatch.outputs.plain import plain
from nhiwatch.store import Store

token_app = typer.Typer(help="API tokens for `nhiwatch serve` (stored hashed).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")


def serve(
    db: DbOption = DEFAULT_DB_PATH,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    interval: Annotated[
        float, typer.Option(help="Longest idle wait of the scorer (a push wakes it at once).")
    ] = 2.0,
    max_body_mb: Annotated[int, typer.Option(help="Largest push body (MiB, after gunzip).", min=1)] = 32,
    max_push_lines: Annotated[int, typer.Option(help="Most lines in one push.", min=1)] = 250_000,
    max_depth: Annotated[
        int, typer.Option(help="Deepest JSON nesting accepted in pushes and API bodies.", min=2, max=512)
    ] = 64,
    pushes_per_minute: Annotated[
        int, typer.Option(help="Pushes a minute per token before 429.", min=1)
    ] = 120,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory YAML that `POST /api/v1/inventory/reload` re-reads.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Trust X-Forwarded-Proto/For from a TLS-terminating proxy on 127.0.0.1 "
            "(session cookies then get Secure, and rate limits see client IPs)."
        ),
    ] = False,
) -> None:
    """Serve the API (OpenAPI at /api/v1/openapi.json) and the web console; score pushed events continuously."""
    try:
        import uvicorn

        from nhiwatch.server.app import create_app
        from nhiwatch.server.state import Settings
    except ImportError as exc:
        raise fail(
            f"the server needs its extra: pip install 'nhiwatch[server]' ({exc.name} missing)"
        ) from None
    if inventory is not None and not inventory.exists():
        raise fail(f"no inventory file at {inventory}")
    from nhiwatch.server.local import url_for

    url = url_for(host, port)
    settings = Settings(
        db,
        worker_interval=interval,
        max_body_bytes=max_body_mb * 1024 * 1024,
        max_push_lines=max_push_lines,
        max_nesting_depth=max_depth,
        pushes_per_minute=pushes_per_minute,
        inventory=inventory,
        url=url,
        listen_host=host,
    )
    try:
        app = create_app(db, settings=settings)
    except Exception as exc:
        raise fail(str(exc)) from None
    state = app.state.nw
    with state.db() as store:
        if not store.scalar("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"):
            console_err.print(
                "[yellow]no API token yet: run `nhiwatch token create --role admin --name NAME` "
                "(it works while the server runs)[/yellow]"
            )
    console_err.print(
        f"nhiwatch serving {db} on http://{host}:{port}/ (console); API tokens: `nhiwatch token create`; "
        "the CLI's read commands go through this server while it holds the store"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what holds the token.")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    expires: Annotated[str | None, typer.Option(help="Expiry (ISO 8601, UTC if no offset).")] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Create a token; it is printed once and stored only as a SHA-256 digest.

    While `nhiwatch serve` holds the store, the token is created through that server."""
    from nhiwatch.cli.detect_cmd import parse_time
    from nhiwatch.server.tokens import ROLES, create_token

    t = parse_time(expires, "--expires")
    with open_source(db) as src:
        if isinstance(src, Store):
            token = create_token(src, name, role, t)
        else:
            if role not in ROLES:  # the same words as the store's own check
                raise fail(f"role must be one of {', '.join(ROLES)}, got {role!r}")
            body = {"name": name, "role": role, "expires": t.isoformat() if t else None}
            token = src.request("POST", "/api/v1/tokens", json=body)["token"]
    console_err.print(f"token {name!r} ({role}) created; it is shown once, keep it safe:")
    typer.echo(token)


@token_app.command("list")
def token_list(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Tokens with role, dates and state (never the token itself)."""
    from rich.table import Table

    from nhiwatch.server.tokens import list_tokens

    with open_source(db) as src:
        rows = list_tokens(src) if isinstance(src, Store) else src.get("/api/v1/tokens")["tokens"]
    t = Table("name", "role", "state", "created", "expires", "last used")
    for r in rows:
        t.add_row(
            plain(r["name"]), r["role"], r["state"], minute(r["created_at"]),
            minute(r["expires_at"]) or "never", minute(r["last_used"]) or "never",
        )  # fmt: skip
    console.print(t)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")], db: DbOption = DEFAULT_DB_PATH
) -> None:
    """Revoke a token: requests and console sessions using it are refused from now on."""
    from nhiwatch.server.tokens import revoke_token

    with open_source(db) as src:
        if isinstance(src, Store):
            revoke_token(src, name)
        else:
            src.request("DELETE", f"/api/v1/tokens/{src.part(name)}")
    console.print(f"token {name!r} revoked")
