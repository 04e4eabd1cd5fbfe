"""One batch of an ingest mapped and stored: its records through the source's compiled mapping into a staging
table, bad rows to quarantine, the rest de-duplicated and appended to ``events`` (through the redaction chain
when a row's texts may hold a secret).

:mod:`nhiwatch.ingest` plans files into batches, reads each batch into a relation (``file``, ``line`` and the
record's text ``j``, or a CSV row's columns) and calls :func:`map_and_store` inside the batch's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwatch import ingest_parallel as parallel
from nhiwatch import rollups
from nhiwatch.schema import EVENT_COLUMN_NAMES
from nhiwatch.sources import reading as R
from nhiwatch.sources.base import Source, sql_str
from nhiwatch.sources.compile import ColumnAccessor, JsonAccessor, compile_mapping
from nhiwatch.staging import HIT, redacted_stage, stage_trigger
from nhiwatch.store import Store

if TYPE_CHECKING:
    from nhiwatch.ingest import IngestReport


def map_and_store(
    store: Store,
    src: Source,
    relation: str,
    rejects: list[tuple[str, int, str, str]],
    report: IngestReport,
    columns: list[str] | None = None,
) -> None:
    """Map ``relation`` (the batch's records) with ``src``'s mapping and store it, adding to ``report``.

    ``rejects`` are records the reader could not make into rows (file, line, reason, raw text): they go to
    quarantine with the rows the mapping rejects. ``columns`` names a CSV relation's columns, when a CSV reader
    made it (its rows are fingerprinted, their text made only where read). Runs in the caller's transaction;
    the quarantine rows wait in ``nw_q`` for the caller to flush them."""
    if rejects:
        store.insert_rows(
            "nw_q",
            ["ingest_file", "ingest_line", "source", "reason", "raw_data"],
            [(f, ln or None, src.id, reason, (raw or "")[:65536]) for f, ln, reason, raw in rejects],
        )
        report.quarantined += len(rejects)
        report.read += sum(1 for r in rejects if r[1])
    # Blank lines are skipped, not quarantined. Blank as the Python readers see it (bytes.strip()): a line of a
    # vertical tab is skipped by both. strlen is O(1), and only short lines are trimmed: a CASE, since DuckDB
    # reorders an AND's terms by their measured cost, and trimming every record cost ~4 µs each.
    blank = "(j IS NULL OR CASE WHEN strlen(j) < 64 THEN trim(j, ' \t\r\n\x0b\x0c') = '' ELSE false END)"
    nonblank = f"(SELECT * FROM {relation} WHERE NOT {blank})"
    text, digest, carry = "j", "hash(j)", ["j"]  # the record's text, its hash, the columns they are made of
    if src.layout == "json":
        accessor: JsonAccessor | ColumnAccessor = JsonAccessor()
        mapped_from = nonblank
    elif src.layout == "csv":
        accessor = ColumnAccessor(columns or [], positional=False)
        mapped_from = nonblank
        if columns is not None:  # read by a CSV reader (not as lines of a damaged file, in Python)
            # No row is blank (a blank line is no row); the reader hashed each row, its text is made where read.
            mapped_from = f"(SELECT *, {R.csv_row(columns)} AS nw_row FROM {relation})"
            text, digest, carry = R.CSV_TEXT, R.CSV_HASH, ["j", R.CSV_HASH, "nw_row"]
    else:
        assert src.text is not None, f"{src.id}: text layout needs a TextFormat"
        names = _text_names(store, src, relation)
        accessor = ColumnAccessor(names, positional=True)
        valid = src.text.valid("v") if src.text.valid else "true"
        # ``valid`` is SQL of the source's own definition, not a value read from a log. It is tested once per
        # line, as the line is split: the quarantine takes the lines that fail it (its row count is theirs), the
        # mapping the others.
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE nw_split AS SELECT *, coalesce({valid}, false) AS nw_ok
            FROM (SELECT file, line, j, {src.text.split("j")} AS v FROM {nonblank})"""
        )
        bad_lines = int(
            store.execute(
                f"""INSERT INTO nw_q (ingest_file, ingest_line, source, reason, raw_data)
                SELECT file, line, {sql_str(src.id)}, {sql_str(src.text.invalid_reason)}, left(j, 65536)
                FROM nw_split WHERE NOT nw_ok"""
            ).fetchall()[0][0]
        )
        report.quarantined += bad_lines
        report.read += bad_lines
        mapped_from = "(SELECT file, line, j, v FROM nw_split WHERE nw_ok)"
    select = compile_mapping(src, accessor, mapped_from, carry)
    uid = f"{sql_str(src.name + ':')} || coalesce(nullif(vendor_uid, ''), md5({text}))"
    # The record text is kept only for rows going to quarantine; stored events keep its hash (evidence
    # re-reads the record from its file), which spares copying every record through the stage. The columns
    # the reason is made of are not kept either: nothing reads them after it.
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_stage AS
        SELECT * EXCLUDE ({", ".join(carry)}, time_raw, vendor_uid, check_reason),
               CASE WHEN bad_reason IS NOT NULL THEN left({text}, 65536) END AS j,
               {stage_trigger()} AS {HIT}
        FROM (SELECT *, {uid} AS metadata_uid, {digest} AS raw_hash,
               coalesce(check_reason, CASE WHEN time IS NULL THEN
                   'missing or unparseable timestamp: ' || coalesce('"' || left(time_raw, 4096) || '"', '(absent)') END)
               AS bad_reason
              FROM ({select}))"""
    )
    # fetchall, not fetchone: a result left unfinished would make the Arrow table's unregister() fail.
    # Distinct uids are counted by their hashes (half the cost): a collision can only make a batch look as if
    # it repeated itself, which costs the window below, never a duplicate.
    total, bad, tmin, tmax, repeats, hits = store.fetchall(
        "SELECT count(*), count(*) FILTER (WHERE bad_reason IS NOT NULL), min(time), max(time),"
        " count(*) FILTER (WHERE bad_reason IS NULL)"
        " - count(DISTINCT hash(metadata_uid)) FILTER (WHERE bad_reason IS NULL),"
        f" count(*) FILTER (WHERE bad_reason IS NULL AND {HIT})"
        " FROM nw_stage"
    )[0]
    report.read += int(total)
    if bad:
        store.execute(
            f"""INSERT INTO nw_q (ingest_file, ingest_line, source, reason, raw_data)
            SELECT file, line, {sql_str(src.id)}, bad_reason, j FROM nw_stage WHERE bad_reason IS NOT NULL"""
        )
    report.quarantined += int(bad)
    if int(total) == int(bad):
        return
    cols = ", ".join(EVENT_COLUMN_NAMES)
    parallel.storing()  # the first write to the database: no checkpoint until this batch ends
    batch = rollups.next_batch(store)
    # The first copy of an event within a batch wins; the window is only paid for when a batch repeats itself.
    first_copy = (
        "QUALIFY row_number() OVER (PARTITION BY metadata_uid ORDER BY file, line) = 1" if repeats else ""
    )
    # A uid starts with its source's name, so only that source's events in the batch's time span can hold
    # it; when there are none (a first ingest, a new day) the probe is skipped.
    probe = store.fetchall(
        "SELECT 1 FROM events WHERE source = ? AND time BETWEEN ? AND ? LIMIT 1", [src.name, tmin, tmax]
    )
    not_stored = (
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.source = $source AND e.time BETWEEN $lo AND $hi"
        " AND e.metadata_uid = s.metadata_uid)"
        if probe
        else ""
    )
    params = {"source": src.name, "lo": tmin, "hi": tmax} if probe else None
    copies = bool(store.scalar("SELECT count(*) FROM nw_copy"))
    stored = store.execute(
        f"""INSERT INTO events ({cols})
        SELECT {", ".join(str(batch) if c == "ingest_batch" else _stage_expr(c, src, copies) for c in EVENT_COLUMN_NAMES)}
        FROM {redacted_stage() if hits else "nw_stage"} s
        WHERE bad_reason IS NULL {not_stored}
        {first_copy}""",
        params,
    ).fetchall()[0][0]
    report.stored += stored
    report.duplicates += int(total) - int(bad) - stored
    report.by_source[src.id] += stored
    if stored:
        lo, hi = store.fetchall("SELECT min(time), max(time) FROM events WHERE ingest_batch = ?", [batch])[0]
        report.first_time = lo if report.first_time is None else min(report.first_time, lo)
        report.last_time = hi if report.last_time is None else max(report.last_time, hi)


def _stage_expr(col: str, src: Source, copies: bool) -> str:
    """The stored value of ``col``, read from :func:`nhiwatch.staging.redacted_stage` (text columns arrive redacted)."""
    if col == "source":
        return sql_str(src.name)
    if col == "integration_id":
        return "NULL::VARCHAR"
    if col == "ingest_file":  # a transient input's events name nhiwatch's copy of it
        return "coalesce((SELECT c.copy FROM nw_copy c WHERE c.file = s.file), file)" if copies else "file"
    if col == "ingest_line":
        return "line"
    return col


def _text_names(store: Store, src: Source, relation: str) -> list[str]:
    assert src.text is not None
    if src.text.header_names is None:
        return list(src.text.names)
    first = store.fetchone(f"SELECT j FROM {relation} ORDER BY file, line LIMIT 1")
    names = src.text.header_names(first[0]) if first else None
    if names:
        store.execute(
            f"DELETE FROM {relation} WHERE (file, line) IN (SELECT (file, min(line)) FROM {relation} GROUP BY file)"
        )
        return list(names)
    return list(src.text.names)


__all__ = ["map_and_store"]
