"""Authentication and roles for every route: Bearer tokens for the API, a session cookie for the console.

Each protected route depends on a :class:`Require` instance, which names the role it needs; tests walk
the app's routes and refuse any route without one. The presented token is verified first (a digest lookup
on a read cursor, so sign-in never waits behind an ingest; a Bearer token verified in the last few seconds is
taken from :data:`~nhiwatch.server.tokens.VERIFIED`, which a revocation clears): a valid token always signs in. Failed attempts
(a token presented but unknown, expired or revoked) are counted per client IP, and past
``auth_failures_per_minute`` the IP's failures are answered 429 until the minute has passed, so a
misconfigured shipper or a guesser behind a shared address does not lock out a valid token from the same
address; guessing stays hopeless against 256-bit tokens and each failure still costs the guesser a
Retry-After. Pushes are limited per token (:class:`RateLimit`). Console sessions live in memory: the cookie
holds a random id, the server keeps the token's digest (re-checked on every request, so revoking a token
ends its sessions) and a CSRF token that every state-changing form must echo. The server file's local
credential (:mod:`nhiwatch.server.local`) is an admin Bearer token accepted only from this machine.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import HTTPException, Request

from nhiwatch.server.local import LOCAL_PRINCIPAL, is_local_client
from nhiwatch.server.state import get_state
from nhiwatch.server.tokens import ROLES, VERIFIED, Principal, digest, lookup_digest, touch

SESSION_COOKIE = "nhw_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """A console page was asked for without a valid session: answered with the sign-in page (401)."""


class RateLimit:
    """Events per key over a sliding minute; :meth:`hit` records one or answers 429 with Retry-After."""

    def __init__(self, per_minute: int, message: str) -> None:
        self.per_minute = per_minute
        self.message = message
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._hits.setdefault(key, deque())
        while q and q[0] < now - 60:
            q.popleft()
        return q

    def _refuse(self, q: deque[float], now: float) -> HTTPException:
        wait = max(1, int(q[0] + 60 - now) + 1)
        return HTTPException(429, self.message, headers={"Retry-After": str(wait)})

    def check(self, key: str) -> None:
        """429 if ``key`` is at its limit (records nothing)."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            if len(q) >= self.per_minute:
                raise self._refuse(q, now)

    def hit(self, key: str) -> None:
        """Count one event for ``key``; 429 (not counted) if it is at its limit."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            if len(q) >= self.per_minute:
                raise self._refuse(q, now)
            q.append(now)
            if len(self._hits) > 10000:  # forget quiet keys
                for k in [k for k, v in self._hits.items() if not v][:5000]:
                    del self._hits[k]


class FailureLimiter(RateLimit):
    """Auth failures per client IP over a sliding minute: past the limit a failure is answered 429."""

    def __init__(self, per_minute: int) -> None:
        super().__init__(per_minute, "too many failed sign-in attempts from this address; try later")

    def fail(self, ip: str) -> None:
        """Count a failure; 429 (instead of 401) once the address is past its limit."""
        self.hit(ip)


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


def _principal(request: Request, token_digest: str, *, cache: bool = False) -> Principal | None:
    """The token's principal; ``cache``: a Bearer token verified seconds ago is not looked up again (console
    sessions are re-checked on every request)."""
    state = get_state(request)
    where = str(state.settings.db_path)
    cached = VERIFIED.get(where, token_digest) if cache else None
    if cached is not None:
        return cached  # verified seconds ago: no store query on the request's path (small pushes)
    generation = VERIFIED.generation()
    with state.reader() as store:
        p, expires = lookup_digest(store, token_digest)
    if p is not None:
        VERIFIED.put(where, token_digest, p, expires, generation)
    if p is not None and state.lock.acquire(blocking=False):
        try:  # ``last_used`` is advisory: skipped while a long write holds the store
            with state.db() as store:
                touch(store, p.name)
        finally:
            state.lock.release()
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
        t0 = time.perf_counter()
        p = self._from_session(request) if self.console else self._from_bearer(request)
        request.state.auth_seconds = time.perf_counter() - t0  # reported in a push's Server-Timing
        if p is None:
            state.metrics.inc("auth_failures")
            state.limiter.fail(ip)
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
        presented = digest(cred.strip())
        local = get_state(request).local_digest
        if local is not None and hmac.compare_digest(presented, local):
            state = get_state(request)
            if is_local_client(client_ip(request), state.settings.listen_host):
                return Principal(LOCAL_PRINCIPAL, "admin")
            return None
        return _principal(request, presented, cache=True)

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
