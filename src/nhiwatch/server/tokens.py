"""API tokens: created once, stored only as a SHA-256 digest, checked in constant time.

A token is ``nhw_`` followed by 32 random bytes (URL-safe base64), so a digest without salt is safe: the
search space is 2^256. ``verify`` compares the digest of what was presented with every live token's
digest using :func:`hmac.compare_digest`, so timing does not reveal which prefix matched. Roles are
ordered ``viewer < analyst < admin``; a token may expire, and a revoked token stays listed as revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nhiwatch.errors import ConfigError, NotFoundError
from nhiwatch.store import Store

ROLES = ("viewer", "analyst", "admin")
PREFIX = "nhw_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

TOKENS_DDL = """CREATE TABLE IF NOT EXISTS api_tokens (
    name VARCHAR PRIMARY KEY, role VARCHAR, digest VARCHAR, created_at TIMESTAMP, expires_at TIMESTAMP,
    revoked_at TIMESTAMP, last_used TIMESTAMP)"""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def ensure(store: Store) -> None:
    store.ensure(TOKENS_DDL)


def create_token(store: Store, name: str, role: str, expires: datetime | None = None) -> str:
    """Store a new token and return it: the only time its text exists outside the caller."""
    ensure(store)
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not NAME_RE.match(name):
        raise ConfigError(f"token name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    if expires is not None and expires <= now_utc():
        raise ConfigError(f"expiry {expires:%Y-%m-%d %H:%M} UTC is already past")
    token = PREFIX + secrets.token_urlsafe(32)
    with store.transaction():
        if store.scalar("SELECT count(*) FROM api_tokens WHERE name = ?", [name]):
            raise ConfigError(f"a token named {name!r} exists; revoke it first or choose another name")
        store.insert_rows(
            "api_tokens",
            ["name", "role", "digest", "created_at", "expires_at"],
            [(name, role, digest(token), now_utc(), expires)],
        )
    return token


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token's name, role and dates (never the digest), with its state."""
    ensure(store)
    now = now_utc()
    rows = store.records(
        "SELECT name, role, created_at, expires_at, revoked_at, last_used FROM api_tokens ORDER BY name"
    )
    for r in rows:
        r["state"] = (
            "revoked"
            if r["revoked_at"]
            else "expired"
            if r["expires_at"] and r["expires_at"] <= now
            else "active"
        )
    return rows


def revoke_token(store: Store, name: str) -> None:
    ensure(store)
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]):
            raise NotFoundError(f"no active token named {name!r}")
        store.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", [now_utc(), name])
    VERIFIED.clear()  # a revoked token is refused from its next request on


class VerifiedCache:
    """Tokens verified in the last few seconds, by digest, so a request does not query the store to sign in.

    An entry lives :attr:`ttl` seconds and never past the token's expiry; any revocation in this process
    (the API's and the CLI's, which reaches a running server through its API) clears the whole cache.
    Only successes are kept: an unknown token is looked up (and counted as a failure) every time."""

    def __init__(self, ttl: float = 5.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[Principal, float, datetime | None]] = {}
        self._generation = 0

    def get(self, where: str, presented: str) -> Principal | None:
        with self._lock:
            hit = self._entries.get((where, presented))
            if hit is None:
                return None
            principal, until, expires = hit
            if time.monotonic() >= until or (expires is not None and expires <= now_utc()):
                del self._entries[(where, presented)]
                return None
            return principal

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def put(
        self, where: str, presented: str, found: Principal, expires: datetime | None, generation: int
    ) -> None:
        """Keep ``found`` unless a revocation happened since ``generation`` was read (before the lookup)."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[(where, presented)] = (found, time.monotonic() + self.ttl, expires)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


VERIFIED = VerifiedCache()


def verify(store: Store, token: str) -> Principal | None:
    """The principal ``token`` belongs to, or None if it is unknown, expired or revoked."""
    if not token or len(token) > 200:
        return None
    return verify_digest(store, digest(token))


def verify_digest(store: Store, presented: str) -> Principal | None:
    """As :func:`verify`, from a digest (console sessions keep the digest, never the token)."""
    return lookup_digest(store, presented)[0]


def lookup_digest(store: Store, presented: str) -> tuple[Principal | None, datetime | None]:
    """As :func:`verify_digest`, with the token's expiry (None: it does not expire)."""
    ensure(store)
    now = now_utc()
    found: tuple[Principal | None, datetime | None] = (None, None)
    rows = store.fetchall(
        "SELECT name, role, digest, expires_at FROM api_tokens WHERE revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)",
        [now],
    )
    for name, role, stored, expires in rows:  # compare with every row: no early exit
        if hmac.compare_digest(presented, stored) and found[0] is None:
            found = (Principal(name, role), expires)
    return found


def touch(store: Store, name: str) -> None:
    """Record when a token was last used (at most once a minute per token keeps writes rare)."""
    store.execute(
        "UPDATE api_tokens SET last_used = ? WHERE name = ? "
        "AND (last_used IS NULL OR last_used < ? - INTERVAL 1 MINUTE)",
        [now_utc(), name, now_utc()],
    )
