"""What one server process shares: the store behind one lock, settings, sessions, counters and the worker.

DuckDB allows one writer per process, so the server opens the store once and every request and the
background scorer take :attr:`ServerState.lock` around their use of it. Handlers are plain ``def``
functions, run in the thread pool, so a long ingest or detection blocks only its own request.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

from nhiwatch.store import Store

if TYPE_CHECKING:
    from nhiwatch.server.auth import FailureLimiter, Sessions
    from nhiwatch.server.worker import Worker


@dataclass
class Settings:
    db_path: Path
    max_body_bytes: int = 32 * 1024 * 1024  # push bodies (compressed or not) and their decompressed size
    max_form_bytes: int = 64 * 1024
    worker_interval: float = 2.0  # seconds between micro-batches
    worker_enabled: bool = True
    session_hours: float = 8.0
    auth_failures_per_minute: int = 10
    inventory: Path | None = None  # file `POST /api/v1/inventory/reload` re-reads when sent no body


@dataclass
class Metrics:
    """Counters exported at ``/metrics`` (Prometheus text format)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counters: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    started: float = field(default_factory=time.time)

    def inc(self, name: str, value: float = 1.0) -> None:
        with self.lock:
            self.counters[name] += value

    def set(self, name: str, value: float) -> None:
        with self.lock:
            self.counters[name] = value

    def snapshot(self) -> dict[str, float]:
        with self.lock:
            return dict(self.counters)


class ServerState:
    def __init__(self, settings: Settings, limiter: FailureLimiter, sessions: Sessions) -> None:
        self.settings = settings
        self.store = Store(settings.db_path)
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self.limiter = limiter
        self.sessions = sessions
        self.worker: Worker | None = None

    @contextmanager
    def db(self) -> Iterator[Store]:
        """The store, held exclusively for the block."""
        with self.lock:
            yield self.store

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        with self.lock:
            self.store.close()


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.nw
    return state
