"""Draft inventory entries for the non-human identities nobody declared, for a person to review and commit.

``nhiwatch inventory suggest`` turns each *discovered* integration into an inventory entry built from what
the store has learned about it: the identity it was seen as, its kind (from the actor type the vendor
logged), the destinations it reached and the scopes it held or used (``rollup_values``, the long memory),
the days and hours it runs (``rollup_hourly``), and an owner guessed from the person who installed it,
issued its credential or granted its scopes (``rollup_lifecycle``). Nothing here reads the raw events.

The draft is YAML with comments saying where each value came from and what to review. Every value came
from logs an attacker may write to (an app name is chosen by whoever registers the app), so values are
redacted, emitted only through the YAML dumper (which quotes and escapes), and comments keep printable
characters only. The purpose is always left empty: only a person can say what an integration is for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from nhiwatch.inventory.model import SLUG, Inventory
from nhiwatch.inventory.resolve import ensure_tables
from nhiwatch.redact import redact
from nhiwatch.rollups import LIFECYCLE_CLASSES
from nhiwatch.store import Store

# The vendor's actor type -> the inventory kind it most likely is (a person confirms it).
KINDS: dict[str, str] = {
    "oauth_app": "oauth_app",
    "github_app": "github_app",
    "pat": "pat",
    "bot": "bot",
    "service_principal": "service_principal",
    "managed_identity": "service_principal",
    "api_token": "api_token",
    "iam_role": "iam_role",
    "iam_user": "service_account",
    "workload": "service_account",
}
# How a discovered integration was keyed (``resolve.DISCOVERED_KEY``) -> the inventory identity key.
IDENTITY_KEYS: dict[str, str] = {
    "app_id": "app_id",
    "app_name": "app_name",
    "principal": "role_arn",  # matches the principal id column, whatever the principal's kind
    "actor": "actor",
    "token_id": "token_id",
}
MAX_LISTED = 25  # destinations or scopes written out per integration; the rest are counted in a comment
ACTIVE_SHARE = 0.01  # a weekday or hour with less than 1 % of the activity is not part of the schedule


@dataclass
class Suggestion:
    """One draft entry and the evidence behind it."""

    discovered_id: str
    entry: dict[str, Any]
    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    notes: list[str] = field(default_factory=list)


def suggest(store: Store, *, only: list[str] | None = None) -> list[Suggestion]:
    """A draft entry for each discovered integration (or the ``only`` ones), most active first."""
    ensure_tables(store)
    rows = store.records(
        """SELECT id, name, kind, discovered_source, discovered_identity, first_seen, last_seen
           FROM integrations WHERE discovered ORDER BY id"""
    )
    if only is not None:
        wanted = set(only)
        rows = [r for r in rows if r["id"] in wanted]
    taken = {r[0] for r in store.fetchall("SELECT id FROM integrations WHERE NOT discovered")}
    events = _events(store)
    out = []
    for r in rows:
        s = _suggest_one(store, r, taken)
        s.events = events.get(r["id"], 0)
        taken.add(s.entry["id"])
        out.append(s)
    out.sort(key=lambda s: (-s.events, s.discovered_id))
    return out


def _events(store: Store) -> dict[str, int]:
    if not store.table_exists("rollup_hourly"):
        return {}
    rows = store.fetchall(
        """SELECT integration_id, sum(events) FROM rollup_hourly
           WHERE action_class = '*' AND status = '*' AND starts_with(integration_id, 'discovered:')
           GROUP BY integration_id"""
    )
    return {r[0]: int(r[1]) for r in rows}


def _suggest_one(store: Store, row: dict[str, Any], taken: set[str]) -> Suggestion:
    iid = row["id"]
    name = _clean(row["name"] or iid.split(":", 3)[-1])
    source = row["discovered_source"]
    key, _, value = (row["discovered_identity"] or "").partition("=")
    s = Suggestion(iid, {}, first_seen=row["first_seen"], last_seen=row["last_seen"])
    kind = KINDS.get(row["kind"] or "")
    if kind is None:
        # An app id is an OAuth client's (or a GitHub App's) id; anything else runs as an account.
        kind = "oauth_app" if key == "app_id" else "service_account"
        s.notes.append(f"kind: the logs call it {_comment(row['kind'] or 'nothing')}; set the right kind")
    entry: dict[str, Any] = {
        "id": _unique(_slug(name), taken),
        "name": name,
        "owner": None,
        "purpose": None,
        "kind": kind,
        "vendor": source,
        "risk_tier": "medium",
    }
    ident_key = IDENTITY_KEYS.get(key)
    if ident_key and value:
        entry["identities"] = [{"source": source, ident_key: redact(value)}]
    owner = _owner(store, iid)
    if owner:
        entry["owner"], why = owner
        s.notes.append(f"owner guessed: {_comment(why)}; confirm with them")
    else:
        s.notes.append("owner: nobody installed or consented to it in the logs kept; find who runs it")
    s.notes.append("purpose: say what it is for, in business terms")
    destinations = _values(store, iid, ("destination",))
    if destinations:
        entry["allowed_destinations"] = destinations[:MAX_LISTED]
        if len(destinations) > MAX_LISTED:
            s.notes.append(f"allowed_destinations: {len(destinations) - MAX_LISTED} more seen, not listed")
    scopes = _values(store, iid, ("scope", "scope_used"))
    if scopes:
        entry["scopes"] = scopes[:MAX_LISTED]
        s.notes.append("scopes: as granted or used; remove the ones its purpose does not need")
    schedule = _schedule(store, iid)
    if schedule:
        entry["schedule"] = schedule
    s.entry = entry
    return s


def _owner(store: Store, iid: str) -> tuple[str, str] | None:
    """The person who most recently installed it, issued its credential or granted it scopes."""
    if not store.table_exists("rollup_lifecycle"):
        return None
    rows = store.fetchall(
        """SELECT coalesce(on_behalf_of, actor_user_name), action_class, api_operation, time
           FROM rollup_lifecycle
           WHERE integration_id = ? AND status IS DISTINCT FROM 'Failure'
             AND (actor_user_type = 'user' OR on_behalf_of IS NOT NULL)
             AND coalesce(on_behalf_of, actor_user_name) IS NOT NULL
           ORDER BY time DESC LIMIT 1""",
        [iid],
    )
    if not rows:
        return None
    who, action, operation, when = rows[0]
    what = {"scope_grant": "granted its scopes", "credential_issue": "issued its credential"}.get(
        action, "changed it"
    )
    return _clean(who), f"{who} {what} ({operation}, {when:%Y-%m-%d})"


def _values(store: Store, iid: str, dimensions: tuple[str, ...]) -> list[str]:
    if not store.table_exists("rollup_values"):
        return []
    rows = store.fetchall(
        """SELECT value FROM rollup_values WHERE integration_id = ? AND list_contains(?, dimension)
           GROUP BY value ORDER BY sum(events) DESC, value""",
        [iid, list(dimensions)],
    )
    seen: list[str] = []
    for (v,) in rows:
        clean = _clean(v)
        if clean and clean not in seen:
            seen.append(clean)
    return seen


def _schedule(store: Store, iid: str) -> dict[str, str] | None:
    """Days and hours (UTC) holding all but a sliver of its activity; none if it runs around the clock.

    Installs, grants and credential changes are a person's doing, not the integration's schedule."""
    if not store.table_exists("rollup_hourly"):
        return None
    rows = store.fetchall(
        """SELECT isodow(hour), hour(hour), sum(events) FROM rollup_hourly
           WHERE integration_id = ? AND status = '*' AND NOT list_contains(?, action_class)
           GROUP BY ALL""",
        [iid, ["*", *LIFECYCLE_CLASSES]],
    )
    total = sum(int(r[2]) for r in rows)
    if total == 0:
        return None
    by_day = [0] * 8
    by_hour = [0] * 24
    for dow, hr, n in rows:
        by_day[int(dow)] += int(n)
        by_hour[int(hr)] += int(n)
    days = [d for d in range(1, 8) if by_day[d] > ACTIVE_SHARE * total]
    hours = [h for h in range(24) if by_hour[h] > ACTIVE_SHARE * total]
    first, last = min(hours), max(hours)
    if len(days) == 7 and first == 0 and last == 23:
        return None
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {
        "timezone": "UTC",
        "days": "mon-sun" if len(days) == 7 else ",".join(names[d - 1] for d in days),
        "hours": f"{first:02d}:00-{last + 1:02d}:00",
    }


_UNSAFE = re.compile(r"[^\x20-\x7e\u00a0-\u02ff]")  # controls, bidi overrides, zero-widths ... go


def _clean(value: object) -> str:
    """A logged value made safe to write into a file a person will read and commit: redacted, one line."""
    return _UNSAFE.sub("", redact(str(value))).strip()[:200]


def _comment(value: object) -> str:
    return _clean(value).replace("#", "")


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-._")[:60] or "integration"
    return slug if SLUG.match(slug) else f"x-{slug}"[:60]


def _unique(slug: str, taken: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in taken:
        candidate = f"{slug}-{n}"
        n += 1
    return candidate


def to_yaml(suggestions: list[Suggestion]) -> str:
    """The drafts as an inventory file, each entry under comments that say what to review."""
    lines = [
        "# Draft inventory entries for non-human identities seen in the logs and declared nowhere.",
        "# Generated by `nhiwatch inventory suggest`: review every entry (owner, purpose, kind, scopes),",
        "# then move the ones you keep into your inventory file. Values come from the logs as observed.",
        "integrations:",
    ]
    if not suggestions:
        lines[-1] = "integrations: []"
    for s in suggestions:
        span = ""
        if s.first_seen and s.last_seen:
            span = f", {s.first_seen:%Y-%m-%d} to {s.last_seen:%Y-%m-%d}"
        lines.append("")
        lines.append(f"  # {_comment(s.discovered_id)}: {s.events:,} events{span}")
        lines.extend(f"  # REVIEW {note}" for note in s.notes)
        body = yaml.safe_dump([s.entry], sort_keys=False, allow_unicode=False, width=1000)
        lines.extend("  " + line for line in body.rstrip("\n").splitlines())
    return "\n".join(lines) + "\n"


def validate(text: str) -> Inventory:
    """The draft, parsed as the inventory loader would: a guard that what we write can be loaded."""
    data = yaml.safe_load(text) or {"integrations": []}
    return Inventory.model_validate(data)


__all__ = ["Suggestion", "suggest", "to_yaml", "validate"]
