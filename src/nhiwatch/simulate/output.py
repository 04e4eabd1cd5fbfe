"""The files beside the logs: ``inventory.yaml``, ``tickets.csv``, ``truth.jsonl`` and ``summary.json``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from nhiwatch.simulate.calendar import iso_local
from nhiwatch.simulate.labels import Benign
from nhiwatch.simulate.model import Episode, Integration, Ticket
from nhiwatch.simulate.writers.common import iso_s

SOURCE_NAME = {"graph": "microsoft", "entra": "microsoft", "cloudtrail": "aws"}
PRIMARY_KEYS = ("client_id", "installation_id", "app_id", "role_arn", "actor", "access_key_id", "token_id")


def identities(integ: Integration) -> list[dict[str, str]]:
    """How the integration appears in each source, as its owner would have written it down."""
    src = SOURCE_NAME.get(integ.source, integ.source)
    out: list[dict[str, str]] = []
    for key in PRIMARY_KEYS:
        value = integ.ids.get(key)
        if not value or (key in ("token_id", "access_key_id") and integ.rotation_days):
            continue  # a rotating credential is listed by its stable principal, not the current key
        out.append({"source": src, key: value})
    if integ.source == "salesforce" and integ.extra.get("user_name"):
        out.append({"source": src, "actor": integ.extra["user_name"]})
    if integ.egress is not None:
        out.append({"source": "egress", "src_ip": integ.egress.src_ip})
    return out


def inventory_entry(integ: Integration, country: str | None = None) -> dict[str, Any]:
    sched = integ.schedule
    if "at" in sched:  # nightly: a two-hour window from its start time
        h, m = (int(x) for x in sched.pop("at").split(":"))
        end_h = min(h + 2, 24)
        sched["hours"] = f"{h:02d}:{m:02d}-{end_h:02d}:{m if end_h < 24 else 0:02d}"
    entry: dict[str, Any] = {
        "id": integ.id,
        "name": integ.name,
        "owner": integ.owner,
        "purpose": integ.purpose,
        "kind": integ.kind,
        "vendor": integ.vendor,
        "risk_tier": integ.risk_tier,
        "data_sensitivity": integ.sensitivity,
        "partner_managed": integ.partner_managed,
        "identities": identities(integ),
        "allowed_destinations": list(integ.destinations),
        "scopes": list(integ.scopes),
        "schedule": sched,
    }
    if integ.month_end == "declared":
        entry["bursty_windows"] = [{"calendar": "month_end", "business_days": integ.month_end_days}]
        if integ.quarter_end_factor > 1:
            entry["bursty_windows"].append({"calendar": "quarter_end", "business_days": integ.month_end_days})
    if integ.country and integ.country != country:
        entry["country"] = integ.country
    return entry


def write_inventory(path: Path, company: list[Integration], country: str | None = None) -> None:
    """The inventory file; ``country`` is the company-wide holiday calendar (seasonal companies)."""
    doc: dict[str, Any] = {"country": country} if country else {}
    doc["integrations"] = [inventory_entry(i, country) for i in company if not i.shadow]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def write_tickets(path: Path, tickets: list[Ticket], tz_of: dict[str, str]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "start", "end", "integration", "summary"])
    for t in sorted(tickets, key=lambda t: (t.start, t.id)):
        tz = tz_of.get(t.integration, "America/New_York")
        w.writerow([t.id, iso_local(t.start, tz), iso_local(t.end, tz), t.integration, t.summary])
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_truth(path: Path, episodes: list[Episode], labels: Sequence[Benign] = ()) -> None:
    """Attack episodes, then the benign irregularities (``"kind": "benign"``) with their causes."""
    lines = []
    for ep in sorted(episodes, key=lambda e: (e.start, e.episode_id)):
        lines.append(
            orjson.dumps(
                {
                    "episode_id": ep.episode_id,
                    "family": ep.family,
                    "integration_id": ep.integration_id,
                    "start": iso_s(ep.start),
                    "end": iso_s(ep.end),
                    "description": ep.description,
                    "indicators": ep.indicators,
                },
                option=orjson.OPT_SORT_KEYS,
            )
        )
    for k, label in enumerate(labels, start=1):
        lines.append(orjson.dumps(label.record(f"BN-{k:04d}"), option=orjson.OPT_SORT_KEYS))
    path.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
