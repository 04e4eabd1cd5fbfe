"""Microsoft Entra ID and Microsoft Graph: logs in the Azure Monitor diagnostic-record shape.

Diagnostic settings write one JSON record per event with an envelope (``time``, ``tenantId``,
``category``, ``operationName``, ``resultType``, ``callerIpAddress``, ``correlationId``) and the event
itself under ``properties``. Event Hubs and the storage-account export wrap them as
``{"records": [...]}`` documents (often one document per line); Log Analytics and SIEM forwarders
write one record per line. The Graph reporting API returns the same events without the envelope,
as ``{"value": [...]}`` pages; the sign-in and audit sources read those too.

The helpers here are shared by the three streams: how a sample's category is found (even when the
first document is too large to parse from the sample), and ``prop`` which reads a field from
``properties`` or, for the Graph API shape, from the top level.
"""

from __future__ import annotations

import re
from typing import Any

from nhiwatch.sources.base import Accessor, Sample, sql_str
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
