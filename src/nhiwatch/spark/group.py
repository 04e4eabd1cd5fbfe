"""One Spark group's detection: its Arrow tables in an in-memory store, then the library's own learn and detect.

This is the function Spark runs per group (``applyInArrow``). A group holds whole peer groups — integrations
of the same kind and vendor, the unit the volume baselines pool over — hashed into a few buckets, so the
per-group store holds everything the estimators read for its members. Two fleet-wide facts come from outside the group and are laid into the
store beside its own data:

- the *fleet hours*: every hour in which any integration had events. ``learn`` refuses a step with no
  history at all, and the DuckDB engine asks that of the whole fleet; one row per such hour with no
  integration (``integration_id`` NULL, which no estimator or detector can join to) makes each group skip
  exactly the steps the fleet skips;
- the *fleet destinations*: other groups' ``destination`` values, for the hosts this group's events talk to
  (``new_destination`` leaves out hosts several other integrations use).

Findings of integrations outside the group (the full inventory is loaded, so posture checks see what they
would see in one store) are dropped here: each is raised by its own group.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from nhiwatch import rollups
from nhiwatch.alerts.config import AlertConfig
from nhiwatch.detection import _defaults, _detect
from nhiwatch.detectors.base import Finding
from nhiwatch.inventory.resolve import ensure_tables as ensure_inventory
from nhiwatch.store import Store

# Per-group tables and the store table each is inserted into.
GROUP_TABLES: dict[str, str] = {
    "events": "events",
    "rollup_hourly": "rollup_hourly",
    "rollup_sizes": "rollup_sizes",
    "rollup_values": "rollup_values",
    "rollup_lifecycle": "rollup_lifecycle",
    "fleet_values": "rollup_values",
}
REFERENCE = ("integrations", "identities", "tickets")
UNKNOWN_PEER = "?|?"  # events of an integration the inventory does not hold
# What the group function returns: findings (pickled: made by this module's own code in this job and read
# back only by the driver of the same job, never from the lake), notes and errors.
RESULT_SCHEMA = (
    "grp string, kind string, integration_id string, detector string, first_seen timestamp_ntz, "
    "last_seen timestamp_ntz, payload binary"
)
SENTINEL_UID = "nhiwatch:spark:sentinel"


@dataclass
class GroupJob:
    """What every group needs besides its own rows (shipped to the executors once, as a broadcast)."""

    since: datetime
    until: datetime
    config: AlertConfig
    only: tuple[str, ...] | None
    reference: dict[str, bytes]  # table -> Arrow IPC stream
    fleet_hours: list[datetime] = field(default_factory=list)
    buckets: int = 1


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def split(table: pa.Table, name: str) -> pa.Table | None:
    """The rows of one packed table (``_t == name``), unpacked from their struct column."""
    if name not in table.column_names:
        return None
    rows = table.filter(pc.equal(table["_t"], name))
    if rows.num_rows == 0:
        return None
    packed = rows[name].combine_chunks()
    return pa.Table.from_arrays(packed.flatten(), names=[f.name for f in packed.type])


def _insert(store: Store, table: str, data: pa.Table) -> None:
    store.con.register("nw_spark_in", data)
    try:
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        store.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM nw_spark_in")
    finally:
        store.con.unregister("nw_spark_in")


def peer_group_sql(alias: str = "i") -> str:
    """The peer group of an inventory row, as :mod:`nhiwatch.baseline.profile` forms it."""
    return f"coalesce({alias}.kind, '?') || '|' || coalesce({alias}.vendor, {alias}.discovered_source, '?')"


def bucket(peer_group: str, buckets: int) -> str:
    """The Spark group a peer group falls in: whole peer groups, hashed into ``buckets`` (stable across
    processes, unlike ``hash``), so a group's fixed cost is paid a few times, not once per peer group.

    >>> bucket("oauth_app|salesforce", 4) == bucket("oauth_app|salesforce", 4)
    True
    """
    return str(zlib.crc32(peer_group.encode()) % max(1, buckets))


def load_group(store: Store, table: pa.Table, job: GroupJob) -> None:
    """Fill an empty store with the group's rows, the reference tables and the fleet hours."""
    ensure_inventory(store)
    store.ensure(*rollups.DDL)
    # the rollups arrive complete: the cursor past every batch keeps learn from folding anything again
    store.execute("INSERT INTO rollup_state VALUES (?, ?)", [rollups.CURSOR, 2**62])
    for name, data in job.reference.items():
        _insert(store, name, from_ipc(data))
    for name, target in GROUP_TABLES.items():
        part = split(table, name)
        if part is not None:
            _insert(store, target, part)
    if job.fleet_hours:
        store.execute(
            "INSERT INTO rollup_hourly (integration_id, hour, action_class, status, events) "
            "SELECT NULL, unnest(?::TIMESTAMP[]), '*', '*', 1",
            [job.fleet_hours],
        )
    if not store.event_count():  # learn wants a store with events; this one is outside every window
        store.execute(
            "INSERT INTO events (time, metadata_uid, source, ingest_batch) VALUES (TIMESTAMP '1970-01-01', ?, ?, 0)",
            [SENTINEL_UID, "nhiwatch"],
        )


def detect_group(table: pa.Table, job: GroupJob) -> pa.Table:
    """Learn and detect over one group's data, step by step exactly as :func:`run_detection` does."""
    group = str(table["_g"][0].as_py())
    errors: list[str] = []
    notes: list[str] = []
    with Store(":memory:") as store:
        load_group(store, table, job)
        peers = dict(store.fetchall(f"SELECT id, {peer_group_sql()} FROM integrations i"))
        runner, learner, _ = _defaults(job.only, errors)
        found = _detect(store, job.since, job.until, job.config, runner, learner, notes)
    mine = [f for f in found if bucket(peers.get(f.integration_id, UNKNOWN_PEER), job.buckets) == group]
    return result_table(group, mine, notes, errors)


def result_table(group: str, findings: list[Finding], notes: list[str], errors: list[str]) -> pa.Table:
    rows: list[dict[str, Any]] = [
        {
            "grp": group,
            "kind": "finding",
            "integration_id": f.integration_id,
            "detector": f.detector,
            "first_seen": f.first_seen,
            "last_seen": f.last_seen,
            "payload": pickle.dumps(f),
        }
        for f in findings
    ]
    rows += [{"grp": group, "kind": "note", "payload": n.encode()} for n in notes]
    rows += [{"grp": group, "kind": "error", "payload": e.encode()} for e in errors]
    schema = pa.schema(
        [
            ("grp", pa.string()),
            ("kind", pa.string()),
            ("integration_id", pa.string()),
            ("detector", pa.string()),
            ("first_seen", pa.timestamp("us")),
            ("last_seen", pa.timestamp("us")),
            ("payload", pa.binary()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
