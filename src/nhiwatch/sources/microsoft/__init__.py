"""Microsoft Entra ID and Microsoft Graph: logs in the Azure Monitor diagnostic-record shape.

Diagnostic settings write one JSON record per event with an envelope (``time``, ``tenantId``,
``category``, ``operationName``, ``resultType``, ``callerIpAddress``, ``correlationId``) and the event
itself under ``properties``. Event Hubs and the storage-account export wrap them as
``{"records": [...]}`` documents (often one document per line); Log Analytics and SIEM forwarders
write one record per line. The Graph reporting API returns the same events without the envelope,
as ``{"value": [...]}`` pages; the sign-in and audit sources read those too.

The helpers here are shared by the three streams: how a sample's category is found (even when the
first document is too large to parse from the sample), and ``prop`` which reads a field from
``properties`` or, for the Graph API shape, from the top level. This module also declares
``microsoft.diagnostic_mixed``, which reads Event Hub captures that hold several categories at once by
applying each stream's own mapping per record.
"""

from __future__ import annotations

import re
from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source, sql_str
from nhiwatch.sources.sql import coalesce

RECORD_PATHS = ("$.records[*]", "$.value[*]")
_CATEGORY = re.compile(r'"category"\s*:\s*"([A-Za-z]+)"')
GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def first_record(sample: Sample) -> dict[str, Any] | None:
    """The first event of a sample: unwraps ``records`` / ``value`` documents and JSON arrays."""
    r = sample.first_record
    if isinstance(r, dict):
        for key in ("records", "value"):
            inner = r.get(key)
            if isinstance(inner, list):
                r = inner[0] if inner else None
                break
    elif isinstance(r, list):
        r = r[0] if r else None
    return r if isinstance(r, dict) else None


def category(sample: Sample) -> str | None:
    """The diagnostic category of the first event, read from the head when the document is cut off."""
    r = first_record(sample)
    if r is not None:
        c = r.get("category")
        return c if isinstance(c, str) else None
    m = _CATEGORY.search(sample.head[:8192])
    return m.group(1) if m else None


def prop(f: Accessor, path: str) -> str:
    """A field under ``properties`` (diagnostic record) or at the top level (Graph API object)."""
    return coalesce(f(f"properties.{path}"), f(path))


def foreign_category(
    f: Accessor, accepted: tuple[str, ...], stream: str, envelope: str = "true"
) -> tuple[str, str]:
    """A check that quarantines records of another diagnostic category found in the same document.

    One Event Hub can carry every category a diagnostic setting selects; a file is read by one source.
    ``envelope`` is the SQL condition telling a diagnostic record from a Graph object, whose own
    ``category`` field means something else (``ApplicationManagement`` on a directory audit).
    """
    names = ", ".join(sql_str(c) for c in accepted)
    cond = f"({f('category')} IS NOT NULL AND {f('category')} NOT IN ({names}) AND {envelope})"
    return cond, (
        f"diagnostic category not read by microsoft.{stream} (expects {', '.join(accepted)}); "
        "split mixed Event Hub captures by category"
    )


# --- mixed Event Hub captures ------------------------------------------------------------------------
# One diagnostic setting may stream several categories into one hub, so one capture document can hold
# sign-ins, audit events and Graph requests together. This source applies each stream's own mapping,
# chosen per record by ``category``; it wins detection only when the sample shows two or more of them.


def _streams() -> list[tuple[tuple[str, ...], Source]]:
    from nhiwatch.sources.microsoft import entra_audit, entra_signins, graph_activity

    return [
        (entra_signins.CATEGORIES, entra_signins.SOURCE),
        (entra_audit.CATEGORIES, entra_audit.SOURCE),
        (graph_activity.CATEGORIES, graph_activity.SOURCE),
    ]


def _is(f: Accessor, cats: tuple[str, ...]) -> str:
    return f"{f('category')} IN ({', '.join(sql_str(c) for c in cats)})"


def _mixed_sniff(s: Sample) -> float:
    known = {c for cats, _ in _streams() for c in cats}
    seen = len(set(_CATEGORY.findall(s.head)) & known)
    # With one category the stream's own source (0.95) wins; the low score lets --source pick this one.
    return 0.97 if seen >= 2 else 0.01 if seen == 1 else 0.0


def _mixed_fields(f: Accessor) -> dict[str, str]:
    per_stream = [(cats, dict(src.fields(f))) for cats, src in _streams()]
    columns = dict.fromkeys(col for _, m in per_stream for col in m)
    return {
        col: "(CASE "
        + " ".join(f"WHEN {_is(f, cats)} THEN {m[col]}" for cats, m in per_stream if col in m)
        + " END)"
        for col in columns
    }


def _mixed_uid(f: Accessor) -> str:
    whens = " ".join(
        f"WHEN {_is(f, cats)} THEN {src.vendor_uid(f)}" for cats, src in _streams() if src.vendor_uid
    )
    return f"(CASE {whens} END)"


def _mixed_checks(f: Accessor) -> list[tuple[str, str]]:
    known = tuple(c for cats, _ in _streams() for c in cats)
    out = [
        (f"{f('category')} IS NULL OR NOT {_is(f, known)}", "not an Entra / Graph diagnostic record category")
    ]
    for cats, src in _streams():
        for cond, reason in src.checks(f) if src.checks else []:
            out.append((f"({_is(f, cats)} AND {cond})", reason))
    return out


SOURCE = Source(
    name="microsoft",
    stream="diagnostic_mixed",
    title="Microsoft Entra / Graph diagnostic records, several categories in one Event Hub capture",
    layout="json",
    sniff=_mixed_sniff,
    fields=_mixed_fields,
    vendor_uid=_mixed_uid,
    record_paths=RECORD_PATHS,
    checks=_mixed_checks,
    ocsf_classes={"sign-ins": 3002, "AuditLogs": 6003, "MicrosoftGraphActivityLogs": 6003},
)
