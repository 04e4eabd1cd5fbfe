"""The application factory: ``create_app(db_path)`` wires the store, auth, routers, console and worker.

Errors never reach a client as a stack trace: library errors become 400 (bad input) or 404 (unknown
id) with their one-line message, anything else a bare 500 that is logged server-side; messages that may
quote input are redacted, and no answer names a server path (the store's directory, the temporary
directory). A JSON body nested deeper than ``max_nesting_depth`` is refused with 400 before any parser sees
it. Served with a URL (``nhiwatch serve``), the app writes the server file of :mod:`nhiwatch.server.local`
while it runs. Every response carries a strict Content-Security-Policy (scripts only from this server) and
no-sniff/no-frame headers.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from nhiwatch.alerts import tables
from nhiwatch.errors import NhiwatchError, NotFoundError
from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.redact import protect_logs, redact, redact_value
from nhiwatch.response.base import Connection
from nhiwatch.server import (
    api_admin,
    api_alerts,
    api_fleet,
    api_ingest,
    api_integrations,
    api_meta,
    api_response,
    api_store,
    audit,
    console,
    console_response,
    local,
)
from nhiwatch.server.auth import FailureLimiter, LoginRequired, RateLimit, Sessions
from nhiwatch.server.intake import Intake
from nhiwatch.server.respond import Responder
from nhiwatch.server.shape import ShapeError, check_bytes
from nhiwatch.server.spool import Spool, spool_path
from nhiwatch.server.state import ServerState, Settings
from nhiwatch.server.tokens import digest
from nhiwatch.server.tokens import ensure as ensure_tokens
from nhiwatch.server.worker import Worker

log = logging.getLogger("nhiwatch.server")
STATIC = Path(__file__).parent / "static"
BULK = (
    "/api/v1/ingest",
    "/api/v1/inventory/reload",
    "/api/v1/evaluate",
)  # these read their bodies with their own limit
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(db_path: str | Path, *, settings: Settings | None = None) -> FastAPI:
    """A FastAPI app over the store at ``db_path``; the scoring worker starts with the app's lifespan."""
    protect_logs()  # secrets in a logged path, query or traceback are masked before any handler
    cfg = settings or Settings(Path(db_path))
    cfg.db_path = Path(db_path)
    state = ServerState(cfg, FailureLimiter(cfg.auth_failures_per_minute), Sessions(cfg.session_hours))
    try:
        spool = Spool(spool_path(cfg.db_path))  # a spool others could read is refused, not used
    except Exception:
        state.close()
        raise
    state.push_limiter = RateLimit(
        cfg.pushes_per_minute, f"more than {cfg.pushes_per_minute} pushes a minute for this token; slow down"
    )
    with state.db() as store:  # every table a read route touches exists before readers run beside writes
        ensure_tokens(store)
        ensure_tables(store)
        tables.ensure(store)
        audit.ensure(store)
    state.responder = Responder(cfg.response, Connection(cfg.collectors)) if cfg.response else None
    state.intake = Intake(state, spool)
    with state.db() as store:  # pushes accepted before a crash or a stop are ingested first
        replayed = state.intake.replay(store)
    if replayed:
        log.warning("%d accepted push(es) found in the spool: they are ingested first", replayed)
    if cfg.worker_enabled:
        state.worker = Worker(state, cfg.worker_interval)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if cfg.url is not None:  # the local CLI finds this server (and a credential for it) here
            state.local_digest = digest(local.write(cfg.db_path, cfg.url))
        if state.worker is not None:
            state.worker.start()
        try:
            yield
        finally:
            try:
                state.close()
            finally:
                if cfg.url is not None:
                    local.remove(cfg.db_path)

    app = FastAPI(
        title="nhiwatch",
        summary="Continuous monitoring of SaaS integrations (non-human identities) over HTTP.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served authenticated at /api/v1/openapi.json
        lifespan=lifespan,
    )
    app.state.nw = state
    for module in (
        api_meta,
        api_ingest,
        api_alerts,
        api_integrations,
        api_fleet,
        api_admin,
        api_response,
        api_store,
        console,
        console_response,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _handlers(app, _path_hider(cfg.db_path))

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.url.path not in BULK:
            size = request.headers.get("content-length", "")
            if not size.isdigit() and request.headers.get("transfer-encoding"):
                return JSONResponse({"detail": "send a Content-Length"}, 411)
            if size.isdigit() and int(size) > cfg.max_form_bytes:
                return JSONResponse({"detail": f"request body larger than {cfg.max_form_bytes:,} bytes"}, 413)
            if "form" not in request.headers.get("content-type", ""):
                try:  # a JSON body nested too deep would exhaust the parser's recursion: refuse it first
                    check_bytes(await request.body(), cfg.max_nesting_depth, cfg.max_form_bytes + 1)
                except ShapeError as exc:
                    return JSONResponse({"detail": exc.message}, 400)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _is_console(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/metrics", "/healthz"))


def _path_hider(db_path: Path) -> Callable[[str], str]:
    """A function that replaces server paths (under the store's directory or the temporary directory)."""
    roots = {str(Path(tempfile.gettempdir()).resolve()), tempfile.gettempdir(), str(db_path.resolve().parent)}
    roots |= {str(db_path.parent)} if db_path.parent.is_absolute() else set()
    usable = sorted((r for r in roots if len(r) > 1), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(r) + r"(?:/[^\s'\"]*)?" for r in usable)) if usable else None

    def hide(text: str) -> str:
        return pattern.sub("<a server path>", text) if pattern else text

    return hide


def _handlers(app: FastAPI, hide: Callable[[str], str]) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        return console.login_page(request, "Sign in with an API token.", status=401)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = hide(exc.detail) if isinstance(exc.detail, str) else exc.detail
        if _is_console(request) and exc.status_code != 401:
            return console.error_page(request, exc.status_code, redact(str(detail)), dict(exc.headers or {}))
        return JSONResponse({"detail": redact_value(detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        if _is_console(request):
            return console.error_page(request, 404, hide(redact(str(exc))))
        return JSONResponse({"detail": hide(redact(str(exc)))}, 404)

    @app.exception_handler(NhiwatchError)
    async def bad_input(request: Request, exc: NhiwatchError) -> Response:
        if _is_console(request):
            return console.error_page(request, 400, hide(redact(str(exc))))
        return JSONResponse({"detail": hide(redact(str(exc)))}, 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()
        ]  # no echo of the input
        return JSONResponse({"detail": errors}, 422)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error (logged on the server)"}, 500)
