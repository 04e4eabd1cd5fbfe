"""Ingest: files in any supported format -> normalized events in the store, bad records in quarantine.

Files are planned (format sniffed, or forced; one file of each folder layout and shape is sampled, the
others are read as it was: ``sources/shape.py``), grouped by source and shape, and read in bounded batches
(``sources/reading.py``): one DuckDB scan per batch of JSON-lines, text or same-header CSV files, or of JSON
documents (``sources/documents.py``; a file outside its simple case, and sources that expand each record
into several, are parsed in Python, many files per batch). Each batch is mapped by one SQL statement compiled
from the source's declarative mapping, then de-duplicated and stored in one transaction (``ingest_batch.py``),
rolled back on any error (an interrupt is re-raised after it). Batches of different sources are mapped and
stored on two threads at once (each on its own connection to the store; one source never on two threads,
since a source's de-duplication reads what its earlier batches stored); DuckDB runs each batch on about one
core.
A record that cannot be read or mapped (malformed, nested deeper than ``files.MAX_DEPTH``, larger than
``files.MAX_RECORD``) is quarantined with its file, line and reason; the rest of its file is kept. A file
that fails as a whole is retried with a slower reader, else quarantined with a reason; the rest of the
folder is kept. Ingest is idempotent: each event's ``metadata_uid`` is the vendor's own id or a hash of
the raw record, and a uid already stored is counted as a duplicate, not stored again. Events may arrive
late or out of order.

The original record is not stored in the event row: the row keeps its file, line and a 64-bit hash of the
record, and :mod:`nhiwatch.evidence` re-reads and checks it. Transient inputs (``keep_copy=True``: pushed
bodies, fetched API pages) are first copied, compressed, next to the store (:mod:`nhiwatch.raw_copies`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from nhiwatch import ingest_parallel as parallel
from nhiwatch import raw_copies
from nhiwatch.arrow_lists import integers, strings
from nhiwatch.gc_pause import fewer_collections
from nhiwatch.ingest_batch import map_and_store
from nhiwatch.sources import documents as D
from nhiwatch.sources import files as F
from nhiwatch.sources import reading as R
from nhiwatch.sources import registry
from nhiwatch.sources.base import Sample, Source
from nhiwatch.sources.shape import is_header_shape, shape_key
from nhiwatch.staging import SHORT_REASON, redacted_quarantine
from nhiwatch.store import Store

Progress = Callable[[int], None]


@dataclass
class IngestReport:
    files: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    by_source: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unreadable: list[str] = field(default_factory=list)
    first_time: datetime | None = None  # time span of the events stored by this run (None: none stored)
    last_time: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 3),
            "by_source": dict(self.by_source),
            "unreadable": list(self.unreadable),
            "first_time": self.first_time,
            "last_time": self.last_time,
        }

    def add(self, part: IngestReport) -> None:
        """Add the counts of a part of this run (one source's batches, counted on another thread)."""
        self.read += part.read
        self.stored += part.stored
        self.duplicates += part.duplicates
        self.quarantined += part.quarantined
        self.unreadable.extend(part.unreadable)
        for key, n in part.by_source.items():
            self.by_source[key] += n
        if part.first_time is not None:
            self.first_time = (
                part.first_time if self.first_time is None else min(self.first_time, part.first_time)
            )
        if part.last_time is not None:
            self.last_time = part.last_time if self.last_time is None else max(self.last_time, part.last_time)


@dataclass(frozen=True)
class _Plan:
    path: Path
    source: Source
    mode: str  # "lines" (DuckDB reads lines), "csv", "documents" (DuckDB reads JSON documents), "python"
    group_key: tuple[str, ...]
    size: int = 0  # bytes on disk when planned


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    *,
    source: str | None = None,
    progress: Progress | None = None,
    before_commit: Callable[[Store], None] | None = None,
    keep_copy: bool = False,
) -> IngestReport:
    """Read every file under ``paths`` into ``store``; returns the counts. Raises only for bad arguments.

    ``before_commit`` runs inside each transaction that stores events, just before its COMMIT (a collector
    writes its checkpoint there, so the checkpoint and the events it read commit together).

    ``keep_copy``: the inputs are transient (a pushed body, a fetched page) and will not stay where they are;
    nhiwatch keeps a compressed copy of each and its events point at the copy, so their original records
    remain retrievable as evidence. Without it, evidence re-reads the operator's own files.
    """
    started = time.perf_counter()
    report = IngestReport()
    candidates = registry.get(source) if source else None
    files, skipped = F.scan(paths)
    # Events name their file absolutely, so evidence can re-read it from any working folder.
    files = [Path(os.path.abspath(p)) for p in files]
    store.execute(QUARANTINE_TEMP)
    store.execute(HASH_PROBE)
    store.execute("CREATE OR REPLACE TEMP TABLE nw_copy (file VARCHAR, copy VARCHAR)")
    report.files = len(files) + len(skipped)
    for path, why in skipped:
        _quarantine_file(store, path, None, why, report)
    plans: list[_Plan] = []
    known: dict[tuple[str, ...], _Plan] = {}  # plans by file shape: one file of each shape is sampled
    for path in files:
        try:
            plan = _plan(store, path, candidates, report, known)
        except Exception as exc:  # one file that cannot be planned is reported, the rest go on
            _quarantine_file(store, path, None, f"cannot be read: {_describe(exc)}", report)
            continue
        if plan is not None and keep_copy:
            try:
                copy = raw_copies.keep(store, path)
            except OSError as exc:  # no copy, no evidence: the file is not ingested
                _quarantine_file(store, path, None, f"cannot keep a copy: {exc.strerror or exc}", report)
                continue
            store.execute("INSERT INTO nw_copy VALUES (?, ?)", [str(path), str(copy)])
        if plan is not None:
            plans.append(plan)
    store.execute("DROP TABLE IF EXISTS nw_stage")
    units = _units(plans)
    threads = 1 if keep_copy or before_commit else min(parallel.workers(), len(units))
    if threads > 1:
        _ingest_parallel(store, units, report, progress, threads)
    else:
        for unit in units:
            for batch in unit:
                _ingest_group(store, batch, report, before_commit)
                _flush_quarantine(store)
                if progress:
                    progress(len(batch))
    _flush_quarantine(store)
    report.seconds = time.perf_counter() - started
    store.execute(
        "INSERT INTO ingest_runs (files, read, stored, duplicates, quarantined, seconds) VALUES (?,?,?,?,?,?)",
        [report.files, report.read, report.stored, report.duplicates, report.quarantined, report.seconds],
    )
    return report


def _ingest_parallel(
    store: Store,
    units: list[list[list[_Plan]]],
    report: IngestReport,
    progress: Progress | None,
    threads: int,
) -> None:
    """The units on ``threads`` threads (:mod:`nhiwatch.ingest_parallel`); each unit counts into its own
    report, added to ``report`` in unit order whatever the order they finished in."""
    parts = [IngestReport() for _ in units]

    def setup(con: Store) -> None:
        con.execute(QUARANTINE_TEMP)
        con.execute("CREATE OR REPLACE TEMP TABLE nw_copy (file VARCHAR, copy VARCHAR)")

    def do(con: Store, unit: int, batch: list[_Plan]) -> int:
        _ingest_group(con, batch, parts[unit])
        _flush_quarantine(con)
        return len(batch)

    try:
        parallel.run(
            store,
            units,
            threads=threads,
            weight=lambda batch: sum(_weight(p) for p in batch),
            setup=setup,
            do=do,
            progress=progress,
        )
    finally:
        for part in parts:
            report.add(part)


# Evidence checks re-read records with DuckDB's hash(); a DuckDB whose hash differs must say so, not
# report every record as changed: the hash of a fixed text is recorded once per store.
HASH_PROBE = "INSERT OR IGNORE INTO store_meta VALUES ('raw_hash_probe', CAST(hash('nhiwatch') AS VARCHAR))"

BATCH_BYTES = 128 * 1024 * 1024  # input read per DuckDB scan: bounds memory, still few scans and commits


def _units(plans: list[_Plan]) -> list[list[list[_Plan]]]:
    """The batches of each source name, in group order: a unit of work that only one thread ever holds.

    A source's events are de-duplicated against that source's stored events (their uids start with its
    name), so two batches of one source must not be in flight at once; batches of different sources can.
    """
    units: dict[str, list[list[_Plan]]] = {}
    for _key, group in itertools.groupby(sorted(plans, key=lambda p: p.group_key), key=lambda p: p.group_key):
        group_plans = list(group)
        units.setdefault(group_plans[0].source.name, []).extend(_chunks(group_plans))
    return list(units.values())


def _weight(plan: _Plan) -> int:
    """Bytes of input ``plan`` reads (gzip counted at a typical 8x ratio)."""
    return plan.size * (8 if plan.path.suffix == ".gz" else 1)


def _chunks(plans: list[_Plan]) -> list[list[_Plan]]:
    """Split a group so each scan reads at most ~BATCH_BYTES (gzip counted at a typical 8x ratio)."""
    out: list[list[_Plan]] = [[]]
    size = 0
    for plan in plans:
        n = _weight(plan)
        if out[-1] and size + n > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(plan)
        size += n
    return out


QUARANTINE_TEMP = """CREATE TEMP TABLE IF NOT EXISTS nw_q (
    ingest_file VARCHAR, ingest_line BIGINT, source VARCHAR, reason VARCHAR, raw_data VARCHAR)"""


def _flush_quarantine(store: Store) -> None:
    """Move this batch's quarantine rows into the store, once: re-reading a file adds nothing new."""
    if store.scalar("SELECT count(*) FROM (SELECT 1 FROM nw_q LIMIT 1)") == 0:
        return  # the usual case; the insert below costs more to plan than a small batch costs to map
    parallel.storing()
    store.execute(
        f"""INSERT INTO quarantine (ingest_file, ingest_line, source, reason, raw_data)
        SELECT DISTINCT ON (ingest_file, ingest_line, reason)
               ingest_file, ingest_line, source, reason, raw_data
        FROM (SELECT * REPLACE ({SHORT_REASON}) FROM {redacted_quarantine()}) x
        WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.ingest_file = x.ingest_file
              AND q.ingest_line IS NOT DISTINCT FROM x.ingest_line AND q.reason = x.reason)"""
    )
    store.execute("DELETE FROM nw_q")


def _quarantine_file(store: Store, path: Path, source: str | None, reason: str, report: IngestReport) -> None:
    store.execute(
        "INSERT INTO nw_q (ingest_file, ingest_line, source, reason, raw_data) VALUES (?, NULL, ?, ?, NULL)",
        [str(path), source, reason],
    )
    report.quarantined += 1
    report.unreadable.append(f"{path}: {reason}")


def _plan(
    store: Store,
    path: Path,
    candidates: list[Source] | None,
    report: IngestReport,
    known: dict[tuple[str, ...], _Plan] | None = None,
) -> _Plan | None:
    """How ``path`` is read, or None (it was quarantined). ``known``: plans of files already sampled, by
    :func:`nhiwatch.sources.shape.shape_key`; a file of a known shape is read as that file was."""
    key: tuple[str, ...] | None = None
    try:
        size = path.stat().st_size
        if size == 0:
            _quarantine_file(store, path, None, "empty file", report)
            return None
        if known is not None and not _GLOB.search(str(path)):
            key = shape_key(path)
            if key is not None and key in known:
                like = known[key]  # (not dataclasses.replace: a third of the cost, for thousands of files)
                return _Plan(path, like.source, like.mode, like.group_key, size)
        sample = F.sample(path)
    except OSError as exc:
        _quarantine_file(store, path, None, f"cannot read: {exc.strerror or exc}", report)
        return None
    plan = _plan_sampled(store, path, size, sample, candidates, report)
    if key is not None and known is not None and plan is not None and _shareable(key, plan, sample):
        known[key] = plan
    return plan


def _shareable(key: tuple[str, ...], plan: _Plan, sample: Sample) -> bool:
    """Whether files of shape ``key`` may be read as ``plan`` without sampling them. A JSON shape: yes. A first
    line: only if ``plan``'s source was recognised by that line alone — a CSV header, or the column names of a
    text format that has one (:func:`nhiwatch.sources.registry.recognise` then reads no more)."""
    if not is_header_shape(key):
        return True
    src = plan.source
    if src.layout == "csv":
        return True
    return (
        src.text is not None
        and src.text.header_names is not None
        and bool(src.text.header_names(sample.first_line))
    )


def _plan_sampled(
    store: Store,
    path: Path,
    size: int,
    sample: Sample,
    candidates: list[Source] | None,
    report: IngestReport,
) -> _Plan | None:
    if not sample.head.strip() and not any(line for line, _ in sample.lines):
        _quarantine_file(store, path, None, "empty file (only whitespace)", report)
        return None
    found = registry.recognise(sample, candidates)
    if found is None and candidates:
        # The declared source always wins: records that do not fit it are quarantined one by one.
        found = candidates[0], _record_view(sample)
    if found is None:
        _quarantine_file(
            store, path, None, "unrecognised format: no source matches its first records", report
        )
        return None
    src, view = found
    gz = F.is_gzip(path)
    if _GLOB.search(str(path)):
        # DuckDB would expand the name as a pattern (reading other files, or none): read it in Python.
        if src.layout == "csv":
            return _Plan(path, src, "csv-python", (src.id, "csv-python", str(path)), size)
        return _Plan(path, src, "python", (src.id, "python"), size)
    if src.layout == "csv":
        # One DuckDB scan per distinct header: files with the same columns are read together.
        return _Plan(path, src, "csv", (src.id, "csv", sample.first_line.lstrip("\ufeff")), size)
    if src.layout == "json" and _needs_python(src, view):
        # Documents are read by DuckDB, unless each record is expanded into several (in Python).
        mode = "python" if src.expand is not None else "documents"
        return _Plan(path, src, mode, (src.id, mode), size)
    header = ""
    if src.layout == "text" and src.text and src.text.header_names:
        names = src.text.header_names(sample.first_line)
        header = "|".join(names) if names else ""
    return _Plan(path, src, "lines", (src.id, "lines", header, "gz" if gz else "plain"), size)


def plan_file(store: Store, path: Path, candidates: list[Source] | None = None) -> _Plan | None:
    """How ingest reads ``path`` (its source and reader), as :mod:`nhiwatch.evidence` re-reads it; None when
    no source recognises it. ``store`` is a scratch store: a file refused here is noted in its quarantine."""
    store.execute(QUARANTINE_TEMP)
    return _plan(store, path, candidates, IngestReport())


_GLOB = re.compile(r"[*?\[{]")  # characters DuckDB's file readers take as a pattern


def _record_view(sample: Any) -> Any:
    """The sample seen from its first line that is a JSON object, if the first record is not one."""
    if isinstance(sample.first_record, dict):
        return sample
    for line, value in sample.lines:
        if isinstance(value, dict):
            return replace(sample, first_record=value, first_line=line)
    return sample


def _needs_python(src: Source, sample: Any) -> bool:
    head = sample.head.lstrip("\ufeff \t\r\n")
    if src.expand is not None or head.startswith("["):
        return True
    first = sample.first_record
    if not isinstance(first, dict):
        return True  # pretty-printed document, or no line that is JSON: parse it carefully
    if not sample.first_line.startswith("{"):
        return True
    return bool(R.containers(src) & set(first))


def _describe(exc: BaseException) -> str:
    """A one-line reason for a failure that cost a whole file."""
    if isinstance(exc, RecursionError):
        return F.nested_reason()
    if isinstance(exc, MemoryError):
        return "too large to read in memory"
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# --- reading -----------------------------------------------------------------------------------------


CONFLICT_RETRIES = 3


def _ingest_group(
    store: Store,
    plans: list[_Plan],
    report: IngestReport,
    before_commit: Callable[[Store], None] | None = None,
    attempt: int = 1,
) -> None:
    src = plans[0].source
    mode = plans[0].mode
    snapshot = report.as_dict()
    # Read before the transaction: a file DuckDB refuses fails its scan, and a failed statement would abort it.
    documents = _read_documents(store, plans) if mode == "documents" else None
    store.execute("BEGIN TRANSACTION")
    try:
        if documents is not None:
            relation, rejects, python = documents
            map_and_store(store, src, relation, rejects, report)
            if python:  # the files outside the simple case, in Python: salvage and its reasons stay the same
                left = set(python)
                _python_group(store, [p for p in plans if p.path in left], report)
        elif mode == "lines":
            relation, rejects = R.lines_relation(store, [p.path for p in plans], json=src.layout == "json")
            map_and_store(store, src, relation, rejects, report)
        elif mode == "csv":
            relation, columns, rejects = R.csv_relation(store, [p.path for p in plans], src)
            map_and_store(store, src, relation, rejects, report, columns=columns)
        elif mode == "csv-python":
            for plan in plans:
                relation, columns, rejects = R.csv_relation_python(store, plan.path, src)
                map_and_store(store, src, relation, rejects, report, columns=columns)
        else:
            _python_group(store, plans, report)
        if before_commit:
            before_commit(store)
        store.execute("COMMIT")
    except BaseException as exc:
        _rollback(store)
        _restore(report, snapshot)
        if not isinstance(exc, Exception) or parallel.stopping():
            raise  # KeyboardInterrupt, SystemExit, another thread's failure: stop, with nothing half-written
        if isinstance(exc, duckdb.TransactionException):
            # Another writer's transaction, not the files: try again, and never quarantine them for it.
            if attempt < CONFLICT_RETRIES:
                _ingest_group(store, plans, report, before_commit, attempt + 1)
                return
            raise
        if len(plans) > 1:
            for plan in plans:  # find the bad file; the others still go in
                _ingest_group(store, [plan], report, before_commit)
            return
        _retry_or_quarantine(store, plans[0], exc, report, before_commit)


def _read_documents(store: Store, plans: list[_Plan]) -> tuple[str, list[R.Reject], list[Path]]:
    """The group's JSON documents read by DuckDB (:mod:`nhiwatch.sources.documents`); should that reader
    fail as a whole, every file is left to the Python reader."""
    paths = [p.path for p in plans]
    try:
        return D.documents_relation(store, paths, plans[0].source)
    except Exception:  # the Python reader, in the transaction, reads, salvages or quarantines each file
        if parallel.stopping():
            raise  # another worker failed and this one was interrupted: not a reason to read in Python
        store.execute("CREATE OR REPLACE TEMP TABLE nw_lines (file VARCHAR, line BIGINT, j VARCHAR)")
        return "nw_lines", [], paths


def _rollback(store: Store) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction left open: nothing to undo
        store.execute("ROLLBACK")


def _retry_or_quarantine(
    store: Store,
    plan: _Plan,
    exc: Exception,
    report: IngestReport,
    before_commit: Callable[[Store], None] | None = None,
) -> None:
    """One file failed as a whole: salvage it in a slower, more careful reader, or quarantine it."""
    src = plan.source
    fallback: str | None = None
    if plan.mode != "python" and F.is_gzip(plan.path) and not F.gzip_intact(plan.path):
        # What decompresses before the damage is salvaged, by the reader of the file's own layout.
        fallback = "csv-python" if src.layout == "csv" else "python"
    elif plan.mode == "csv":
        fallback = "csv-python"
    elif plan.mode in ("lines", "documents") and src.layout == "json":
        fallback = "python"
    if fallback is not None:
        snapshot = report.as_dict()
        store.execute("BEGIN TRANSACTION")
        try:
            if fallback == "csv-python":
                relation, columns, rejects = R.csv_relation_python(store, plan.path, src)
                map_and_store(store, src, relation, rejects, report, columns=columns)
            else:
                _python_group(store, [replace(plan, mode="python")], report)
            if before_commit:
                before_commit(store)
            store.execute("COMMIT")
            return
        except BaseException as again:
            _rollback(store)
            _restore(report, snapshot)
            if (
                not isinstance(again, Exception)
                or parallel.stopping()
                or isinstance(again, duckdb.TransactionException)
            ):
                raise
            exc = again
    _quarantine_file(store, plan.path, src.id, f"could not be read as {src.title}: {_describe(exc)}", report)


def _restore(report: IngestReport, snapshot: dict[str, Any]) -> None:
    for key in ("read", "stored", "duplicates", "quarantined", "first_time", "last_time"):
        setattr(report, key, snapshot[key])
    report.by_source.clear()
    report.by_source.update(snapshot["by_source"])


PY_BATCH = 50_000  # records parsed in Python per mapping pass: one SQL pass per batch, not per file


def _python_group(store: Store, plans: list[_Plan], report: IngestReport) -> None:
    """Documents (and salvaged files) parsed in Python, mapped in batches of many files.

    A helper thread parses the next batch while DuckDB (which releases the GIL) maps and stores this one.
    """
    src = plans[0].source
    with fewer_collections(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="nhiwatch-parse") as pool:
        batches = _python_batches(src, plans)
        pending = pool.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            _map_python_batch(store, src, *batch, report)


_PyBatch = tuple[list[str], list[int], list[str], list[tuple[str, int, str, str]]]


def _python_batches(src: Source, plans: list[_Plan]) -> Iterator[_PyBatch]:
    files: list[str] = []
    lines: list[int] = []
    texts: list[str] = []
    rejects: list[tuple[str, int, str, str]] = []
    for plan in plans:
        if src.layout != "json":
            data, reason = F.read_all(plan.path)
            good, bad = R.text_lines(data)
            if reason:
                bad.insert(0, (0, reason, ""))
        else:
            good, bad = R.python_records(plan.path, src)
        files.extend([str(plan.path)] * len(good))
        lines.extend(g[0] for g in good)
        texts.extend(g[1] for g in good)
        rejects.extend((str(plan.path), line, reason, raw) for line, reason, raw in bad)
        if len(texts) >= PY_BATCH:
            yield files, lines, texts, rejects
            files, lines, texts, rejects = [], [], [], []
    if texts or rejects:
        yield files, lines, texts, rejects


def _map_python_batch(
    store: Store,
    src: Source,
    files: list[str],
    lines: list[int],
    texts: list[str],
    rejects: list[tuple[str, int, str, str]],
    report: IngestReport,
) -> None:
    table = pa.table({"file": strings(files), "line": integers(lines), "j": strings(texts)})
    store.con.register("nw_py", table)
    try:
        if src.layout == "json":
            # Mapped straight from the Arrow table: copying it first cost a pass over every record.
            map_and_store(store, src, "nw_py", rejects, report)
            return
        # Salvaged text: its header line is deleted from the relation, so it has to be a table.
        store.execute("CREATE OR REPLACE TEMP TABLE nw_lines AS SELECT * FROM nw_py")
    finally:
        with contextlib.suppress(duckdb.Error):  # never hide the error (or interrupt) that got here
            store.con.unregister("nw_py")
    map_and_store(store, src, "nw_lines", rejects, report)


__all__ = ["IngestReport", "ingest"]
