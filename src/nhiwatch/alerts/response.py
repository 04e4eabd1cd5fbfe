"""Response guidance: what to do about an alert, in the vendor's own terms, and whom to call.

The steps come from ``response.yaml``: containment per vendor and kind of credential (revoke a GitHub PAT,
suspend a GitHub App installation, remove an Entra service principal's secret, revoke a Salesforce connected
app's tokens, uninstall a Slack app, revoke an AWS role's sessions ...) with a link to the vendor's
documentation, and an investigation step per detection. The credential, app and principal named in a step
are read from the alert's evidence events, so the analyst sees *which* token to revoke. Posture findings get
the inventory task instead: they are a to-do for an owner, not an incident.

Every value filled in came from logs: it is redacted and cut short here, and escaped by each output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from nhiwatch.alerts.model import Alert
from nhiwatch.redact import redact
from nhiwatch.store import Store

# Inventory kinds and actor types -> the key the containment steps are written under.
_KIND_KEYS = {
    "pat": "pat",
    "github_app": "github_app",
    "oauth_app": "oauth_app",
    "ci_workflow": "ci_workflow",
    "api_token": "api_token",
    "service_principal": "service_principal",
    "managed_identity": "service_principal",
    "iam_role": "iam_role",
}
VENDOR_NAMES = {  # how people write the vendor in an inventory -> the event source it is
    "github": "github",
    "okta": "okta",
    "microsoft": "microsoft",
    "entra": "microsoft",
    "azure": "microsoft",
    "salesforce": "salesforce",
    "slack": "slack",
    "google": "gws",
    "google workspace": "gws",
    "gws": "gws",
    "aws": "aws",
    "amazon": "aws",
}
MAX_VALUE = 120


@dataclass(frozen=True)
class Step:
    text: str
    doc: str = ""
    actions: tuple[str, ...] = ()  # one-click response actions (nhiwatch.response) this step offers


@dataclass
class Response:
    """Containment steps, what to look at, and whom to contact."""

    contain: list[Step] = field(default_factory=list)
    investigate: list[str] = field(default_factory=list)
    contact: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "contain": [{"step": s.text, "doc": s.doc, "actions": list(s.actions)} for s in self.contain],
            "investigate": list(self.investigate),
            "contact": self.contact,
        }

    def as_text(self) -> str:
        lines = [f"contact: {self.contact}"]
        lines += [f"contain: {s.text}" + (f" ({s.doc})" if s.doc else "") for s in self.contain]
        lines += [f"investigate: {t}" for t in self.investigate]
        return "\n".join(lines)


@cache
def _catalog() -> dict[str, Any]:
    text = resources.files("nhiwatch.alerts").joinpath("response.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def guidance(store: Store | None, alert: Alert) -> Response:
    """The response to ``alert``; ``store`` (when there is one) names the credential, app and vendor."""
    facts = _facts(store, alert) if store is not None else {}
    owner = _short(alert.owner) if alert.owner else ""
    contact = (
        f"{owner}, who owns {_short(alert.integration_name or alert.integration_id)}"
        if owner
        else "nobody owns this integration: find who installed it (`nhiwatch inventory suggest` guesses from "
        "who consented) and record an owner"
    )
    values = {
        "credential": facts.get("credential", ""),
        "app": facts.get("app") or _short(alert.integration_name or alert.integration_id),
        "principal": facts.get("principal") or _short(alert.integration_name or alert.integration_id),
        "owner": owner or "whoever runs it",
    }
    catalog = _catalog()
    if alert.kind == "posture":
        notes = catalog["posture"]
        todo = [_fill(notes.get(d, notes["default"]), values) for d in alert.detectors] or [notes["default"]]
        return Response(investigate=_unique(todo), contact=contact)
    vendor = facts.get("vendor") or "default"
    by_kind = catalog["contain"].get(vendor, catalog["contain"]["default"])
    steps = by_kind.get(facts.get("kind") or "", by_kind["default"])
    contain = [Step(_fill(s["step"], values), s.get("doc", ""), tuple(s.get("actions", ()))) for s in steps]
    notes = catalog["investigate"]
    investigate = [_fill(notes.get(d, notes["default"]), values) for d in alert.detectors]
    return Response(contain=contain, investigate=_unique(investigate), contact=contact)


def _facts(store: Store, alert: Alert) -> dict[str, str]:
    """Vendor, kind, and the credential / app / principal seen most often in the alert's evidence."""
    facts: dict[str, str] = {}
    if store.table_exists("integrations"):
        row = store.fetchall(
            "SELECT kind, vendor, discovered_source FROM integrations WHERE id = ?", [alert.integration_id]
        )
        if row:
            kind, vendor, discovered = row[0]
            if kind in _KIND_KEYS:
                facts["kind"] = _KIND_KEYS[kind]
            name = (vendor or discovered or "").strip().lower()
            if name in VENDOR_NAMES:
                facts["vendor"] = VENDOR_NAMES[name]
    ids = [e for e in alert.evidence if e][:200]
    if ids and store.table_exists("events"):
        rows = store.fetchall(
            """SELECT source, actor_user_credential_uid, coalesce(actor_app_name, actor_app_uid),
                      actor_user_uid, actor_user_type
               FROM events WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[]))""",
            [ids],
        )
        for key, i in (("source", 0), ("credential", 1), ("app", 2), ("principal", 3), ("actor_type", 4)):
            seen = Counter(r[i] for r in rows if r[i])
            if seen:
                facts[key] = _short(seen.most_common(1)[0][0])
        facts.setdefault("vendor", VENDOR_NAMES.get(facts.get("source", ""), ""))
        if "kind" not in facts and facts.get("actor_type") in _KIND_KEYS:
            facts["kind"] = _KIND_KEYS[facts["actor_type"]]
    return {k: v for k, v in facts.items() if v}


def _short(value: object) -> str:
    text = " ".join(redact(str(value)).split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _fill(template: str, values: dict[str, str]) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return " ".join(out.split())  # an unknown value leaves no double space


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = ["Response", "Step", "guidance"]
