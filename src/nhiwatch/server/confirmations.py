"""Short-lived, single-use confirmations for response actions, bound to alert, action, object and user.

The first call returns a random nonce; only its SHA-256 digest is kept, with what it confirms. The second
call presents it: it is consumed whatever the outcome, and accepted only for the same alert, action and
user before it expires. In memory: a restart forgets every pending confirmation (ask again).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pending:
    alert_id: str
    action: str
    user: str
    object: str
    description: str
    expires: float


class Confirmations:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic  # tests move it on

    @staticmethod
    def _key(nonce: str) -> str:
        return hashlib.sha256(nonce.encode("utf-8", "replace")).hexdigest()

    def issue(self, alert_id: str, action: str, user: str, object: str, description: str) -> str:
        nonce = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            for k in [k for k, p in self._pending.items() if p.expires < now]:
                del self._pending[k]
            if len(self._pending) > 10_000:
                self._pending.clear()
            self._pending[self._key(nonce)] = Pending(
                alert_id, action, user, object, description, now + self.seconds
            )
        return nonce

    def consume(self, nonce: str, alert_id: str, action: str, user: str) -> Pending | None:
        """What ``nonce`` confirmed, if it is live and for this alert, action and user; used up either way."""
        if not nonce or len(nonce) > 200:
            return None
        with self._lock:
            found = self._pending.pop(self._key(nonce), None)
        if found is None or found.expires < self.clock():
            return None
        if (found.alert_id, found.action, found.user) != (alert_id, action, user):
            return None
        return found
