"""Redacting secrets that leak into logs: tokens, keys, passwords in URLs, ``Authorization`` values.

One list of patterns serves two engines: :func:`redact` (Python ``re``) for text the server shows, and
:func:`sql_redact` (a DuckDB ``regexp_replace`` chain, RE2 syntax) that ingest applies to ``raw_data``
before it is stored. Patterns therefore avoid look-arounds and back-references other than ``\\1``, and
keep the key or prefix that names the secret (``"password": "[REDACTED]"``) so evidence stays readable.
Identifiers that are not secrets (AWS access key ids, token ids, client ids) are kept: attribution needs them.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

_KEYS = (
    r"password|passwd|secret|client_secret|secret_key|secret_access_key|aws_secret_access_key|"
    r"api_key|apikey|api_token|access_token|refresh_token|id_token|auth_token|private_key|token|"
    r"authorization|x-api-key|session_token|sessiontoken"
)

# (pattern, replacement): replacement keeps group 1, the part naming the secret.
PATTERNS: tuple[tuple[str, str], ...] = (
    # GitHub tokens: classic/OAuth/app/refresh (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained PATs
    (r"(gh[pousr]_)[A-Za-z0-9]{20,255}", r"\1" + MASK),
    (r"(github_pat_)[A-Za-z0-9_]{20,255}", r"\1" + MASK),
    # Slack tokens (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-, xoxe-)
    (r"(xox[abeoprs]-)[A-Za-z0-9-]{8,255}", r"\1" + MASK),
    # Authorization / bearer values: header text, JSON fields, query strings
    (r"((?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}", r"\1" + MASK),
    # JWTs anywhere
    (r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", MASK),
    # "key": "value" in JSON (the key may be escaped-quoted inside a JSON string)
    (r'((?:\\?")(?i:' + _KEYS + r')(?:\\?")\s*:\s*\\?")(?:[^"\\]|\\[^"])+', r"\1" + MASK),
    # key=value in query strings, form bodies and log lines
    (r"((?:^|[?&;,\s])(?i:" + _KEYS + r")=)[^&\s\"',;]+", r"\1" + MASK),
    # key: value in header-like text
    (r"((?i:authorization|x-api-key|api-key)\s*:\s*)[^\s\"',;]+(?:\s+[^\s\"',;]+)?", r"\1" + MASK),
    # user:password@ in URLs
    (r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"']+:)[^@/\s\"']+@", r"\1" + MASK + "@"),
    # AWS secret access keys written after their name (any separator)
    (
        r"((?i:(?:aws_?)?secret_?access_?key)\\?\"?\s*[:=]\s*\\?\"?)[A-Za-z0-9/+]{40}",
        r"\1" + MASK,
    ),
)


def _re2_ws(pattern: str) -> str:
    """Spell ``\\s`` as RE2 means it (``[\\t\\n\\f\\r ]``): Python's also matches \\v and Unicode spaces."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == "\\s":
                out.append("\\t\\n\\f\\r " if in_class else "[\\t\\n\\f\\r ]")
            else:
                out.append(pair)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and pattern[i - 1] not in "[^":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


PATTERNS = tuple((_re2_ws(p), r) for p, r in PATTERNS)
# Case-insensitivity is scoped to key names ((?i:...)): both engines fold case the same way there, and
# value classes such as [A-Za-z0-9] stay exact (RE2 would fold "ſ" into an (?i) class, Python not).
_COMPILED = tuple((re.compile(p), r) for p, r in PATTERNS)
# a cheap pre-check: text without any of these cannot hold a secret the patterns match
TRIGGER = (
    r"gh[pousr]_[A-Za-z0-9]{20}|github_pat_|xox[abeoprs]-|(?i:bearer)\s|eyJ[A-Za-z0-9_-]{8,}\.eyJ|"
    r"://[^/@\s\"']+:[^/@\s\"']+@|"
    r"(?i:(?:(?:password|passwd|secret|api[_-]?key)[a-z_]*|(?:^|[\"?&;,\s])token|(?:access|refresh|id|auth|api|session)_?token|authorization)[\\\"']*\s*[:=])"
)
TRIGGER = _re2_ws(TRIGGER)
_TRIGGER = re.compile(TRIGGER)


def redact(text: str) -> str:
    """``text`` with every secret the patterns know replaced by ``[REDACTED]``."""
    if not text or not _TRIGGER.search(text):
        return text
    for rx, repl in _COMPILED:
        text = rx.sub(repl, text)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside JSON-like data (dicts, lists), leaving other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def sql_redact(expr: str) -> str:
    """A DuckDB expression: ``expr`` with the same patterns replaced; rows without a trigger skip the chain."""
    chain = expr
    for pattern, repl in PATTERNS:
        chain = f"regexp_replace({chain}, {_sql_literal(pattern)}, {_sql_literal(repl)}, 'g')"
    return f"CASE WHEN regexp_matches({expr}, {_sql_literal(TRIGGER)}) THEN {chain} ELSE {expr} END"


__all__ = ["MASK", "PATTERNS", "redact", "redact_value", "sql_redact"]
