"""The objects a feed has read: the ``collector_objects`` table, one row per S3 object or log file.

A listing API (S3 ``ListObjectsV2``, the Salesforce ``EventLogFile`` query) gives no cursor that stays
valid as new objects arrive: a CloudTrail file delivered a second late, or a Security Lake file with a
random name, can sort *before* the last key read. A feed therefore lists again from a floor (its
checkpoint, e.g. a day) and skips the objects recorded here. A row is written in the transaction that
stores the object's events, so "read" and "stored" never disagree after a crash; rows older than the
floor are pruned once a pass is complete, which bounds the table to the objects of a day or two.

Objects that grow while they are listed (Azure append blobs: a diagnostic setting appends to the hour's
``PT1H.json`` all hour long) are read in parts: ``collector_offsets`` keeps, per object, the bytes read so
far, written in the same transaction as the events of the part, and pruned with the same floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS collector_objects (
    source VARCHAR NOT NULL, instance VARCHAR NOT NULL, key VARCHAR NOT NULL,
    object_time TIMESTAMP, read_at TIMESTAMP)"""


OFFSETS_DDL = """CREATE TABLE IF NOT EXISTS collector_offsets (
    source VARCHAR NOT NULL, instance VARCHAR NOT NULL, key VARCHAR NOT NULL,
    object_time TIMESTAMP, bytes BIGINT NOT NULL, read_at TIMESTAMP)"""


def ensure(store: Store) -> None:
    store.ensure(DDL, OFFSETS_DDL)


def known(store: Store, source: str, instance: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the stream has already read."""
    if not keys:
        return set()
    rows = store.fetchall(
        "SELECT key FROM collector_objects WHERE source = ? AND instance = ? AND key IN (SELECT unnest(?))",
        [source, instance, list(keys)],
    )
    return {r[0] for r in rows}


def add(
    store: Store, source: str, instance: str, items: Iterable[tuple[str, datetime]], now: datetime
) -> None:
    """Record objects as read; call inside the transaction that stores their events."""
    for key, at in items:
        store.execute(
            "INSERT INTO collector_objects VALUES (?, ?, ?, ?, ?)", [source, instance, key, at, now]
        )


def offsets(store: Store, source: str, instance: str, keys: Sequence[str]) -> dict[str, int]:
    """The bytes already read of each of ``keys`` that was read in part (absent: none read)."""
    if not keys:
        return {}
    rows = store.fetchall(
        "SELECT key, bytes FROM collector_offsets WHERE source = ? AND instance = ? "
        "AND key IN (SELECT unnest(?))",
        [source, instance, list(keys)],
    )
    return {r[0]: int(r[1]) for r in rows}


def advance(
    store: Store, source: str, instance: str, key: str, at: datetime, read_to: int, now: datetime
) -> None:
    """Record that ``key`` is read up to byte ``read_to``; call inside the transaction storing that part."""
    store.execute(
        "DELETE FROM collector_offsets WHERE source = ? AND instance = ? AND key = ?", [source, instance, key]
    )
    store.execute(
        "INSERT INTO collector_offsets VALUES (?, ?, ?, ?, ?, ?)", [source, instance, key, at, read_to, now]
    )


def prune(store: Store, source: str, instance: str, before: datetime) -> None:
    """Forget objects older than ``before``: the next listing starts after them."""
    for table in ("collector_objects", "collector_offsets"):
        store.execute(
            f"DELETE FROM {table} WHERE source = ? AND instance = ? AND object_time < ?",
            [source, instance, before],
        )


def count(store: Store, source: str, instance: str) -> int:
    if not store.table_exists("collector_objects"):
        return 0
    return int(
        store.scalar(
            "SELECT count(*) FROM collector_objects WHERE source = ? AND instance = ?", [source, instance]
        )
    )
