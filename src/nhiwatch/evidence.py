"""An event's original record, for evidence: re-read from its file and checked, redacted on the way out.

Events do not store their raw record (it was ~75 % of the store). Each keeps its file, line (or record
index) and a 64-bit hash of the record as read (for a CSV row, a fingerprint of its columns; stores written
before it hold the hash of the row's JSON text, and either is accepted). :func:`original_records` re-reads
the file with the same reader ingest used (in a private in-memory DuckDB, so the hash is computed the same
way), takes the record at that line whose hash matches, and says plainly when it cannot: the file moved or
was deleted, or it changed since it was ingested. Pushed bodies and fetched pages are read from the
compressed copy nhiwatch kept of them (:mod:`nhiwatch.raw_copies`). Events of a store written before the
lean store keep their ``raw_data`` column, which is used as it is. Every record shown is redacted
(:func:`nhiwatch.redact.redact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from nhiwatch import raw_copies
from nhiwatch.redact import redact
from nhiwatch.sources import documents as D
from nhiwatch.sources import files as F
from nhiwatch.sources import reading as R
from nhiwatch.sources import registry
from nhiwatch.store import Store

VERIFIED = "verified"  # re-read from its file, and the hash matches the record ingested
STORED = "stored"  # kept in the event row by an older nhiwatch
MISSING = "missing"  # the file is gone (moved or deleted)
CHANGED = "changed"  # the file is there, but that line no longer holds the record
UNVERIFIED = "unverified"  # shown, but it cannot be checked (no hash, or a DuckDB that hashes differently)


@dataclass(frozen=True)
class Evidence:
    """The original record of one event (redacted), or why it cannot be shown."""

    metadata_uid: str
    status: str
    record: str | None
    note: str
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metadata_uid": self.metadata_uid,
            "status": self.status,
            "record": self.record,
            "note": self.note,
            "file": self.file,
            "line": self.line,
        }


def original_record(store: Store, uid: str) -> Evidence | None:
    """The original record of the event ``uid`` (None when no such event is stored)."""
    return original_records(store, [uid]).get(uid)


def original_records(store: Store, uids: Sequence[str]) -> dict[str, Evidence]:
    """The original records of the events ``uids`` that are stored, keyed by uid; each file is read once."""
    if not uids:
        return {}
    has_raw = bool(
        store.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'events' AND column_name = ?",
            ["raw_data"],
        )
    )
    has_hash = bool(
        store.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'events' AND column_name = ?",
            ["raw_hash"],
        )
    )
    raw = "raw_data" if has_raw else "NULL::VARCHAR"
    digest = "raw_hash" if has_hash else "NULL::UBIGINT"
    rows = store.fetchall(
        f"SELECT DISTINCT ON (metadata_uid) metadata_uid, source, ingest_file, ingest_line, {digest}, {raw} "
        "FROM events WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[]))",
        [list(uids)],
    )
    out: dict[str, Evidence] = {}
    by_file: dict[str, list[tuple[str, str, int | None, int | None]]] = {}
    for uid, source, file, line, h, text in rows:
        if text is not None:
            out[uid] = Evidence(uid, STORED, redact(str(text)), "kept in the store", file, line)
        elif file is None:
            out[uid] = Evidence(uid, MISSING, None, "the event names no file to read it from")
        else:
            by_file.setdefault(str(file), []).append((uid, str(source), line, h))
    if not by_file:
        return out
    probe = (
        store.scalar("SELECT value FROM store_meta WHERE name = 'raw_hash_probe'")
        if _has_meta(store)
        else None
    )
    with Store(":memory:") as scratch:
        same_hash = probe is None or str(scratch.scalar("SELECT CAST(hash('nhiwatch') AS VARCHAR)")) == probe
        for file, events in by_file.items():
            path = _locate(store, file)
            if path is None:
                for uid, _, line, _ in events:
                    out[uid] = Evidence(
                        uid,
                        MISSING,
                        None,
                        f"the file {file} is no longer there (moved or deleted): the original record cannot be "
                        "shown; the event's stored fields stand",
                        file,
                        line,
                    )
                continue
            lines = {line or 0 for _, _, line, _ in events}
            records = _reread(scratch, path, events[0][1], {h for *_, h in events if h is not None}, lines)
            for uid, _, line, h in events:
                out[uid] = _match(uid, file, line, h, records.get(line or 0, []), same_hash)
    return out


def _has_meta(store: Store) -> bool:
    return store.table_exists("store_meta")


def _locate(store: Store, file: str) -> Path | None:
    """The file to read: where it was, or (for nhiwatch's own copies) in the store's folder if it moved."""
    path = Path(file)
    if path.is_file():
        return path
    copy = raw_copies.raw_dir(store) / path.name
    if path.name.endswith(".gz") and copy.is_file():
        return copy
    return None


def _match(
    uid: str, file: str, line: int | None, h: int | None, found: list[tuple[int, str]], same_hash: bool
) -> Evidence:
    for digest, text in found:
        if h is not None and digest == h:
            return Evidence(
                uid, VERIFIED, redact(text), "re-read from its file; unchanged since ingest", file, line
            )
    if found and (h is None or not same_hash):
        why = (
            "the event has no record hash"
            if h is None
            else "this DuckDB hashes differently from the one that ingested it"
        )
        return Evidence(
            uid,
            UNVERIFIED,
            redact(found[0][1]),
            f"re-read from line {line} of its file, but not checked: {why}",
            file,
            line,
        )
    return Evidence(
        uid,
        CHANGED,
        None,
        f"the file {file} changed since it was ingested: line {line} no longer holds this record; "
        "the event's stored fields stand",
        file,
        line,
    )


def _reread(
    scratch: Store, path: Path, source_name: str, wanted: set[int], lines: set[int]
) -> dict[int, list[tuple[int, str]]]:
    """Records of ``path`` by line, each with its hash, read as ingest read them: the reader its format is
    recognised for, then the slower readers ingest falls back to, then the readers of the event's own vendor
    (a file ingested with ``--source``), until every wanted hash is found."""
    from nhiwatch.ingest import plan_file  # ingest imports this package's neighbours; import late

    found: dict[int, list[tuple[int, str]]] = {}
    seen: set[tuple[int, int]] = set()  # (line, hash) already found
    tried: set[tuple[str, str]] = set()
    forced = [src for src in registry.all_sources() if src.name == source_name]
    for candidates in [None, *([src] for src in forced)]:
        plan = plan_file(scratch, path, candidates)
        if plan is None:
            continue
        for reader in _readers(plan.mode, plan.source.layout):
            if (plan.source.id, reader) in tried:
                continue
            tried.add((plan.source.id, reader))
            try:
                rows = _read(scratch, path, plan.source, reader, lines)
            except Exception:  # a reader that fails on the file now: the next one may still read it
                continue
            for line, digest, text in rows:
                if (int(line), int(digest)) not in seen:
                    seen.add((int(line), int(digest)))
                    found.setdefault(int(line), []).append((int(digest), str(text)))
            if wanted <= {d for _, d in seen}:
                return found
    return found


def _readers(mode: str, layout: str) -> list[str]:
    """The readers that may have produced a stored record's text. A document read by DuckDB today may have
    been parsed in Python by an older nhiwatch (or fallen back to it); the two serialise a few records
    differently (duplicate keys, integers beyond 64 bits, exponents), so both are tried."""
    if mode == "documents":
        return ["documents", "python"]
    if mode == "lines":
        return ["lines", "python"] if layout == "json" else ["lines"]
    if mode == "csv":
        return ["csv", "csv-python"]
    return [mode]


def _read(scratch: Store, path: Path, src: Any, reader: str, lines: set[int]) -> list[tuple[Any, ...]]:
    """(line, hash, record) of the records on ``lines`` of ``path``, read by ``reader``; a CSV row comes twice,
    with each kind of hash it may have been stored with."""
    if reader == "lines":
        relation, _ = R.lines_relation(scratch, [path], json=src.layout == "json")
    elif reader == "documents":
        relation, _, _ = D.documents_relation(scratch, [path], src)
    elif reader in ("csv", "csv-python"):
        relation, columns, _ = (
            R.csv_relation(scratch, [path], src)
            if reader == "csv"
            else R.csv_relation_python(scratch, path, src)
        )
        # A row is stored with its fingerprint, or (by versions before it) with the hash of its text: both
        # are given, so that either matches.
        return scratch.fetchall(
            f"""WITH r AS (SELECT line, {R.CSV_HASH} AS h, {R.CSV_TEXT} AS t
                FROM (SELECT *, {R.csv_row(columns)} AS nw_row FROM {relation})
                WHERE line IN (SELECT unnest(?::BIGINT[])))
            SELECT line, h, t FROM r UNION ALL SELECT line, hash(t), t FROM r""",
            [sorted(lines)],
        )
    else:
        if src.layout == "json":
            good, _ = R.python_records(path, src)
        else:
            data, _ = F.read_all(path)
            good, _ = R.text_lines(data)
        good = [g for g in good if g[0] in lines]
        table = pa.table(
            {
                "line": pa.array([g[0] for g in good], pa.int64()),
                "j": pa.array([g[1] for g in good], pa.string()),
            }
        )
        scratch.con.register("nw_ev", table)
        try:
            return scratch.fetchall("SELECT line, hash(j), j FROM nw_ev")
        finally:
            scratch.con.unregister("nw_ev")
    return scratch.fetchall(
        f"SELECT line, hash(j), j FROM {relation} WHERE line IN (SELECT unnest(?::BIGINT[]))", [sorted(lines)]
    )


__all__ = [
    "CHANGED",
    "MISSING",
    "STORED",
    "UNVERIFIED",
    "VERIFIED",
    "Evidence",
    "original_record",
    "original_records",
]
