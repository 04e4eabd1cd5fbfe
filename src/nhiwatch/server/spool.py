"""The push spool: accepted pushes on disk, in order, until the worker has ingested them.

A push is streamed into ``<id>.log`` (``<id>.gz`` for a cut-off gzip the engine salvages;
:mod:`nhiwatch.server.body`), then handed to :meth:`Spool.submit`. What makes it durable is the
**journal**: one append-only file (``journal-<id>.nwj``) that a single writer thread appends to. Requests
that arrive while the disk is busy queue their pushes; the writer appends the whole group (each push's
ticket and body, one record each) and makes it durable with **one** ``fdatasync``, then wakes every
waiter. A push is *accepted* (answered 202) only once its record is on disk; many small senders share one
wait on the disk instead of each paying its own (this was most of a small push's answer time).

The body file beside the journal is only the worker's input: it is never flushed, and after a crash it is
written again from the journal. Each record is ``NWJ1``, the ticket's and the body's lengths, the ticket
(JSON), the body and a CRC-32 of both; a record cut off by a crash (its group was never acknowledged) ends
the replay of its journal. A journal grows to :data:`SEGMENT_BYTES`, then the next one starts; a journal
all of whose pushes were ingested is deleted (the active one when the next group starts, or once the
writer has been idle).

At start (:meth:`Spool.recover`), every journal is read, oldest first: each complete record's body file is
written again and its push queued, so nothing accepted is lost across a crash or restart; the store's
de-duplication and ``push_log`` make a replayed push store its events once. Leftovers no record names (an
upload never acknowledged) are removed. A spool written before the journal (a ``<id>.json`` ticket beside
each body) is still replayed the same way; new pushes go to the journal, so the old files go as they are
ingested and the migration needs nothing from the operator.

The spool lives beside the store (``<store>.spool``), private to the server's user: created 0700, and a
spool that is a symlink, someone else's, or readable by others is refused at start rather than used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from nhiwatch.errors import ConfigError

log = logging.getLogger("nhiwatch.server.spool")
ID = re.compile(r"[0-9a-f]{16}")
JOURNAL = re.compile(r"journal-([0-9a-f]{16})\.nwj")
MAGIC = b"NWJ1"
_HEAD = struct.Struct("<4sIQ")  # magic, ticket bytes, body bytes
_TAIL = struct.Struct("<I")  # CRC-32 of the ticket and the body
MAX_TICKET = 64 * 1024
SEGMENT_BYTES = 64 * 1024 * 1024  # a journal this long is closed and the next one started
LINGER = 1.0  # seconds the writer thread waits for more work before it ends (a push starts it again)
CHUNK = 1024 * 1024
_datasync = getattr(os, "fdatasync", os.fsync)


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


@dataclass
class Pending:
    """A push handed to the journal: ``future`` holds its accepted ticket once it is durable."""

    ticket: Ticket
    body: Path
    data: bytes | None  # a small body not written yet (the writer writes its file)
    future: Future[Ticket] = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)
    began: float = 0.0  # when the writer took its group
    flushed: float = 0.0  # when the group's flush returned (the push answered from here on)


@dataclass
class _Segment:
    name: str
    fd: int
    size: int = 0
    new: bool = True  # its directory entry is not durable yet
    broken: bool = False  # a failed flush: nothing more is appended to it


def spool_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".spool")


class Spool:
    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self._last = 0
        self._lock = threading.Lock()  # ids
        self._cond = threading.Condition()  # pushes waiting for the writer, and the writer thread itself
        self._pending: list[Pending] = []
        self._writer: threading.Thread | None = None
        self._io = threading.Lock()  # the journal being written (held by the writer through its fsync)
        self._active: _Segment | None = None
        self._book = threading.Lock()  # which journal holds which push not yet ingested
        self._live: dict[str, set[str]] = {}
        self._where: dict[str, str] = {}
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
        """Where the body streams to; it counts only once :meth:`submit` has journaled it."""
        return self.dir / f"{push_id}.log"

    # --- accepting: the journal and its group commit ----------------------------------------------------

    def submit(self, ticket: Ticket, uploaded: Path, data: bytes | None = None) -> Pending:
        """Queue the uploaded body for the journal; its future holds the accepted ticket once it is durable
        (or the ``OSError`` that kept it from the disk). Never blocks on the disk. A small body may come
        as ``data`` (checked, not written yet): the writer writes ``uploaded`` from it."""
        item = Pending(ticket, uploaded, data)
        with self._cond:
            self._pending.append(item)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_groups, name="nhiwatch-spool", daemon=True)
                self._writer.start()
            else:
                self._cond.notify()
        return item

    def accept(self, ticket: Ticket, uploaded: Path, data: bytes | None = None) -> Ticket:
        """Make the uploaded body durable: from the return on, the push is never dropped."""
        return self.submit(ticket, uploaded, data).future.result()

    def _write_groups(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._cond.wait(LINGER)
                if not self._pending:
                    self._writer = None
                    break
                group, self._pending = self._pending, []
            try:
                self._commit(group)
            except BaseException as exc:  # pragma: no cover - _commit answers every push itself
                log.exception("spool journal writer")
                for item in group:
                    if not item.future.done():
                        item.future.set_exception(OSError(f"spool journal: {type(exc).__name__}"))
        with self._io:  # idle: a journal whose pushes were all ingested goes now
            self._retire_if_done()

    def _commit(self, group: list[Pending]) -> None:
        """Append the group to the journal, one flush for all, then answer each push."""
        accepted: list[tuple[Pending, Ticket]] = []
        with self._io:
            began = time.perf_counter()
            taken = []
            for item in group:
                item.began = began
                if item.future.set_running_or_notify_cancel():  # from here on it cannot be cancelled
                    taken.append(item)
                elif item.data is None:  # given up before it was journaled (its request went)
                    item.body.unlink(missing_ok=True)
            group = taken
            if not group:
                return
            self._retire_if_done()
            try:
                seg = self._segment()
            except OSError as exc:
                for item in group:
                    item.future.set_exception(exc)
                return
            group_start = seg.size
            for item in group:
                start = seg.size
                try:
                    accepted.append((item, self._append(seg, item)))
                except OSError as exc:  # this push is refused; the record's partial bytes go
                    item.future.set_exception(exc)
                    if not _truncate(seg, start):
                        seg.broken = True
                        break
            if not accepted:
                return
            try:
                _datasync(seg.fd)
                if seg.new:
                    _fsync_dir(self.dir)
                    seg.new = False
            except OSError as exc:  # nothing of the group is known to be on disk: refuse it all
                seg.broken = True
                _truncate(seg, group_start)  # so a refused push is not replayed (if the disk allows)
                for item, _ in accepted:
                    item.future.set_exception(exc)
                self._close_active()
                return
            with self._book:
                live = self._live.setdefault(seg.name, set())
                for _, t in accepted:
                    live.add(t.id)
                    self._where[t.id] = seg.name
            if seg.size >= SEGMENT_BYTES or seg.broken:
                self._close_active()
        flushed = time.perf_counter()
        for item, t in accepted:
            item.flushed = flushed
            item.future.set_result(t)

    def _segment(self) -> _Segment:
        if self._active is not None and not self._active.broken:
            return self._active
        self._close_active()
        name = f"journal-{self.new_id()}.nwj"
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._active = _Segment(name, fd)
        return self._active

    def _close_active(self) -> None:
        if self._active is not None:
            with contextlib.suppress(OSError):
                os.close(self._active.fd)
            with self._book:
                name = self._active.name
                self._active = None
                if not self._live.get(name):
                    self._live.pop(name, None)
                    (self.dir / name).unlink(missing_ok=True)

    def _retire_if_done(self) -> None:
        """The active journal holds only ingested pushes: delete it (the next group starts another)."""
        if self._active is not None and self._active.size and not self._live.get(self._active.name):
            self._close_active()

    def _append(self, seg: _Segment, item: Pending) -> Ticket:
        if item.data is not None:  # a small body held in memory: its file is the worker's input only
            with open(item.body, "wb") as out:
                out.write(item.data)
            ticket = replace(item.ticket, body=item.body.name, size=len(item.data))
            head = json.dumps(asdict(ticket)).encode()
            crc = zlib.crc32(item.data, zlib.crc32(head))
            _write(seg, _HEAD.pack(MAGIC, len(head), len(item.data)) + head + item.data + _TAIL.pack(crc))
            return ticket
        with open(item.body, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            ticket = replace(item.ticket, body=item.body.name, size=size)
            head = json.dumps(asdict(ticket)).encode()
            crc = zlib.crc32(head)
            _write(seg, _HEAD.pack(MAGIC, len(head), size) + head)
            left = size
            while left > 0:  # the body as it was when this began: a file that changed is refused
                chunk = src.read(min(CHUNK, left))
                if not chunk:
                    raise OSError(f"push {ticket.id}: its body changed while it was journaled")
                crc = zlib.crc32(chunk, crc)
                _write(seg, chunk)
                left -= len(chunk)
        _write(seg, _TAIL.pack(crc))
        return ticket

    # --- after the ingest -------------------------------------------------------------------------------

    def body(self, ticket: Ticket) -> Path:
        return self.dir / ticket.body

    def remove(self, ticket: Ticket) -> None:
        """Forget an ingested push: its body file, and its journal once every push in it is ingested."""
        (self.dir / f"{ticket.id}.json").unlink(missing_ok=True)  # a ticket of the spool before the journal
        (self.dir / ticket.body).unlink(missing_ok=True)
        self._forget(ticket.id)

    def set_aside(self, ticket: Ticket) -> None:
        """Keep a push that cannot be ingested (for an operator to look at), out of the queue."""
        aside = self.dir / "failed"
        aside.mkdir(mode=0o700, exist_ok=True)
        if (self.dir / ticket.body).exists():
            os.replace(self.dir / ticket.body, aside / ticket.body)
        (self.dir / f"{ticket.id}.json").unlink(missing_ok=True)
        (aside / f"{ticket.id}.json").write_text(json.dumps(asdict(ticket)), encoding="utf-8")
        self._forget(ticket.id)

    def _forget(self, push_id: str) -> None:
        with self._book:
            name = self._where.pop(push_id, None)
            if name is None:
                return
            live = self._live.get(name)
            if live is not None:
                live.discard(push_id)
            active = self._active.name if self._active is not None else None
            if not live and name != active:  # the active journal is deleted by its writer
                self._live.pop(name, None)
                (self.dir / name).unlink(missing_ok=True)

    # --- at start ---------------------------------------------------------------------------------------

    def recover(self) -> list[Ticket]:
        """At start: every accepted push, oldest first, its body file written again from the journal;
        leftovers no journal record or ticket names are removed."""
        tickets: dict[str, Ticket] = {}
        for path in self.dir.iterdir():
            if path.name.startswith("tmp-"):  # an upload of the spool before the journal
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
        journals = sorted(p for p in self.dir.iterdir() if JOURNAL.fullmatch(p.name) and p.is_file())
        for path in journals:
            live: set[str] = set()
            for ticket, body in read_journal(path):
                if ticket.id in tickets:
                    continue
                with open(self.dir / ticket.body, "wb") as out:  # the worker's input; the journal is the copy
                    out.write(body)
                tickets[ticket.id] = ticket
                live.add(ticket.id)
            if live:
                self._live[path.name] = live
                self._where.update(dict.fromkeys(live, path.name))
            else:
                path.unlink(missing_ok=True)
        for path in self.dir.iterdir():  # bodies no record names were never acknowledged
            if path.suffix in (".log", ".gz") and ID.fullmatch(path.stem) and path.stem not in tickets:
                path.unlink(missing_ok=True)
        with self._lock:
            newest = [int(max(tickets), 16)] if tickets else []
            newest += [int(m.group(1), 16) for p in journals if (m := JOURNAL.fullmatch(p.name))]
            self._last = max([self._last, *newest])
        return [tickets[k] for k in sorted(tickets)]


def read_journal(path: Path) -> Iterator[tuple[Ticket, bytes]]:
    """Each complete record of a journal, in order; a record cut off or damaged (a crash mid-write: its
    group was never acknowledged) ends the journal."""
    with open(path, "rb") as fh:
        total = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset < total:
            record = _read_record(fh, total - offset)
            if record is None:
                log.warning(
                    "%s: %d byte(s) after its last complete record (a write a crash cut off, never "
                    "acknowledged) are ignored",
                    path.name,
                    total - offset,
                )
                return
            ticket, body, length = record
            offset += length
            yield ticket, body


def _read_record(fh: BinaryIO, left: int) -> tuple[Ticket, bytes, int] | None:
    head = fh.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    magic, tlen, blen = _HEAD.unpack(head)
    length = _HEAD.size + tlen + blen + _TAIL.size
    if magic != MAGIC or tlen > MAX_TICKET or length > left:
        return None
    raw = fh.read(tlen)
    body = fh.read(blen)
    tail = fh.read(_TAIL.size)
    if len(tail) < _TAIL.size or _TAIL.unpack(tail)[0] != zlib.crc32(body, zlib.crc32(raw)):
        return None
    try:
        ticket = Ticket(**json.loads(raw))
    except (ValueError, TypeError):
        return None
    if not ID.fullmatch(ticket.id) or ticket.body not in (f"{ticket.id}.log", f"{ticket.id}.gz"):
        return None  # a record names only its own body file in the spool
    return ticket, body, length


def _write(seg: _Segment, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(seg.fd, view)
        seg.size += n
        view = view[n:]


def _truncate(seg: _Segment, size: int) -> bool:
    try:
        os.ftruncate(seg.fd, size)
    except OSError:
        return False
    seg.size = size
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
