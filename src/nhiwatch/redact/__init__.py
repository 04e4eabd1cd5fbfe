"""Secret redaction, one rule list (:mod:`.rules`) run by two engines.

Where it runs: at the boundary where data enters (ingest masks every text column of ``events`` and the
``quarantine`` reason and record inside its DuckDB SQL, :func:`sql_redact`; suppression reasons and triage
notes before they are stored; alert titles and explanations when they are built) and again at every output
(:func:`redact` / :func:`redact_value`: API answers and console pages, CLI tables, JSONL and OCSF, the
quarantine listing, push error answers, and log records through :class:`RedactingFilter`). The second pass
covers stores written before a rule existed.

Why one hand-kept list and not detect-secrets' plugins: detect-secrets (1.5) is a scanner, not a redactor.
Its plugins report a secret per line (no span for a PEM block, only its header), flag identifiers we must
keep (AKIA key ids, Twilio AC sids), miss kinds we need (Google ``AIza`` keys, Azure SAS ``sig=``, bearer
values, Slack webhook secrets), use Python-only regex features, and run per line in Python, which the
ingest hot path (a set-based DuckDB statement over every column of every event) cannot afford. Its
patterns were used as the reference for shapes (GitHub, Slack, Stripe, Twilio, JWT, basic-auth URLs) and
for the near misses it documents. The rules here are written in the common subset of Python ``re`` and
RE2 (see :mod:`.rules`), so the same text drives ``re.sub`` and DuckDB's ``regexp_replace``; a property
test checks that both engines give the same output on arbitrary text. (One known difference: Python's
case folding also equates the Turkish dotted and dotless i with i, so on such text it may mask more, never
less.)

Trade-offs, stated: a 40-character AWS secret key with no name and no access key id next to it is
indistinguishable from a path or an id of that length without an entropy measure the SQL engine cannot run
cheaply, so it is masked only after its name (``SecretAccessKey``, ``aws_secret_access_key`` ...), next to
an ``AKIA``/``ASIA`` id, or in a field named like a secret (as 16+ token characters). Distinct secrets in
one column collapse to the same mask, so distinct-value counts over such a column (rare) undercount.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from nhiwatch.redact.rules import MASK, RULES


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


PATTERNS: tuple[tuple[str, str], ...] = tuple((_re2_ws(r.pattern), r.keep) for r in RULES)
TRIGGER = _re2_ws("|".join(dict.fromkeys(r.trigger for r in RULES)))
_COMPILED = tuple((re.compile(p), keep) for p, keep in PATTERNS)
_TRIGGER = re.compile(TRIGGER)


# A pre-check for Python, whose backtracking engine pays for the case-insensitive name alternations at every
# position: every trigger holds one of these literals, or one of these words in any case (casefold maps the
# long s and the Kelvin sign, which both engines fold into s and k), or sk + 32 hex in any case.
_LITERALS: tuple[str, ...] = (
    *(
        "PRIVATE KEY",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "xox",
        "xapp-",
        "hooks.slack.com/",
    ),
    *("AIza", "_live_", "_test_", "whsec_", "eyJ", "AKIA", "ASIA", "://"),
)
_WORDS: tuple[str, ...] = (
    *("bearer", "pass", "pwd", "secret", "key", "token", "authorization", "string", "assertion", "sig"),
    "cookie",
)
_SK_HEX = re.compile("sk[0-9a-f]{32}")


def _maybe(text: str) -> bool:
    if any(lit in text for lit in _LITERALS):
        return True
    folded = text.casefold()
    return any(w in folded for w in _WORDS) or _SK_HEX.search(folded) is not None


def redact(text: str) -> str:
    """``text`` with every secret the rules know replaced by ``[REDACTED]`` (the naming part is kept)."""
    if not text or not _maybe(text) or not _TRIGGER.search(text):
        return text
    for rx, keep in _COMPILED:
        text = rx.sub(keep, text)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside JSON-like data (dicts, lists, tuples, keys too), leaving other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def sql_redact_chain(expr: str) -> str:
    """A DuckDB expression: every rule applied to ``expr`` (VARCHAR), in order, without the trigger check."""
    chain = expr
    for pattern, keep in PATTERNS:
        chain = f"regexp_replace({chain}, {_sql_literal(pattern)}, {_sql_literal(keep)}, 'g')"
    return chain


def sql_trigger(expr: str) -> str:
    """A DuckDB condition: ``expr`` holds something a rule could match (false means: nothing to redact)."""
    return f"regexp_matches({expr}, {_sql_literal(TRIGGER)})"


def sql_redact(expr: str) -> str:
    """A DuckDB expression: ``expr`` (VARCHAR) redacted; values without a trigger skip the chain.

    Compiling the chain costs milliseconds per occurrence in a statement (every pattern is compiled at
    bind time), so a statement redacting many columns should run one chain over a list of them.
    """
    return f"CASE WHEN {sql_trigger(expr)} THEN {sql_redact_chain(expr)} ELSE {expr} END"


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's message, arguments and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            full = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        if redact(full) != full:
            args = record.args
            if isinstance(args, tuple) and isinstance(record.msg, str):
                # keep the arguments' shape (uvicorn's access formatter unpacks them)
                args = tuple(redact(a) if isinstance(a, str) else a for a in args)
                try:
                    ok = redact(record.msg % args if args else record.msg) == (
                        record.msg % args if args else record.msg
                    )
                except (TypeError, ValueError):
                    ok = False
                if ok and redact(record.msg) == record.msg:
                    record.args = args
                else:
                    record.msg, record.args = redact(full), ()
            else:
                record.msg, record.args = redact(full), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


LOGGERS = (
    "nhiwatch",
    "nhiwatch.server",
    "nhiwatch.server.worker",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)


def protect_logs(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach one :class:`RedactingFilter` to each named logger (a logger's filters see only its own records)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


__all__ = [
    "MASK",
    "PATTERNS",
    "RULES",
    "TRIGGER",
    "RedactingFilter",
    "protect_logs",
    "redact",
    "redact_value",
    "sql_redact",
    "sql_redact_chain",
    "sql_trigger",
]
