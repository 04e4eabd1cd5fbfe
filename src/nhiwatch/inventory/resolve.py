"""Resolving non-human actors to integrations, and recording the ones nobody declared.

The inventory is written to two tables: ``integrations`` (one row per declared or discovered integration)
and ``identities`` (identity key/value -> integration). Resolution is one set-based UPDATE: each event
takes the integration of its most specific matching identity (credential, then app id, then role or
principal, then app name, then actor, then source network). A non-human actor no identity matches becomes a
*discovered* integration named after what the logs show, with no owner.
"""

from __future__ import annotations

import ipaddress

import orjson

from nhiwatch import rollups
from nhiwatch.inventory.model import Inventory
from nhiwatch.store import Store

INTEGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS integrations (
    id VARCHAR PRIMARY KEY, name VARCHAR, owner VARCHAR, purpose VARCHAR, kind VARCHAR, vendor VARCHAR,
    risk_tier VARCHAR, data_sensitivity VARCHAR, partner_managed BOOLEAN, allowed_destinations VARCHAR[],
    scopes VARCHAR[], schedule JSON, bursty_windows JSON, discovered BOOLEAN, discovered_source VARCHAR,
    discovered_identity VARCHAR, first_seen TIMESTAMP, last_seen TIMESTAMP, country VARCHAR)"""
IDENTITIES_DDL = """CREATE TABLE IF NOT EXISTS identities (
    integration_id VARCHAR, source VARCHAR, key VARCHAR, value VARCHAR, ip_lo HUGEINT, ip_hi HUGEINT,
    priority INTEGER)"""

# identity key -> (event column, priority: lower wins)
KEY_COLUMNS: dict[str, tuple[str, int]] = {
    "token_id": ("actor_user_credential_uid", 1),
    "access_key_id": ("actor_user_credential_uid", 1),
    "client_id": ("actor_app_uid", 2),
    "app_id": ("actor_app_uid", 2),
    "installation_id": ("actor_app_uid", 2),
    "role_arn": ("actor_user_uid", 3),
    "app_name": ("actor_app_name", 4),
    "actor": ("actor_user_name", 5),
}
EGRESS_SOURCES = ("zeek", "vpcflow", "squid")
NON_HUMAN = "actor_user_type NOT IN ('user', 'unknown')"

# Names an inventory may use for a source, beyond the vendor names events carry ("github", "aws", ...).
SOURCE_ALIASES: dict[str, tuple[str, ...]] = {
    "egress": EGRESS_SOURCES,
    "network": EGRESS_SOURCES,
    "cloudtrail": ("aws",),
    "vpc_flow": ("vpcflow",),
    "entra": ("microsoft",),
    "azure": ("microsoft",),
    "graph": ("microsoft",),
    "google": ("gws",),
    "google_workspace": ("gws",),
}


def event_sources(name: str) -> tuple[str, ...]:
    """The ``events.source`` values an inventory source name covers; raises ValueError for an unknown name."""
    from nhiwatch.sources.registry import all_sources

    vendors = {s.name for s in all_sources()}
    if name in vendors:
        return (name,)
    if name in SOURCE_ALIASES:
        return SOURCE_ALIASES[name]
    known = ", ".join(sorted(vendors | set(SOURCE_ALIASES)))
    raise ValueError(f"unknown source {name!r}; known: {known}")


SOURCE_MATCH = "(i.source IS NULL OR e.source = i.source)"


def ensure_tables(store: Store) -> None:
    store.ensure(INTEGRATIONS_DDL, IDENTITIES_DDL)
    has_country = store.scalar(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'integrations' AND column_name = 'country'"
        " AND schema_name = 'main'"
    )
    if not has_country:  # a store written before integrations had a holiday calendar
        store.execute("ALTER TABLE integrations ADD COLUMN country VARCHAR")


def apply_inventory(store: Store, inventory: Inventory) -> None:
    """Replace the declared integrations and identities with ``inventory`` (discovered ones are kept)."""
    ensure_tables(store)
    with store.transaction():
        store.execute("DELETE FROM integrations WHERE NOT discovered")
        store.execute("DELETE FROM identities")
        declared = {i.id for i in inventory.integrations}
        if declared:
            store.execute(
                "DELETE FROM integrations WHERE discovered AND id IN (SELECT unnest(?::VARCHAR[]))",
                [list(declared)],
            )
        rows = [
            (
                i.id,
                i.name,
                i.owner,
                i.purpose,
                i.kind,
                i.vendor,
                i.risk_tier,
                i.data_sensitivity,
                i.partner_managed,
                i.allowed_destinations,
                i.scopes,
                orjson.dumps(i.schedule.model_dump()).decode() if i.schedule else None,
                orjson.dumps([w.model_dump() for w in i.bursty_windows]).decode(),
                False,
                None,
                None,
                None,
                None,
                i.country or inventory.country,
            )
            for i in inventory.integrations
        ]
        store.insert_rows("integrations", _INTEGRATION_COLS, rows)
        idents: list[tuple[str, str | None, str, str, int | None, int | None, int]] = []
        for integ in inventory.integrations:
            for ident in integ.identities:
                lo = hi = None
                if ident.key == "src_ip":
                    net = ipaddress.ip_network(ident.value, strict=False)
                    lo, hi = int(net.network_address), int(net.broadcast_address)
                prio = KEY_COLUMNS.get(ident.key, ("", 6))[1]
                targets: tuple[str | None, ...] = event_sources(ident.source) if ident.source else (None,)
                idents.extend((integ.id, src, ident.key, ident.value, lo, hi, prio) for src in targets)
        store.insert_rows(
            "identities", ["integration_id", "source", "key", "value", "ip_lo", "ip_hi", "priority"], idents
        )


_INTEGRATION_COLS = [
    "id",
    "name",
    "owner",
    "purpose",
    "kind",
    "vendor",
    "risk_tier",
    "data_sensitivity",
    "partner_managed",
    "allowed_destinations",
    "scopes",
    "schedule",
    "bursty_windows",
    "discovered",
    "discovered_source",
    "discovered_identity",
    "first_seen",
    "last_seen",
    "country",
]


def resolve(store: Store, *, everything: bool = False) -> int:
    """Set ``integration_id`` on events; returns events resolved.

    By default only events stored since the rollups last advanced are looked at (cost follows new data;
    see :mod:`nhiwatch.rollups`); ``everything`` re-attributes every stored event (after an inventory
    change) and the caller then rebuilds the rollups. One transaction: a failure half-way (after the reset
    of ``everything``) leaves the events as they were."""
    ensure_tables(store)
    with store.transaction():
        return _resolve(store, everything=everything)


def _resolve(store: Store, *, everything: bool) -> int:
    if everything:
        store.execute("UPDATE events SET integration_id = NULL WHERE integration_id IS NOT NULL")
        new = "true"
    else:
        new = f"e.ingest_batch > {int(rollups.cursor(store))}"  # the cursor is our own integer, never data
    scope = f"({new} AND e.integration_id IS NULL)"
    span = store.fetchall(f"SELECT min(time), max(time) FROM events e WHERE {scope}")[0]
    if span[0] is None:
        return 0
    parts = [
        f"""SELECT e.rowid AS rid, i.integration_id, i.priority FROM events e JOIN identities i
            ON i.key = '{key}' AND e.{col} = i.value AND {SOURCE_MATCH} WHERE {scope}"""
        for key, (col, _) in KEY_COLUMNS.items()
    ]
    # A single address joins by equality (a hash join); only CIDR networks need the range join.
    parts.append(
        f"""SELECT e.rowid AS rid, i.integration_id, i.priority FROM events e JOIN identities i
            ON i.key = 'src_ip' AND NOT contains(i.value, '/') AND e.src_endpoint_ip = i.value AND {SOURCE_MATCH}
            WHERE {scope}"""
    )
    parts.append(
        f"""SELECT e.rowid AS rid, i.integration_id, i.priority FROM events e JOIN identities i
            ON i.key = 'src_ip' AND contains(i.value, '/') AND nw_ip_num(e.src_endpoint_ip) BETWEEN i.ip_lo AND i.ip_hi
               AND {SOURCE_MATCH}
            WHERE {scope} AND e.src_endpoint_ip IS NOT NULL"""
    )
    # Events are matched by row id, a number, not by their uid, a long string: half the cost. Row ids hold
    # within this transaction, and ingest keeps one event per uid, so it is the same match.
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_match AS
        SELECT rid, arg_min(integration_id, priority) AS integration_id
        FROM ({" UNION ALL ".join(parts)}) GROUP BY rid"""
    )
    store.execute(
        "UPDATE events e SET integration_id = m.integration_id FROM nw_match m WHERE e.rowid = m.rid"
    )
    matched = int(store.scalar("SELECT count(*) FROM nw_match") or 0)
    matched += _inherit_sessions(store, span[0], span[1])
    discovered = _discover(store, new)
    _touch(store, new)
    return matched + discovered


SESSION_REACH = "INTERVAL 1 DAY"  # how far apart in time events of one session (or key) are looked for


def _inherit_sessions(store: Store, lo: object, hi: object) -> int:
    """Attribute events that carry only a session or credential id shared with one integration's events.

    Salesforce logs the connected app on API calls but not on the Login or Bulk API 2.0 rows of the same
    session; the session key ties them together. An id seen with two integrations stays ambiguous. Only
    events within a day of the new ones are looked at; an older event attributed here is given a new
    ``ingest_batch`` so the rollups fold it in.
    """
    reach = f"time BETWEEN ?::TIMESTAMP - {SESSION_REACH} AND ?::TIMESTAMP + {SESSION_REACH}"
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_sessions AS
        SELECT source, actor_user_credential_uid AS cred, any_value(integration_id) AS integration_id
        FROM events WHERE {reach} AND actor_user_credential_uid IS NOT NULL AND integration_id IS NOT NULL
          AND NOT starts_with(integration_id, 'discovered:')
        GROUP BY ALL HAVING count(DISTINCT integration_id) = 1""",
        [lo, hi],
    )
    return int(
        store.execute(
            f"""UPDATE events SET integration_id = s.integration_id, ingest_batch = nextval('nw_ingest_batch')
            FROM nw_sessions s
            WHERE events.integration_id IS NULL AND events.{reach} AND events.source = s.source
              AND events.actor_user_credential_uid = s.cred""",
            [lo, hi],
        ).fetchall()[0][0]
    )


DISCOVERED_KEY = """CASE
    WHEN actor_app_uid IS NOT NULL THEN 'app_id:' || actor_app_uid
    WHEN actor_app_name IS NOT NULL THEN 'app_name:' || actor_app_name
    WHEN actor_user_type IN ('iam_role', 'service_principal', 'managed_identity') AND actor_user_uid IS NOT NULL
        THEN 'principal:' || actor_user_uid
    WHEN actor_user_name IS NOT NULL THEN 'actor:' || actor_user_name
    WHEN actor_user_credential_uid IS NOT NULL THEN 'token_id:' || actor_user_credential_uid
END"""


def _discover(store: Store, new: str) -> int:
    """Name unresolved non-human actors among the ``new`` events ``discovered:<source>:<key>:<value>``
    and register them."""
    # A person signing in to an SSO app (auth, app as context) or working through an AWS IAM Identity Center
    # role is human activity; an app a person installs or grants is an integration even if undeclared.
    cond = (
        f"integration_id IS NULL AND source NOT IN {EGRESS_SOURCES} "
        f"AND ({NON_HUMAN} OR (actor_app_uid IS NOT NULL AND action_class <> 'auth')) "
        "AND NOT (actor_user_type = 'iam_role' AND coalesce(actor_user_name, actor_user_uid) LIKE '%AWSReservedSSO%')"
    )
    found = store.execute(
        f"UPDATE events e SET integration_id = 'discovered:' || source || ':' || ({DISCOVERED_KEY}) "
        f"WHERE {new} AND {cond} AND ({DISCOVERED_KEY}) IS NOT NULL"
    ).fetchall()[0][0]
    store.execute(
        f"""INSERT INTO integrations (id, name, kind, risk_tier, data_sensitivity, partner_managed, allowed_destinations,
               scopes, discovered, discovered_source, discovered_identity)
        SELECT integration_id, any_value(coalesce(actor_app_name, actor_user_name, split_part(integration_id, ':', 4))),
               any_value(actor_user_type), 'medium', 'internal', false, []::VARCHAR[], []::VARCHAR[], true,
               any_value(source), any_value(split_part(integration_id, ':', 3) || '=' ||
                   array_to_string(list_slice(string_split(integration_id, ':'), 4, 1000), ':'))
        FROM events e WHERE {new} AND starts_with(integration_id, 'discovered:')
          AND integration_id NOT IN (SELECT id FROM integrations)
        GROUP BY integration_id"""
    )
    return int(found)


def _touch(store: Store, new: str) -> None:
    """Widen each integration's first and last seen to the ``new`` events."""
    store.execute(
        f"""UPDATE integrations SET first_seen = least(coalesce(first_seen, s.f), s.f),
                                    last_seen = greatest(coalesce(last_seen, s.l), s.l) FROM (
             SELECT integration_id, min(time) AS f, max(time) AS l FROM events e
             WHERE {new} AND integration_id IS NOT NULL GROUP BY integration_id) s
           WHERE integrations.id = s.integration_id"""
    )
