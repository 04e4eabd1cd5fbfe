"""Compiles a source's declarative field mapping into one SQL SELECT over a relation of raw records.

The records relation has columns ``file``, ``line`` and ``j`` (the raw record as text; for CSV the row's
columns and fingerprint, the text being made from them only where it is read). The compiled query yields
every normalized column plus ``time_raw`` and ``bad_reason``; a row with a reason goes to quarantine
instead of the event table.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        self.element_keys: dict[str, list[str]] = {}  # JSONPath of an array -> keys read from its elements
        self.set_paths: list[str] = []  # paths of json_value(): parsed again only where set

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

    def json_value(self, path: str) -> str:
        """SQL JSON of a field, NULL when it is absent *or null* (the two are not told apart), for readers to
        whom both mean the same, such as a ``json_type`` test. Unlike :meth:`json`, the record is parsed a
        second time only on rows where the field is set (its text, read in the one parse, is not NULL)."""
        self(path)
        p = json_path(path)
        if p not in self.set_paths:
            self.set_paths.append(p)
        return f"vv{self.set_paths.index(p) + 1}"

    def elements(self, path: str, key: str) -> str:
        """SQL VARCHAR[]: ``key`` of each element of the array at ``path`` (as ``json_extract_string`` reads
        it, NULL where absent), NULL unless that field is an array. However many keys and uses, each row's
        array is split and each element parsed once, in :meth:`derived_sql`."""
        p = json_path(path)
        self.json(path)
        keys = self.element_keys.setdefault(p, [])
        if key not in keys:
            keys.append(key)
        return f"list_transform(ve{list(self.element_keys).index(p) + 1}, lambda e: e[{keys.index(key) + 1}])"

    @property
    def raw(self) -> str:
        return "j"

    def derived_sql(self) -> list[str]:
        """Columns computed from the extracted ones, once per row: the element lists of :meth:`elements` and
        the values of :meth:`json_value`.
        ``vj`` holds JSON as DuckDB re-serialises it, so an array is exactly a text starting with '['."""
        cols = []
        for n, (p, keys) in enumerate(self.element_keys.items(), 1):
            doc = f"vj[{self.json_paths.index(p) + 1}]"
            paths = ", ".join(sql_str(json_path(k)) for k in keys)
            cols.append(
                f"CASE WHEN starts_with(CAST({doc} AS VARCHAR), '[') THEN list_transform(json_extract({doc}, '$[*]'),"
                f" lambda t: json_extract_string(t, [{paths}])) END AS ve{n}"
            )
        for n, p in enumerate(self.set_paths, 1):
            text = f"vs[{self.str_paths.index(p) + 1}]"
            cols.append(f"CASE WHEN {text} IS NOT NULL THEN try(json_extract(j, {sql_str(p)})) END AS vv{n}")
        return cols

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
        # Most records start with '{': they are spared ltrim's copy of the whole record.
        return (
            "CASE WHEN vs IS NULL THEN 'not valid JSON' WHEN starts_with(j, '{') THEN NULL "
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

    def json_value(self, path: str) -> str:
        raise TypeError("json_value() is only available for JSON layouts")

    def elements(self, path: str, key: str) -> str:
        raise TypeError("elements() is only available for JSON layouts")

    @property
    def raw(self) -> str:
        return "j"


def compile_mapping(
    source: Source, accessor: JsonAccessor | ColumnAccessor, relation: str, carry: Sequence[str] = ("j",)
) -> str:
    """SELECT producing normalized columns + time_raw + bad_reason + vendor_uid from ``relation``, beside
    ``file``, ``line`` and the columns ``carry`` (what the record's text and hash are made of)."""
    mapped = dict(source.fields(accessor))
    unknown = set(mapped) - set(MAPPED_COLUMNS)
    if unknown:
        raise ValueError(f"{source.id}: mapping names unknown columns {sorted(unknown)}")
    vendor_uid = source.vendor_uid(accessor) if source.vendor_uid else NULL_S
    checks = list(source.checks(accessor)) if source.checks else []
    # The raw time is cast once two levels below the mapping and cleaned once in the level between, so the
    # timestamp parser (which reads its argument several times) reads a column and is planned once (nw_ts_clean).
    time_raw = "nw_time_raw"
    while isinstance(accessor, ColumnAccessor) and {time_raw, time_raw + "_clean"} & set(accessor.names):
        time_raw += "_"
    time_clean = time_raw + "_clean"
    select: list[str] = []
    cut: list[str] = []  # the outer level: text columns cut to MAX_FIELD characters
    for col in EVENT_COLUMNS:
        if col.name not in MAPPED_COLUMNS:
            continue
        expr = mapped.get(col.name)
        if col.name == "time":
            select.append(f"nw_ts_of_clean({time_clean}) AS time")
            select.append(f"{time_raw} AS time_raw")
            cut += ["time", "time_raw"]
        elif expr is None:
            select.append(f"NULL::{col.sql_type} AS {col.name}")
            cut.append(col.name)
        elif col.sql_type == "VARCHAR":
            select.append(f"CAST({expr} AS VARCHAR) AS {col.name}")
            # left() copies every value; strlen counts bytes, which bound the characters left() counts.
            cut.append(
                f"CASE WHEN strlen({col.name}) <= {MAX_FIELD} THEN {col.name} ELSE left({col.name}, {MAX_FIELD}) END AS {col.name}"
            )
        else:
            select.append(f"CAST({expr} AS {col.sql_type}) AS {col.name}")
            cut.append(col.name)
    whens = " ".join(f"WHEN {cond} THEN {sql_str(reason)}" for cond, reason in checks)
    if isinstance(accessor, JsonAccessor):
        whens = f"WHEN ({accessor.reason_sql()}) IS NOT NULL THEN {accessor.reason_sql()} {whens}"
    select.append(f"CAST({vendor_uid} AS VARCHAR) AS vendor_uid")
    select.append(f"(CASE {whens} WHEN 1=0 THEN NULL ELSE NULL END) AS check_reason")
    cut += ["vendor_uid", "check_reason"]
    if isinstance(accessor, JsonAccessor):
        pre, derived = accessor.extract_sql(), accessor.derived_sql()
    else:
        pre, derived = "*", []
    derived.append(f"CAST({mapped.get('time') or NULL_S} AS VARCHAR) AS {time_raw}")
    rows = f"SELECT *, {', '.join(derived)} FROM (SELECT {pre} FROM {relation})"
    rows = f"SELECT *, nw_ts_clean({time_raw}) AS {time_clean} FROM ({rows})"
    kept = ", ".join(["file", "line", *carry])
    mapped_rows = f"SELECT {kept}, {', '.join(select)} FROM ({rows})"
    return f"SELECT {kept}, {', '.join(cut)} FROM ({mapped_rows})"
