"""Small SQL builders used by source mappings, so mappings read like field tables.

Every helper returns SQL text. ``NULL_S`` is a typed NULL so CASE and COALESCE keep a VARCHAR type.
"""

from __future__ import annotations

from collections.abc import Mapping

from nhiwatch.sources.base import sql_str

NULL_S = "NULL::VARCHAR"
NULL_I = "NULL::BIGINT"


def lit(value: str | None) -> str:
    return NULL_S if value is None else sql_str(value)


def coalesce(*exprs: str) -> str:
    """First non-empty value (empty strings count as missing, as vendors use both)."""
    return "coalesce(" + ", ".join(f"nullif({e}, '')" for e in exprs) + ")"


def lower(expr: str) -> str:
    return f"lower({expr})"


def bigint(expr: str) -> str:
    """A count or byte size as BIGINT; NULL when absent or not a number."""
    return f"nw_bigint({expr})"


def integer(expr: str) -> str:
    return f"TRY_CAST(nw_bigint({expr}) AS INTEGER)"


def case(expr: str, mapping: Mapping[str, str], default: str = NULL_S) -> str:
    """Map vendor values to SQL expressions (values are SQL, e.g. ``lit('read')``)."""
    whens = " ".join(f"WHEN {expr} = {sql_str(k)} THEN {v}" for k, v in mapping.items())
    return f"(CASE {whens} ELSE {default} END)"


def case_like(expr: str, patterns: list[tuple[str, str]], default: str = NULL_S) -> str:
    """First matching SQL LIKE pattern wins: ``[("repo.%", lit("admin")), ...]``."""
    whens = " ".join(f"WHEN {expr} LIKE {sql_str(p)} THEN {v}" for p, v in patterns)
    return f"(CASE {whens} ELSE {default} END)"


def when(*branches: tuple[str, str], default: str = NULL_S) -> str:
    """CASE WHEN cond THEN value ... with SQL conditions."""
    whens = " ".join(f"WHEN {c} THEN {v}" for c, v in branches)
    return f"(CASE {whens} ELSE {default} END)"


def split_list(expr: str, sep: str = ",") -> str:
    """A delimited string as a VARCHAR[] with blanks removed, NULL if absent."""
    return (
        f"(CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL::VARCHAR[] ELSE "
        f"list_filter(list_transform(string_split({expr}, {sql_str(sep)}), lambda x: trim(x)), lambda x: x <> '') END)"
    )


def json_list(json_expr: str) -> str:
    """A JSON array of strings as VARCHAR[] (NULL if absent or not an array)."""
    return (
        f"(CASE WHEN json_type({json_expr}) = 'ARRAY' "
        f"THEN CAST(json_extract_string({json_expr}, '$[*]') AS VARCHAR[]) ELSE NULL::VARCHAR[] END)"
    )


def status_from_http(expr: str) -> str:
    """HTTP status code text to Success / Failure / Unknown."""
    return (
        f"(CASE WHEN TRY_CAST({expr} AS INTEGER) IS NULL THEN 'Unknown' "
        f"WHEN TRY_CAST({expr} AS INTEGER) < 400 THEN 'Success' ELSE 'Failure' END)"
    )


def host_of(url_expr: str) -> str:
    """Host name of a URL or host:port (lower-cased, no port)."""
    return f"nw_host({url_expr})"


def ip_in(ip_expr: str, cidr: str) -> str:
    return f"nw_ip_in({ip_expr}, {sql_str(cidr)})"
