"""Zeek conn.log, http.log and ssl.log as JSON lines (``LogAscii::use_json=T``), one stream each.

Zeek flattens the connection 4-tuple into keys with dots (``"id.orig_h"``), so fields are read with
quoted ``$``-JSONPaths; pipelines that re-nest them (``"id": {"orig_h": ...}``) are read too. A file is
recognised by its ``_path`` when the writer adds one, otherwise by the keys only that log has:
``conn_state`` / ``history`` (conn), ``method`` / ``uri`` / ``trans_depth`` (http), ``cipher`` /
``server_name`` / ``ja3`` / ``established`` (ssl). ``ts`` is epoch seconds or ISO 8601
(``LogAscii::json_timestamps``); the engine parses both.

Every record is egress seen from the originator: ``src_endpoint_ip`` is ``id.orig_h``; bytes the
originator sent are ``traffic_bytes_in``, bytes it received ``traffic_bytes_out``. The destination
host is the HTTP ``Host``, the TLS SNI (``server_name``) or, for conn, the responder address.
OCSF: conn and ssl -> Network Activity (4001), http -> HTTP Activity (4002).
"""

from __future__ import annotations

from collections.abc import Callable

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.sql import bigint, case, coalesce, host_of, lit, status_from_http, when

# conn_state values (Zeek base/protocols/conn/main.zeek): no connection was made, or one was.
FAILED_STATES = ("S0", "REJ", "RSTOS0", "SH")
ESTABLISHED_STATES = ("SF", "S1", "S2", "S3", "RSTO", "RSTR")

DISTINCT_KEYS = {
    "conn": {"conn_state", "history", "missed_bytes", "orig_pkts"},
    "http": {"trans_depth", "method", "uri", "status_code", "request_body_len"},
    "ssl": {"cipher", "server_name", "ja3", "established", "ssl_history", "validation_status"},
}


def _id(f: Accessor, name: str) -> str:
    """A connection-id field, flat (``"id.orig_h"``) as Zeek writes it, or nested by a pipeline."""
    return coalesce(f(f'$."id.{name}"'), f(f"id.{name}"))


def _sniffer(log: str) -> Callable[[Sample], float]:
    def sniff(s: Sample) -> float:
        r = s.first_record
        if not isinstance(r, dict) or "ts" not in r or "uid" not in r:
            return 0.0
        if not ("id.orig_h" in r or isinstance(r.get("id"), dict)):
            return 0.0
        path = r.get("_path")
        if isinstance(path, str):
            return 0.95 if path == log else 0.0
        mine = len(DISTINCT_KEYS[log] & set(r))
        others = max(len(keys & set(r)) for name, keys in DISTINCT_KEYS.items() if name != log)
        return 0.9 if mine > others else 0.0

    return sniff


def _common(f: Accessor) -> dict[str, str]:
    return {
        "time": f("ts"),
        "actor_user_type": lit("workload"),
        "action_class": lit("egress"),
        "src_endpoint_ip": _id(f, "orig_h"),
    }


def _endpoint(f: Accessor) -> str:
    return f"{_id(f, 'resp_h')} || coalesce(':' || {_id(f, 'resp_p')}, '')"


def _conn(f: Accessor) -> dict[str, str]:
    state = f("conn_state")
    return {
        **_common(f),
        "class_uid": "4001",
        "api_operation": f"lower({f('proto')}) || coalesce('/' || nullif({f('service')}, ''), '')",
        "status": when(
            (f"{state} IN {FAILED_STATES}", lit("Failure")),
            (f"{state} IN {ESTABLISHED_STATES}", lit("Success")),
            default=lit("Unknown"),
        ),
        "status_detail": state,
        "resource_type": lit("network_endpoint"),
        "resource_name": _endpoint(f),
        "traffic_bytes_in": bigint(f("orig_bytes")),
        "traffic_bytes_out": bigint(f("resp_bytes")),
        "dst_endpoint_hostname": _id(f, "resp_h"),
    }


def _http(f: Accessor) -> dict[str, str]:
    code = f("status_code")
    return {
        **_common(f),
        "class_uid": "4002",
        "actor_user_name": f("username"),
        "api_operation": f("method"),
        "status": status_from_http(code),
        "status_detail": coalesce(f"{code} || coalesce(' ' || {f('status_msg')}, '')", code),
        "resource_type": lit("url"),
        "resource_name": f("uri"),
        "http_request_user_agent": f("user_agent"),
        "traffic_bytes_in": bigint(f("request_body_len")),
        "traffic_bytes_out": bigint(f("response_body_len")),
        "dst_endpoint_hostname": coalesce(host_of(f("host")), _id(f, "resp_h")),
    }


def _ssl(f: Accessor) -> dict[str, str]:
    return {
        **_common(f),
        "class_uid": "4001",
        "api_operation": coalesce(f("version"), lit("ssl")),
        "status": case(f("established"), {"true": lit("Success"), "false": lit("Failure")}, lit("Unknown")),
        "status_detail": coalesce(f("validation_status"), f("last_alert")),
        "resource_type": lit("network_endpoint"),
        "resource_name": _endpoint(f),
        "dst_endpoint_hostname": coalesce(host_of(f("server_name")), _id(f, "resp_h")),
    }


def _uid(log: str, with_ts: bool) -> Callable[[Accessor], str]:
    def uid(f: Accessor) -> str:
        parts = [lit(log + ":"), f("uid")]
        if with_ts:
            parts += ["':'", f("ts"), "coalesce(':' || " + f("trans_depth") + ", '')"]
        return "(" + " || ".join(parts) + ")"

    return uid


def _needs(*keys: str) -> Callable[[Accessor], list[tuple[str, str]]]:
    def checks(f: Accessor) -> list[tuple[str, str]]:
        return [(f"{_id(f, 'orig_h')} IS NULL", "Zeek record without id.orig_h")] + [
            (f"{f(k)} IS NULL", f"Zeek record without {k}") for k in keys
        ]

    return checks


SOURCES = (
    Source(
        name="zeek",
        stream="conn",
        title="Zeek conn.log (JSON)",
        layout="json",
        sniff=_sniffer("conn"),
        fields=_conn,
        vendor_uid=_uid("conn", with_ts=False),
        checks=_needs("uid"),
        ocsf_classes={"conn": 4001},
    ),
    Source(
        name="zeek",
        stream="http",
        title="Zeek http.log (JSON)",
        layout="json",
        sniff=_sniffer("http"),
        fields=_http,
        vendor_uid=_uid("http", with_ts=True),
        checks=_needs("uid"),
        ocsf_classes={"http": 4002},
    ),
    Source(
        name="zeek",
        stream="ssl",
        title="Zeek ssl.log (JSON)",
        layout="json",
        sniff=_sniffer("ssl"),
        fields=_ssl,
        vendor_uid=_uid("ssl", with_ts=True),
        checks=_needs("uid"),
        ocsf_classes={"ssl": 4001},
    ),
)
