"""Compiles a source's declarative field mapping into one SQL SELECT over a relation of raw records.

The records relation has columns ``file``, ``line`` and ``j`` (the raw record as text; for CSV also
the row's columns). The compiled query yields every normalized column plus ``time_raw`` and
``bad_reason``; a row with a reason goes to quarantine instead of the event table.
"""

from __future__ import annotations

from nhiwatch.schema import EVENT_COLUMNS, MAPPED_COLUMNS
from nhiwatch.sources.base import Source, sql_str
from nhiwatch.sources.sql import NULL_S

MAX_FIELD = 2048  # longest text kept in a normalized column; the raw event keeps everything


def json_path(path: str) -> str:
    """``actor.id`` / ``target[0].id`` / ``@timestamp`` -> a quoted JSONPath; ``$...`` is kept."""
    if path.startswith("$"):
        return path
    out = "$"
    for part in path.split("."):
        name, _, rest = part.partition("[")
        out += f'."{name}"' + (f"[{rest}" if rest else "")
    return out


class JsonAccessor:
    """Accessor over a JSON record: each path is extracted once per row, in one parse."""

    def __init__(self) -> None:
        self.str_paths: list[str] = []
        self.json_paths: list[str] = []

    def __call__(self, path: str) -> str:
        p = json_path(path)
        if p not in self.str_paths:
            self.str_paths.append(p)
        return f"vs[{self.str_paths.index(p) + 1}]"

    def json(self, path: str) -> str:
        p = json_path(path)
        if p not in self.json_paths:
            self.json_paths.append(p)
        return f"vj[{self.json_paths.index(p) + 1}]"

    @property
    def raw(self) -> str:
        return "j"

    def extract_sql(self) -> str:
        cols = ["file", "line", "j"]
        # try(): one parse per record; a record that is not JSON yields NULL and is quarantined by json_reason.
        paths = self.str_paths or ["$"]
        cols.append(f"try(json_extract_string(j, [{', '.join(map(sql_str, paths))}])) AS vs")
        if self.json_paths:
            cols.append(f"try(json_extract(j, [{', '.join(map(sql_str, self.json_paths))}])) AS vj")
        return ", ".join(cols)

    @staticmethod
    def reason_sql() -> str:
        """Why a raw record cannot be mapped at all, or NULL."""
        return (
            "CASE WHEN vs IS NULL THEN 'not valid JSON' "
            "WHEN NOT starts_with(ltrim(j, ' \t\r\n\ufeff'), '{') "
            "THEN 'JSON of the wrong shape: expected an object, got ' || "
            "CASE WHEN try(json_type(j)) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN 'a number' "
            "WHEN try(json_type(j)) = 'VARCHAR' THEN 'a string' "
            "ELSE lower(coalesce(try(json_type(j)), '?')) END END"
        )


class ColumnAccessor:
    """Accessor over named columns (CSV) or positions of a split line (text formats)."""

    def __init__(self, names: tuple[str, ...] | list[str], *, positional: bool) -> None:
        self.names = list(names)
        self.positional = positional

    def __call__(self, path: str) -> str:  # named as in the Accessor protocol, so mypy matches them
        if path not in self.names:
            return NULL_S
        if self.positional:
            return f"v[{self.names.index(path) + 1}]"
        return '"' + path.replace('"', '""') + '"'

    def json(self, path: str) -> str:
        raise TypeError("json() is only available for JSON layouts")

    @property
    def raw(self) -> str:
        return "j"


def compile_mapping(source: Source, accessor: JsonAccessor | ColumnAccessor, relation: str) -> str:
    """SELECT producing normalized columns + time_raw + bad_reason + vendor_uid from ``relation``."""
    mapped = dict(source.fields(accessor))
    unknown = set(mapped) - set(MAPPED_COLUMNS)
    if unknown:
        raise ValueError(f"{source.id}: mapping names unknown columns {sorted(unknown)}")
    vendor_uid = source.vendor_uid(accessor) if source.vendor_uid else NULL_S
    checks = list(source.checks(accessor)) if source.checks else []
    select: list[str] = []
    for col in EVENT_COLUMNS:
        if col.name not in MAPPED_COLUMNS:
            continue
        expr = mapped.get(col.name)
        if col.name == "time":
            select.append(f"nw_ts({expr or NULL_S}) AS time")
            select.append(f"CAST({expr or NULL_S} AS VARCHAR) AS time_raw")
        elif expr is None:
            select.append(f"NULL::{col.sql_type} AS {col.name}")
        elif col.sql_type == "VARCHAR":
            select.append(f"left(CAST({expr} AS VARCHAR), {MAX_FIELD}) AS {col.name}")
        else:
            select.append(f"CAST({expr} AS {col.sql_type}) AS {col.name}")
    whens = " ".join(f"WHEN {cond} THEN {sql_str(reason)}" for cond, reason in checks)
    if isinstance(accessor, JsonAccessor):
        whens = f"WHEN ({accessor.reason_sql()}) IS NOT NULL THEN {accessor.reason_sql()} {whens}"
    select.append(f"CAST({vendor_uid} AS VARCHAR) AS vendor_uid")
    select.append(f"(CASE {whens} WHEN 1=0 THEN NULL ELSE NULL END) AS check_reason")
    pre = accessor.extract_sql() if isinstance(accessor, JsonAccessor) else "*"
    return f"SELECT file, line, j, {', '.join(select)} FROM (SELECT {pre} FROM {relation})"
