"""The SQL ingest stores from: its staging tables read with every secret masked, in one pass per row.

``nw_stage`` holds a batch's mapped events and ``nw_q`` its quarantine rows; what is stored is read through
:func:`redacted_stage` and :func:`redacted_quarantine`, so a secret in any mapped text column, the scopes,
a quarantined record or a quarantine reason never reaches the store (``nhiwatch.redact`` has the rules).
"""

from __future__ import annotations

from nhiwatch.redact import sql_redact_chain, sql_trigger
from nhiwatch.schema import EVENT_COLUMNS

# A reason quotes the value it could not read; it is cut short only after redaction, so a secret is never cut
# below the length its rule needs to recognise it.
SHORT_REASON = "CASE WHEN length(reason) > 300 THEN left(reason, 290) || ' …' ELSE reason END AS reason"


def redacted_quarantine() -> str:
    """``nw_q`` with the reason (it may quote a field) and the record redacted, by one chain."""
    masked = f"list_transform([reason, raw_data], lambda nw_x: {sql_redact_chain('nw_x')})"
    hit = sql_trigger("concat_ws(chr(10), reason, raw_data)")
    pick = "CASE WHEN nw_r IS NULL THEN {0} ELSE nw_r[{1}] END AS {0}"
    return (
        f"(SELECT * EXCLUDE (nw_r) REPLACE ({pick.format('reason', 1)}, {pick.format('raw_data', 2)}) "
        f"FROM (SELECT *, CASE WHEN {hit} THEN {masked} END AS nw_r FROM nw_q))"
    )


# What a row's texts are joined with for the trigger. Any character keeps the trigger whole (a text's match lies
# inside the join). This one is a character AWS secrets are made of, so an access key id that starts a column
# (CloudTrail's credential) does not read as a key id after a secret (``aws_secret_before_key_id``'s trigger):
# joined by newlines, every CloudTrail row would go through the whole chain.
JOIN = "+"

# Columns redacted on the way in: every text column a source maps from the record (the engine's own
# columns, source and integration_id, are not log data; ingest_file is a path the operator chose).
_REDACTED = tuple(
    c.name
    for c in EVENT_COLUMNS
    if c.sql_type == "VARCHAR" and c.name not in ("source", "integration_id", "ingest_file")
)

_TEXTS = ", ".join(f"CAST({c} AS VARCHAR)" for c in _REDACTED)


# The stage's column holding :func:`stage_trigger` of its row, computed where the stage is written: a batch
# in which no row triggers is stored without the chain in its statement (compiling its patterns was ~9 ms of
# the ~11 it took to plan the insert, paid by every batch, and a push's batch has few rows).
HIT = "nw_hit"


def stage_trigger() -> str:
    """SQL over a ``nw_stage`` row: one of its texts may hold a secret (false: the chain is skipped)."""
    return sql_trigger(f"concat_ws('{JOIN}', {_TEXTS}, array_to_string(scopes, '{JOIN}'))")


def redacted_stage() -> str:
    """``nw_stage`` with every mapped text column and the scopes redacted (the rows whose :data:`HIT` is true).

    A secret in any field a source maps (an actor name, a URL, an error text) would otherwise be stored and
    shown, so all of them are masked, and detection sees the masked values. One redaction chain runs over a
    list of a row's texts: compiling the chain once per column cost ~0.5 s per statement, more than the rows.
    Rows none of whose texts holds a trigger skip it (one RE2 search per row over the joined texts, made when
    the stage is written). The original record is not stored (only its hash), so it is not redacted here but
    on its way out (:mod:`nhiwatch.evidence`).
    """
    n = len(_REDACTED)
    items = f"list_concat([{_TEXTS}], coalesce(scopes, []::VARCHAR[]))"
    masked = f"CASE WHEN {HIT} THEN list_transform({items}, lambda nw_x: {sql_redact_chain('nw_x')}) END"
    replaced = [
        f"CASE WHEN nw_r IS NULL THEN {c} ELSE nw_r[{i + 1}] END AS {c}" for i, c in enumerate(_REDACTED)
    ]
    replaced.append(f"CASE WHEN nw_r IS NULL OR scopes IS NULL THEN scopes ELSE nw_r[{n + 1}:] END AS scopes")
    return f"(SELECT * EXCLUDE (nw_r) REPLACE ({', '.join(replaced)}) FROM (SELECT *, {masked} AS nw_r FROM nw_stage))"


__all__ = ["HIT", "JOIN", "SHORT_REASON", "redacted_quarantine", "redacted_stage", "stage_trigger"]
