"""Squid native access.log (``logformat squid``): one request through the proxy a line.

Ten whitespace-separated columns, padded for alignment::

    time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type
    1755429083.123    215 10.20.0.15 TCP_TUNNEL/200 5423 CONNECT api.drift.com:443 - HIER_DIRECT/3.5.1.2 -

``time`` is epoch seconds with milliseconds, ``bytes`` what Squid delivered to the client (headers
included), ``rfc931`` the ident or proxy-auth user (``-`` when none). CONNECT lines name only
``host:port``; the destination host is taken from the URL either way. A line that does not split into
ten columns starting with a numeric time is quarantined with its line number. Lines with extra
trailing columns (``log_mime_hdrs``) are accepted; the ten native columns are read.

Status: a ``*_DENIED`` result code (``TCP_DENIED/403``, ``TCP_DENIED/407`` proxy authentication
required) or an HTTP status of 400 or more is Failure; ``/000`` (no reply, e.g. an aborted
transfer) is Unknown. OCSF HTTP Activity (4002), action class egress.
"""

from __future__ import annotations

import re

from nhiwatch.sources.base import Accessor, Sample, Source, TextFormat
from nhiwatch.sources.sql import NULL_S, bigint, host_of, lit, when

NAMES = (
    "time",
    "elapsed",
    "remotehost",
    "code_status",
    "bytes",
    "method",
    "url",
    "rfc931",
    "hierarchy",
    "type",
)

_LINE = re.compile(
    r"^\d{9,11}\.\d{1,3}\s+-?\d+\s+\S+\s+[A-Z_]+/\d{3}\s+-?\d+\s+\S+\s+\S+\s+\S+\s+[A-Z_]+/\S+\s+\S+"
)


def _split(line: str) -> str:
    # trim() strips spaces only; tabs and a stray CR around the line are whitespace too. A line with none of
    # the regex's other whitespace (tab, LF, FF, CR) splits on spaces without it, ~3x cheaper; a blank one
    # gives the regex's [''] too.
    other_space = " OR ".join(f"contains({line}, chr({c}))" for c in (9, 10, 12, 13))
    spaces = f"coalesce(nullif(list_filter(string_split({line}, ' '), lambda x: x <> ''), []), [''])"
    regex = f"regexp_split_to_array(regexp_replace({line}, '^\\s+|\\s+$', '', 'g'), '\\s+')"
    return f"(CASE WHEN NOT ({other_space}) THEN {spaces} ELSE {regex} END)"


def _valid(v: str) -> str:
    return (
        f"len({v}) >= 10 AND regexp_full_match({v}[1], '[0-9]+(\\.[0-9]+)?')"
        f" AND regexp_full_match({v}[4], '[A-Za-z_]+/[0-9]{{3}}')"
    )


def _sniff(s: Sample) -> float:
    return 0.9 if _LINE.match(s.first_line) else 0.0


def _fields(f: Accessor) -> dict[str, str]:
    code = f("code_status")
    result, http = f"split_part({code}, '/', 1)", f"TRY_CAST(split_part({code}, '/', 2) AS INTEGER)"
    user = f"nullif({f('rfc931')}, '-')"
    return {
        "time": f("time"),
        "class_uid": "4002",
        "actor_user_name": user,
        "actor_user_type": lit("workload"),
        "api_operation": f("method"),
        "action_class": lit("egress"),
        "status": when(
            (f"{result} LIKE '%DENIED%'", lit("Failure")),
            (f"{http} >= 400", lit("Failure")),
            (f"{http} BETWEEN 100 AND 399", lit("Success")),
            default=lit("Unknown"),
        ),
        "status_detail": code,
        "resource_type": lit("url"),
        "resource_name": f("url"),
        "src_endpoint_ip": f("remotehost"),
        "traffic_bytes_out": bigint(f("bytes")),
        # Requests Squid could not parse log a pseudo-URL such as ``error:invalid-request``.
        "dst_endpoint_hostname": when(
            (f"{f('url')} LIKE 'error:%' OR {f('url')} = '-'", NULL_S), default=host_of(f("url"))
        ),
    }


SOURCE = Source(
    name="squid",
    stream="access_log",
    title="Squid native access.log",
    layout="text",
    sniff=_sniff,
    fields=_fields,
    text=TextFormat(
        split=_split,
        names=NAMES,
        valid=_valid,
        invalid_reason="not a Squid native access.log line: expected 10 columns, epoch time and code/status",
    ),
    ocsf_classes={"request": 4002},
)
