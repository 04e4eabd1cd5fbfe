"""The normalized event: one row per vendor event, column names after OCSF where OCSF has a name.

Columns are flattened OCSF attribute paths (``src_endpoint.ip`` -> ``src_endpoint_ip``). Columns OCSF has
no name for (the resolved integration, our action class, record counts) say so in ``ocsf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    ocsf: str
    doc: str
    default: str = ""  # SQL default, for columns the engine fills when a writer does not


EVENT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("time", "TIMESTAMP", "time", "event time, UTC"),
    Column(
        "metadata_uid",
        "VARCHAR",
        "metadata.uid",
        "stable event id: source + vendor id, else a hash of the raw event",
    ),
    Column("source", "VARCHAR", "metadata.product.name", "nhiwatch source id (github, okta, gws, ...)"),
    Column("class_uid", "INTEGER", "class_uid", "OCSF class: 3001, 3002, 4001, 4002, 6003, 2004 ..."),
    Column(
        "metadata_tenant_uid",
        "VARCHAR",
        "metadata.tenant_uid",
        "org / enterprise / customer / tenant / account",
    ),
    Column(
        "actor_app_uid", "VARCHAR", "actor.app_uid", "client id / app id / installation id of the integration"
    ),
    Column("actor_app_name", "VARCHAR", "actor.app_name", "integration or app name as the vendor logs it"),
    Column(
        "actor_user_credential_uid",
        "VARCHAR",
        "actor.user.credential_uid",
        "token / key / secret id (never the secret)",
    ),
    Column(
        "actor_user_uid",
        "VARCHAR",
        "actor.user.uid",
        "principal id (user id, service principal id, role ARN)",
    ),
    Column("actor_user_name", "VARCHAR", "actor.user.name", "principal login or display name"),
    Column(
        "actor_user_type",
        "VARCHAR",
        "actor.user.type",
        "user, oauth_app, github_app, pat, bot, service_principal, ...",
    ),
    Column(
        "on_behalf_of", "VARCHAR", "(none) delegated user", "human the token acts for (delegated / OAuth)"
    ),
    Column("integration_id", "VARCHAR", "(none)", "resolved integration (inventory id or discovered:...)"),
    Column("api_operation", "VARCHAR", "api.operation", "vendor action, verbatim"),
    Column(
        "action_class",
        "VARCHAR",
        "(none) nhiwatch action class",
        "auth, read, export, write, delete, admin, ...",
    ),
    Column("status", "VARCHAR", "status", "Success, Failure or Unknown"),
    Column("status_detail", "VARCHAR", "status_detail", "vendor reason / error code"),
    Column("resource_type", "VARCHAR", "resources[0].type", "type of the object acted on"),
    Column(
        "resource_name",
        "VARCHAR",
        "resources[0].name",
        "object acted on (repo, route, object, bucket/key, scope)",
    ),
    Column("scopes", "VARCHAR[]", "(none) granted scopes", "OAuth scopes / permissions seen on the event"),
    Column("src_endpoint_ip", "VARCHAR", "src_endpoint.ip", "source IP"),
    Column(
        "src_endpoint_asn",
        "INTEGER",
        "src_endpoint.autonomous_system.number",
        "source ASN where the vendor gives it",
    ),
    Column("http_request_user_agent", "VARCHAR", "http_request.user_agent", "user agent"),
    Column("traffic_bytes_in", "BIGINT", "traffic.bytes_in", "bytes sent by the actor (request)"),
    Column(
        "traffic_bytes_out",
        "BIGINT",
        "traffic.bytes_out",
        "bytes returned to the actor (response / download)",
    ),
    Column("records", "BIGINT", "(none) rows returned or processed", "records read / exported / processed"),
    Column(
        "dst_endpoint_hostname",
        "VARCHAR",
        "dst_endpoint.hostname",
        "destination host (egress, webhook, callout)",
    ),
    Column(
        "ingest_file",
        "VARCHAR",
        "(none)",
        "file the event was read from (for pushed data, nhiwatch's compressed copy of it)",
    ),
    Column("ingest_line", "BIGINT", "(none)", "line (or record index) in that file, 1-based"),
    Column(
        "raw_hash",
        "UBIGINT",
        "(none)",
        "hash of the original record as read: evidence re-reads it from the file and checks it",
    ),
    Column(
        "ingest_batch",
        "BIGINT",
        "(none)",
        "insert statement that stored the event: the rollups' cursor (grows with every insert)",
        default="nextval('nw_ingest_batch')",
    ),
)

EVENT_COLUMN_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in EVENT_COLUMNS)

# Columns a source mapping may fill; the rest are set by the ingest engine.
ENGINE_COLUMNS: Final[frozenset[str]] = frozenset(
    {"metadata_uid", "source", "integration_id", "ingest_file", "ingest_line", "raw_hash", "ingest_batch"}
)
MAPPED_COLUMNS: Final[tuple[str, ...]] = tuple(n for n in EVENT_COLUMN_NAMES if n not in ENGINE_COLUMNS)

ACTION_CLASSES: Final[tuple[str, ...]] = (
    "auth",
    "read",
    "export",
    "write",
    "delete",
    "admin",
    "credential_issue",
    "credential_revoke",
    "scope_grant",
    "webhook",
    "egress",
)

ACTOR_TYPES: Final[tuple[str, ...]] = (
    "user",
    "oauth_app",
    "github_app",
    "pat",
    "bot",
    "service_principal",
    "managed_identity",
    "api_token",
    "iam_role",
    "iam_user",
    "aws_service",
    "workload",
    "unknown",
)

STATUSES: Final[tuple[str, ...]] = ("Success", "Failure", "Unknown")


def events_ddl(table: str = "events") -> str:
    cols = ",\n  ".join(
        f"{c.name} {c.sql_type}" + (f" DEFAULT {c.default}" if c.default else "") for c in EVENT_COLUMNS
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"
