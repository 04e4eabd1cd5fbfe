"""AWS VPC Flow Logs as text: S3 delivery (header line, usually gzip) and CloudWatch Logs exports.

S3 files start with a header naming the fields, hyphenated as in the log format (``version
account-id interface-id srcaddr ...``); custom formats (versions 3 to 8) add ``vpc-id``,
``instance-id``, ``pkt-srcaddr``, ``pkt-dst-aws-service``, ``flow-direction``, ``traffic-path``,
the ECS fields and ``reject-reason``, in any order. The engine groups files by header and drops the
header row. A file without a header (a CloudWatch Logs stream or export, where a line may start with
the ISO time CloudWatch added) is read with the default version 2 fields. ``-`` means "no value".

``log-status`` NODATA (no traffic in the capture window) and SKIPDATA (AWS dropped records because
of capacity) carry no flow. They are quarantined with their own reason rather than stored: they
are not egress, and a SKIPDATA line marks a gap in the evidence that should stay visible.

Mapping: ``start`` -> time; ``account-id`` -> tenant; the workload is the ECS task, instance or
interface; ``pkt-srcaddr``/``pkt-dstaddr`` (the original addresses behind a NAT gateway) win over
``srcaddr``/``dstaddr``; ``bytes`` count as sent by the workload unless ``flow-direction`` is
``ingress``. ACCEPT -> Success, REJECT -> Failure. OCSF Network Activity (4001).
"""

from __future__ import annotations

import re

from nhiwatch.sources.base import Accessor, Sample, Source, TextFormat
from nhiwatch.sources.sql import bigint, case, coalesce, lit, when

V2_FIELDS = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
CUSTOM_FIELDS = (
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
)
ALL_FIELDS = frozenset(V2_FIELDS + CUSTOM_FIELDS)
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "50": "esp", "47": "gre"}

# A CloudWatch Logs export prefixes each message with the ingestion time in ISO 8601.
_CW_PREFIX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+\s+"
# RFC 1918, carrier-grade NAT (used for secondary VPC CIDRs), link-local and IPv6 unique-local.
_PRIVATE = (
    r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\."
    r"|169\.254\.|f[cd][0-9a-f]{0,2}:)"
)
_NAME = re.compile(r"[a-z][a-z0-9-]*")
_V2_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\S+\s+)?\d+ (\d{12}|unknown|-) (eni-[0-9a-f]+|-) ")


def _plain(line: str) -> str:
    """SQL: true when a line is single-space separated with nothing around it (S3 delivery)."""
    return (
        f"(NOT contains({line}, '  ') AND NOT contains({line}, chr(9)) AND NOT contains({line}, chr(13))"
        f" AND NOT starts_with({line}, ' ') AND NOT ends_with({line}, ' ')"
        f" AND {line} NOT LIKE '____-__-__T%')"
    )


def _split(line: str) -> str:
    # string_split is ~10x cheaper than a regex split; the regex path handles tabs, padding, a CR and
    # the time a CloudWatch export puts in front of each record.
    stripped = f"regexp_replace({line}, '^\\s+|\\s+$', '', 'g')"
    slow = f"regexp_split_to_array(regexp_replace({stripped}, '{_CW_PREFIX}', ''), '\\s+')"
    return f"(CASE WHEN {_plain(line)} THEN string_split({line}, ' ') ELSE {slow} END)"


def _uid(f: Accessor) -> str:
    """The record's fields joined by single spaces, hashed: the same record read from S3 or CloudWatch."""
    return f"md5(CASE WHEN {_plain(f.raw)} THEN {f.raw} ELSE array_to_string({_split(f.raw)}, ' ') END)"


def _header(line: str) -> tuple[str, ...] | None:
    """Field names when ``line`` is a header (every word a flow log field), else None."""
    names = tuple(w.replace("_", "-") for w in line.lstrip("\ufeff").split())
    if "start" not in names or len(ALL_FIELDS.intersection(names)) < 3:
        return None
    # Fields AWS adds later are kept by name (and simply not mapped) instead of failing the file.
    return names if all(_NAME.fullmatch(n) for n in names) else None


def _sniff(s: Sample) -> float:
    if _header(s.first_line):
        return 0.95
    return 0.8 if _V2_LINE.match(s.first_line) and len(s.first_line.split()) >= 14 else 0.0


def _private(ip: str) -> str:
    return f"regexp_matches(coalesce({ip}, ''), '{_PRIVATE}')"


def _fields(f: Accessor) -> dict[str, str]:
    def g(name: str) -> str:
        return f"nullif({f(name)}, '-')"

    src, dst = coalesce(g("pkt-srcaddr"), g("srcaddr")), coalesce(g("pkt-dstaddr"), g("dstaddr"))
    # Seen from the workload: an ingress record (flow-direction, else public -> private) is turned round.
    ingress = when(
        (f"{g('flow-direction')} IS NOT NULL", f"{g('flow-direction')} = 'ingress'"),
        default=f"(NOT {_private(src)} AND {_private(dst)})",
    )
    action = g("action")
    proto = g("protocol")
    peer_port = f"(CASE WHEN {ingress} THEN {g('srcport')} ELSE {g('dstport')} END)"
    aws_service = f"(CASE WHEN {ingress} THEN {g('pkt-src-aws-service')} ELSE {g('pkt-dst-aws-service')} END)"
    peer = f"(CASE WHEN {ingress} THEN {src} ELSE {dst} END)"
    return {
        "time": g("start"),
        "class_uid": "4001",
        "metadata_tenant_uid": g("account-id"),
        "actor_user_uid": coalesce(g("ecs-task-arn"), g("instance-id"), g("interface-id")),
        "actor_user_name": coalesce(
            g("ecs-service-name"), g("ecs-task-id"), g("instance-id"), g("interface-id")
        ),
        "actor_user_type": lit("workload"),
        "api_operation": action,
        "action_class": lit("egress"),
        "status": case(action, {"ACCEPT": lit("Success"), "REJECT": lit("Failure")}, lit("Unknown")),
        "status_detail": g("reject-reason"),
        "resource_type": when(
            (f"{aws_service} IS NOT NULL", lit("aws_service")), default=lit("network_endpoint")
        ),
        "resource_name": coalesce(
            aws_service,
            f"{peer} || coalesce(':' || {peer_port}, '')"
            f" || coalesce('/' || {case(proto, {k: lit(v) for k, v in PROTOCOLS.items()}, proto)}, '')",
        ),
        "src_endpoint_ip": f"(CASE WHEN {ingress} THEN {dst} ELSE {src} END)",
        "traffic_bytes_in": when((f"NOT {ingress}", bigint(g("bytes"))), default="NULL::BIGINT"),
        "traffic_bytes_out": when((ingress, bigint(g("bytes"))), default="NULL::BIGINT"),
        "dst_endpoint_hostname": peer,
    }


def _checks(f: Accessor) -> list[tuple[str, str]]:
    names = list(getattr(f, "names", V2_FIELDS))
    status = f("log-status")
    return [
        (f"len({_split(f.raw)}) <> {len(names)}", f"not a VPC flow log record: expected {len(names)} fields"),
        (f"{status} = 'NODATA'", "NODATA record: no traffic on the interface in the capture window"),
        (f"{status} = 'SKIPDATA'", "SKIPDATA record: AWS skipped flow records in the capture window (gap)"),
    ]


SOURCE = Source(
    name="vpcflow",
    stream="flow_log",
    title="AWS VPC Flow Logs",
    layout="text",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=_uid,
    checks=_checks,
    text=TextFormat(split=_split, names=tuple(V2_FIELDS), header_names=_header),
    ocsf_classes={"flow record": 4001},
)
