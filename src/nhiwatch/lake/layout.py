"""What each lake table holds: the store table it comes from, its event day, its partition columns.

Types are kept to what every Parquet reader understands: the hourly rollup's minute map (``UBIGINT`` in the
store, 60 bits used) is written as ``BIGINT``; an identity's address range (``HUGEINT``, IPv6-wide) as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nhiwatch.schema import EVENT_COLUMN_NAMES


@dataclass(frozen=True)
class LakeTable:
    name: str  # directory under the lake root, and the store table it is written from
    select: str  # the store columns written (partition columns included)
    day: str  # SQL for the event day (the partition) of a row
    partition_by: tuple[str, ...] = ("event_day",)


EVENTS = LakeTable(
    "events",
    ", ".join(EVENT_COLUMN_NAMES),
    "CAST(time AS DATE)",
    ("source", "event_day"),
)
ROLLUP_TABLES: tuple[LakeTable, ...] = (
    LakeTable("rollup_hourly", "* REPLACE (CAST(minutes AS BIGINT) AS minutes)", "CAST(hour AS DATE)"),
    LakeTable("rollup_sizes", "*", "day"),
    LakeTable("rollup_values", "*", "day"),
    LakeTable("rollup_lifecycle", "*", "CAST(time AS DATE)"),
)
LAKE_TABLES: tuple[LakeTable, ...] = (EVENTS, *ROLLUP_TABLES)
# Small tables the detections read beside events and rollups: written whole, one file each.
REFERENCE_TABLES: dict[str, str] = {
    "integrations": "*",
    "identities": "* REPLACE (CAST(ip_lo AS VARCHAR) AS ip_lo, CAST(ip_hi AS VARCHAR) AS ip_hi)",
    "tickets": "*",
}
STATE_FILE = "_nhiwatch/export.json"
FINDINGS = "findings"


def lake_glob(root: str | Path, table: str) -> str:
    """The file pattern of one lake table, for ``read_parquet(..., hive_partitioning = true)``."""
    depth = 2 if table == "events" else 1
    return str(Path(root) / table / "/".join(["*"] * depth) / "*.parquet")
