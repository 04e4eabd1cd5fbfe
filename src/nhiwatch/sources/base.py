"""The contract every log source implements: how it recognises its format and how its fields map.

A source is declarative. It names a *layout* (JSON records, CSV with a header, or text lines), a
``sniff`` function that scores a sample of a file, and a ``fields`` function that returns one SQL
expression per normalized column. The expressions are written against an :class:`Accessor`, so the
same mapping runs inside DuckDB over millions of rows with no Python per event. ``time`` is given as
the vendor's raw timestamp text; the engine parses every shape it knows (ISO 8601 with or without an
offset, epoch seconds or milliseconds, Salesforce ``yyyyMMddHHmmss.SSS``) and quarantines the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Layout = Literal["json", "csv", "text"]


class Accessor(Protocol):
    """Turns a vendor field reference into a SQL expression over the current record."""

    def __call__(self, path: str) -> str:
        """SQL VARCHAR of a field: a dotted JSON path (``actor.id``), ``$``-JSONPath, or CSV column."""
        ...

    def json(self, path: str) -> str:
        """SQL JSON of a field (arrays, objects); JSON layouts only."""
        ...

    def json_value(self, path: str) -> str:
        """SQL JSON of a field, NULL when absent or null (not told apart); JSON layouts only. Cheaper than
        ``json(path)`` for a field most records lack: the record is parsed again only where it is set."""
        ...

    def elements(self, path: str, key: str) -> str:
        """SQL VARCHAR[]: ``key`` of each element of the array at ``path``, NULL unless an array; JSON
        layouts only. Cheaper than re-reading ``json(path)``: the array is parsed once per record."""
        ...

    @property
    def raw(self) -> str:
        """SQL VARCHAR of the whole raw record."""
        ...


@dataclass(frozen=True)
class Sample:
    """What sniffing sees of a file: its name, its first characters, and its first record if parseable.

    ``lines`` holds the first non-blank lines with their JSON value (or None): recognition also tries each
    of them as the first, so one bad record at the top does not decide the format of the file.
    """

    name: str
    head: str
    first_record: Any = None  # first JSON value (dict/list) or None
    first_line: str = ""
    lines: tuple[tuple[str, Any], ...] = ()


FieldsFn = Callable[[Accessor], Mapping[str, str]]


@dataclass(frozen=True)
class TextFormat:
    """How a text-layout source turns a line into named fields.

    ``split`` returns a SQL expression producing a ``VARCHAR[]`` from the line ``j``; ``names`` gives
    the field name of each position; ``header`` (optional) derives names from a header line.
    """

    split: Callable[[str], str]
    names: tuple[str, ...]
    header_names: Callable[[str], tuple[str, ...] | None] | None = None
    valid: Callable[[str], str] | None = None  # SQL boolean over the split list ``v``
    invalid_reason: str = "line does not match the format"


@dataclass(frozen=True)
class Source:
    """One vendor log stream."""

    name: str  # value of the ``source`` column, e.g. "github"
    stream: str  # e.g. "audit_log"
    title: str
    layout: Layout
    sniff: Callable[[Sample], float]
    fields: FieldsFn
    # SQL over the accessor giving the vendor's own event id (for cross-file de-duplication), or None.
    vendor_uid: Callable[[Accessor], str] | None = None
    # JSON layouts: JSONPaths of the record arrays inside a document ("$.Records[*]", "$.items[*]").
    record_paths: tuple[str, ...] = ()
    # JSON layouts: a Python function that expands one record into several (GWS events[]).
    expand: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    # Extra validity checks: (SQL condition that makes a record invalid, quarantine reason).
    checks: Callable[[Accessor], list[tuple[str, str]]] | None = None
    csv_delimiter: str = ","
    text: TextFormat | None = None
    ocsf_classes: Mapping[str, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}.{self.stream}"


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
