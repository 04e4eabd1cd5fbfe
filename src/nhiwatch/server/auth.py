"""Authentication and roles for every route: Bearer tokens for the API, a session cookie for the console.

Each protected route depends on a :class:`Require` instance, which names the role it needs; tests walk
the app's routes and refuse any route without one. Failed attempts (a token presented but unknown,
expired or revoked) are counted per client IP, and past ``auth_failures_per_minute`` the IP gets 429 until
the minute has passed, which turns guessing into a crawl. Console sessions live in memory: the cookie
holds a random id, the server keeps the token's digest (re-checked on every request, so revoking a token
ends its sessions) and a CSRF token that every state-changing form must echo.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import HTTPException, Request

from nhiwatch.server.state import get_state
from nhiwatch.server.tokens import ROLES, Principal, digest, touch, verify_digest

SESSION_COOKIE = "nhw_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """A console page was asked for without a valid session: answered with the sign-in page (401)."""


class FailureLimiter:
    """Auth failures per client IP over a sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> deque[float]:
        q = self._fails.setdefault(ip, deque())
        while q and q[0] < now - 60:
            q.popleft()
        return q

    def check(self, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._recent(ip, now)
            if len(q) >= self.per_minute:
                wait = max(1, int(q[0] + 60 - now) + 1)
                raise HTTPException(
                    429, "too many failed sign-in attempts; try later", headers={"Retry-After": str(wait)}
                )

    def fail(self, ip: str) -> None:
        with self._lock:
            self._recent(ip, time.monotonic()).append(time.monotonic())
            if len(self._fails) > 10000:  # forget quiet IPs
                for k in [k for k, q in self._fails.items() if not q][:5000]:
                    del self._fails[k]


@dataclass
class Session:
    token_digest: str
    csrf: str
    expires: float


class Sessions:
    def __init__(self, hours: float) -> None:
        self.ttl = hours * 3600
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        s = Session(digest(token), secrets.token_urlsafe(32), time.time() + self.ttl)
        with self._lock:
            now = time.time()
            for k in [k for k, v in self._by_id.items() if v.expires < now]:
                del self._by_id[k]
            self._by_id[sid] = s
        return sid, s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            s = self._by_id.get(sid)
            if s is not None and s.expires < time.time():
                del self._by_id[sid]
                return None
            return s

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _principal(request: Request, token_digest: str) -> Principal | None:
    state = get_state(request)
    with state.db() as store:
        p = verify_digest(store, token_digest)
        if p is not None:
            touch(store, p.name)
    return p


class Require:
    """Dependency: the caller must hold ``role`` (API: Bearer token; console: session cookie)."""

    def __init__(self, role: str, *, console: bool = False) -> None:
        assert role in ROLES
        self.role = role
        self.console = console

    def __call__(self, request: Request) -> Principal:
        state = get_state(request)
        ip = client_ip(request)
        state.limiter.check(ip)
        p = self._from_session(request) if self.console else self._from_bearer(request)
        if p is None:
            state.limiter.fail(ip)
            state.metrics.inc("auth_failures")
            if self.console:
                raise LoginRequired()
            raise HTTPException(
                401, "invalid, expired or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not p.can(self.role):
            raise HTTPException(403, f"this needs the {self.role} role; token {p.name!r} is {p.role}")
        request.state.principal = p
        return p

    def _from_bearer(self, request: Request) -> Principal | None:
        scheme, _, cred = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not cred.strip():
            raise HTTPException(
                401,
                "missing token: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return _principal(request, digest(cred.strip()))

    def _from_session(self, request: Request) -> Principal | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            raise LoginRequired()
        s = get_state(request).sessions.get(sid)
        if s is None:
            return None
        p = _principal(request, s.token_digest)
        if p is not None:
            request.state.session = s
        return p


async def check_csrf(request: Request) -> None:
    """Dependency for console POSTs: the form field or header must carry the session's CSRF token."""
    s = get_state(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if s is None or not sent or not hmac.compare_digest(sent, s.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
