"""SQL helpers shared by the Salesforce streams: IP-only columns, user agents and US-locale dates.

Salesforce writes ``Salesforce.com IP`` where an address is internal, API logs carry a numeric
``USER_AGENT`` code, and the Setup Audit Trail download prints dates in the exporting user's locale
and time zone (``4/27/2025, 10:14:03 AM PDT``). These helpers turn each into something the normalized
columns can hold, in SQL, so no Python runs per event.
"""

from __future__ import annotations

from typing import Final

from nhiwatch.sources.base import sql_str
from nhiwatch.sources.sql import NULL_S

# Time zone abbreviations Salesforce prints in en_US dates, as minutes east of UTC.
TZ_OFFSETS: Final[dict[str, int]] = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "GST": 240,
    "SGT": 480,
    "HKT": 480,
    "JST": 540,
    "KST": 540,
    "AEST": 600,
    "AEDT": 660,
    "ACST": 570,
    "AWST": 480,
    "NZST": 720,
    "NZDT": 780,
    "AST": -240,
    "ADT": -180,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
}

US_DATE = (
    r"^\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4}),?\s+([0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)\s*([AaPp][Mm])?"
    r"\s*([A-Za-z]{1,5})?\s*$"
)
IP_RE = r"[0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+"
US_FORMATS = "['%m/%d/%Y %I:%M:%S %p', '%m/%d/%Y %I:%M %p', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M']"


def us_datetime(expr: str) -> str:
    """``4/27/2025, 10:14:03 AM PDT`` -> ``2025-04-27T17:14:03Z`` (SQL); other text is passed through.

    The zone abbreviation decides the offset; a date whose zone is not in :data:`TZ_OFFSETS` is left
    as it was, so the engine quarantines it as unparseable instead of guessing. No zone means UTC.
    """
    part = lambda i: f"regexp_extract({expr}, '{US_DATE}', {i})"  # noqa: E731
    zone = f"upper(nullif({part(4)}, ''))"
    offset = "(CASE " + " ".join(f"WHEN {zone} = '{k}' THEN {v}" for k, v in TZ_OFFSETS.items())
    offset += f" WHEN {zone} IS NULL THEN 0 END)"
    text = f"{part(1)} || ' ' || {part(2)} || coalesce(' ' || nullif({part(3)}, ''), '')"
    local = f"try_strptime({text}, {US_FORMATS})"
    utc = f"strftime({local} - to_minutes(CAST({offset} AS BIGINT)), '%Y-%m-%dT%H:%M:%SZ')"
    return f"coalesce(CASE WHEN regexp_matches({expr}, '{US_DATE}') THEN {utc} END, {expr})"


def ip_only(*exprs: str) -> str:
    """The first value that looks like an IPv4/IPv6 address (``Salesforce.com IP`` and blanks skipped)."""
    whens = " ".join(f"WHEN regexp_full_match(trim({e}), '{IP_RE}') THEN trim({e})" for e in exprs)
    return f"(CASE {whens} ELSE {NULL_S} END)"


def user_agent(*exprs: str) -> str:
    """The first non-blank user agent that is not a bare numeric code (API logs use codes)."""
    whens = " ".join(
        f"WHEN nullif(trim({e}), '') IS NOT NULL AND NOT regexp_full_match(trim({e}), '[0-9]+') THEN {e}"
        for e in exprs
    )
    return f"(CASE {whens} ELSE {NULL_S} END)"


def blank_to_null(expr: str, *placeholders: str) -> str:
    """NULL for blanks and for Salesforce placeholders such as ``N/A`` or ``Unknown``."""
    values = ", ".join(f"'{p}'" for p in placeholders)
    cond = f"nullif(trim({expr}), '') IS NULL" + (f" OR trim({expr}) IN ({values})" if placeholders else "")
    return f"(CASE WHEN {cond} THEN {NULL_S} ELSE {expr} END)"


# A SOQL text's literals, in the order they are replaced: quoted strings (with \' escapes), date and
# datetime literals, then bare numbers; an IN list of placeholders then becomes one placeholder.
_SOQL_LITERALS = (
    r"'(?:[^'\\]|\\.)*'",
    r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?",
    r"\b[0-9]+(?:\.[0-9]+)?\b",
)
_IN_LIST = r"(?i)\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)"
# Collapses spaces as ``\s+`` -> ' ' does (RE2's \s), but matches only runs and non-space blanks: rewriting
# every single space of every query took half of the shape's cost.
_SPACES = r"[\t\n\f\r ]{2,}|[\t\n\f\r]"
_SELECT = r"^\s*(?i:select)\b"


def soql_shape(expr: str) -> str:
    """SQL for the shape of a SOQL text held by ``expr``: literals replaced by ``?``, spaces collapsed.

    Salesforce logs the whole query (``QUERY_IDENTIFIER``, ``Query``), so a sync that asks for "changed since
    <now - 1 h>" writes a different text every run; its shape is what stays the same. Texts that are not a
    SELECT (a report or list view id) are kept as they are. The full text stays in the raw record.
    """
    shaped = expr
    for pattern in _SOQL_LITERALS:
        shaped = f"regexp_replace({shaped}, {sql_str(pattern)}, '?', 'g')"
    shaped = f"regexp_replace({shaped}, {sql_str(_IN_LIST)}, 'IN (?)', 'g')"
    shaped = f"trim(regexp_replace({shaped}, {sql_str(_SPACES)}, ' ', 'g'))"
    return f"(CASE WHEN regexp_matches({expr}, {sql_str(_SELECT)}) THEN {shaped} ELSE {expr} END)"


def id_free_uri(expr: str) -> str:
    """SQL for a Salesforce URI held by ``expr`` with each record id in its path replaced by ``{id}``.

    ``/services/data/v58.0/sobjects/Contact/0038c00002AbCdE`` and ``/jobs/query/7508c00000Qr5Zs/results``
    name one record or one Bulk job each: as resources they would make every read and every job new. A path
    segment of 15 or 18 letters and digits, with at least one of each, is an id (object and field names
    have no digits at that length, or are shorter); the record stays in the original event.
    """
    segment = "x"
    is_id = (
        f"(regexp_full_match({segment}, '[A-Za-z0-9]{{15}}([A-Za-z0-9]{{3}})?') "
        f"AND regexp_matches({segment}, '[0-9]') AND regexp_matches({segment}, '[A-Za-z]'))"
    )
    return (
        f"(CASE WHEN regexp_matches({expr}, '/[A-Za-z0-9]{{15}}') THEN array_to_string(list_transform("
        f"string_split({expr}, '/'), lambda {segment}: CASE WHEN {is_id} THEN '{{id}}' ELSE {segment} END), '/') "
        f"ELSE {expr} END)"
    )
