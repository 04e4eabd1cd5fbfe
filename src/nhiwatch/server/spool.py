"""The push spool: accepted pushes on disk, in order, until the worker has ingested them.

A push is streamed into a ``tmp-<id>`` file (:mod:`nhiwatch.server.body`); its ticket is written to
``tmp-<id>.json``; both are made durable (``fsync``, the two at once), the body is renamed to ``<id>.log``
(``<id>.gz`` for a cut-off gzip the engine salvages), then the ticket to ``<id>.json``, and the folder is
flushed. The ticket's rename is the commit point: a push is *accepted* (answered
202) only once its ticket exists, and a ticketed push is never dropped until the store holds it. At start,
leftovers without a ticket (a crash mid-upload, never acknowledged) are removed and every ticketed push is
queued again, oldest first (ids grow with time), so nothing accepted is lost across a crash or restart; the
store's de-duplication makes a replayed push store its events once.

The spool lives beside the store (``<store>.spool``), private to the server's user: created 0700, and a
spool that is a symlink, someone else's, or readable by others is refused at start rather than used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from nhiwatch.errors import ConfigError

ID = re.compile(r"[0-9a-f]{16}")
_SYNC = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nhiwatch-spool-sync")


@dataclass(frozen=True)
class Ticket:
    """What the server knows of an accepted push besides its body."""

    id: str
    label: str  # how quarantine rows and answers name the push ("push <time> by <token> #<id>")
    token: str  # the token's name (never the token)
    received: str  # ISO 8601 UTC
    source: str | None
    body: str  # file name of the body inside the spool
    lines: int
    size: int  # bytes on disk


def spool_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".spool")


class Spool:
    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self._last = 0
        self._lock = threading.Lock()
        self._private()

    def _private(self) -> None:
        with contextlib.suppress(FileExistsError):  # an existing spool is checked below
            self.dir.mkdir(mode=0o700)
        st = os.lstat(self.dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
            raise ConfigError(
                f"the push spool {self.dir} is not a private folder of this user (mode 0700): "
                "remove it or fix its owner and mode, then start the server again"
            )

    def new_id(self) -> str:
        """A fresh id: 16 hex digits of nanoseconds since the epoch, strictly increasing in this process
        (and, the clock moving forward, across restarts), so sorting ids gives the order of acceptance."""
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return f"{self._last:016x}"

    def upload_path(self, push_id: str) -> Path:
        """Where the body streams to before it is accepted."""
        return self.dir / f"tmp-{push_id}.log"

    def accept(self, ticket: Ticket, uploaded: Path) -> Ticket:
        """Make the uploaded body durable and write its ticket: from here on the push is never dropped."""
        suffix = ".gz" if uploaded.suffix == ".gz" else ".log"
        body = self.dir / f"{ticket.id}{suffix}"
        done = Ticket(**{**asdict(ticket), "body": body.name, "size": uploaded.stat().st_size})
        tmp = self.dir / f"tmp-{ticket.id}.json"
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(asdict(done), fh)
        # The body and the ticket are flushed at once (one wait on the disk, not two: this is most of a
        # small push's answer time); only then are they renamed, the ticket last, and the folder flushed.
        pending = _SYNC.submit(_fsync_file, uploaded)
        try:
            _fsync_file(tmp)
        finally:
            pending.result()
        os.replace(uploaded, body)
        os.replace(tmp, self.dir / f"{ticket.id}.json")
        _fsync_dir(self.dir)
        return done

    def body(self, ticket: Ticket) -> Path:
        return self.dir / ticket.body

    def remove(self, ticket: Ticket) -> None:
        """Forget an ingested push: its ticket first, so a crash in between leaves a stray body, not a
        ticket without one."""
        (self.dir / f"{ticket.id}.json").unlink(missing_ok=True)
        (self.dir / ticket.body).unlink(missing_ok=True)

    def set_aside(self, ticket: Ticket) -> None:
        """Keep a push that cannot be ingested (for an operator to look at), out of the queue."""
        aside = self.dir / "failed"
        aside.mkdir(mode=0o700, exist_ok=True)
        for name in (ticket.body, f"{ticket.id}.json"):
            if (self.dir / name).exists():
                os.replace(self.dir / name, aside / name)

    def recover(self) -> list[Ticket]:
        """At start: remove unacknowledged uploads, return every accepted push, oldest first."""
        tickets: dict[str, Ticket] = {}
        for path in self.dir.iterdir():
            if path.name.startswith("tmp-"):
                path.unlink(missing_ok=True)
            elif path.suffix == ".json" and ID.fullmatch(path.stem):
                try:
                    ticket = Ticket(**json.loads(path.read_text(encoding="utf-8")))
                except (ValueError, TypeError):
                    continue  # not a ticket this server wrote: left alone
                if ticket.id == path.stem and (self.dir / ticket.body).is_file():
                    tickets[ticket.id] = ticket
                else:
                    path.unlink(missing_ok=True)  # its body is gone: nothing to ingest
        for path in self.dir.iterdir():  # bodies whose ticket was never written were never acknowledged
            if path.suffix in (".log", ".gz") and ID.fullmatch(path.stem) and path.stem not in tickets:
                path.unlink(missing_ok=True)
        if tickets:
            with self._lock:
                self._last = max(self._last, int(max(tickets), 16))
        return [tickets[k] for k in sorted(tickets)]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
