"""The exact vendor objects an alert is about: from the integration's declared identities, then its evidence.

A declared identity (``client_id``, ``token_id``, ``role_arn`` ... in the inventory) is what the owner said
the integration is, so it wins; otherwise the value seen most often in the alert's evidence events (the
credential, app and principal columns of the events the alert cites). Values are kept exact here, and every
action checks the shape of the id it uses (:func:`shaped`) before it goes near a URL: these values came
from logs an attacker may write.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.response import VENDOR_NAMES
from nhiwatch.store import Store

# How an inventory names a vendor -> the events' source (the alert guidance's table), and the sources that
# have response actions.
VENDORS = {**VENDOR_NAMES, "iam_role": "iam_role"}
ACTION_SOURCES = frozenset({"github", "okta", "microsoft", "salesforce", "slack", "aws", "iam_role"})
COLUMNS = (
    "actor_user_credential_uid",
    "actor_app_uid",
    "actor_app_name",
    "actor_user_uid",
    "metadata_tenant_uid",
)


@dataclass(frozen=True)
class Targets:
    """What an alert names, exactly as the vendor spells it."""

    alert_id: str
    integration_id: str
    integration_name: str
    vendor: str = ""  # the events' source: okta, github, microsoft, salesforce, slack, aws, or ""
    kind: str = ""  # the inventory kind: pat, github_app, service_principal, iam_role ...
    declared: Mapping[str, str] = field(default_factory=dict)  # identity key -> value
    seen: Mapping[str, str] = field(default_factory=dict)  # event column -> most common value

    def first(self, keys: tuple[str, ...] = (), column: str | None = None) -> str | None:
        """The first declared identity among ``keys``, else the evidence's ``column``."""
        for key in keys:
            if self.declared.get(key):
                return self.declared[key]
        return self.seen.get(column) if column else None

    def vendor_id(
        self, vendor: str, pattern: str, keys: tuple[str, ...] = (), column: str | None = None
    ) -> str | None:
        """The object's id of ``vendor``'s shape (:func:`shaped`) when the alert is about that vendor's
        integration: the first declared identity among ``keys``, else the evidence's ``column``."""
        if self.vendor != vendor:
            return None
        return shaped(self.first(keys, column), pattern)


def shaped(value: str | None, pattern: str) -> str | None:
    """``value`` if it matches ``pattern`` whole, else None (a log value is never trusted as an id)."""
    if value is None or len(value) > 2048:
        return None
    return value if re.fullmatch(pattern, value) else None


def resolve(store: Store, alert: Alert) -> Targets:
    """The targets of ``alert`` in ``store``."""
    kind = vendor = ""
    declared: dict[str, str] = {}
    name = alert.integration_name or alert.integration_id
    if store.table_exists("integrations"):
        rows = store.fetchall(
            "SELECT kind, vendor, discovered_source FROM integrations WHERE id = ?", [alert.integration_id]
        )
        if rows:
            kind = rows[0][0] or ""
            vendor = VENDORS.get((rows[0][1] or rows[0][2] or "").strip().lower(), "")
    if store.table_exists("identities"):
        for key, value, source in store.fetchall(
            "SELECT key, value, source FROM identities WHERE integration_id = ? ORDER BY priority, key, value",
            [alert.integration_id],
        ):
            if value and key not in declared and (not vendor or not source or source == vendor):
                declared[key] = value
    seen: dict[str, str] = {}
    ids = [e for e in alert.evidence if e][:500]
    if ids and store.table_exists("events"):
        rows = store.fetchall(
            f"""SELECT source, {", ".join(COLUMNS)} FROM events
                WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[]))""",
            [ids],
        )
        sources = Counter(r[0] for r in rows if r[0] in ACTION_SOURCES)
        if sources:
            vendor = sources.most_common(1)[0][0]
        for i, column in enumerate(COLUMNS, start=1):
            counts = Counter(str(r[i]) for r in rows if r[i] and r[0] == vendor)
            if counts:
                seen[column] = counts.most_common(1)[0][0]
    return Targets(alert.alert_id, alert.integration_id, name, vendor, kind, declared, seen)
