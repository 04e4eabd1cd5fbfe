"""Inventory as code: validation with located errors, resolution of actors, discovered and ownerless gaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nhiwatch.errors import ConfigError
from nhiwatch.inventory import load_inventory
from nhiwatch.inventory.gaps import gaps
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.conftest import write

INVENTORY = """\
integrations:
  - id: drift-salesforce
    name: Drift → Salesforce lead sync
    owner: revops@acme.example
    purpose: Pushes chat leads into Salesforce every 15 minutes
    kind: oauth_app
    vendor: Salesloft
    risk_tier: high
    data_sensitivity: confidential
    partner_managed: true
    identities:
      - {source: github, installation_id: "55501"}
      - {source: egress, src_ip: 10.20.0.0/24}
    allowed_destinations: ["*.salesforce.com", api.drift.com]
    scopes: [api, refresh_token]
    schedule: {timezone: America/New_York, days: mon-fri, hours: "07:00-19:00"}
    bursty_windows: [{calendar: month_end, business_days: 3}]
  - id: release-pat
    name: Release automation PAT
    owner: ""
    kind: pat
    identities:
      - {source: github, token_id: "119823"}
      - {source: github, actor: release-bot}
"""


def test_valid_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "inv.yaml", INVENTORY))
    drift = inv.get("drift-salesforce")
    assert drift is not None and drift.schedule is not None
    assert drift.schedule.day_set() == frozenset({1, 2, 3, 4, 5})
    assert drift.schedule.hour_range() == (7.0, 19.0)
    release = inv.get("release-pat")
    assert release is not None and release.ownerless and release.purpose is None


def test_country_per_integration_or_company_wide(store: Store, tmp_path: Path) -> None:
    """The holiday calendar: an integration's own country wins, the inventory's applies to the others."""
    from nhiwatch.inventory.resolve import apply_inventory

    text = "country: fr\n" + INVENTORY.replace("    kind: pat\n", "    kind: pat\n    country: de-by\n")
    inv = load_inventory(write(tmp_path, "inv.yaml", text))
    assert inv.country == "FR" and inv.get("release-pat").country == "DE-BY"  # type: ignore[union-attr]
    apply_inventory(store, inv)
    assert dict(store.fetchall("SELECT id, country FROM integrations")) == {
        "drift-salesforce": "FR",
        "release-pat": "DE-BY",
    }


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            lambda t: t.replace("    owner: revops", "    ownr: revops"),
            ":4: integrations.0.ownr: unknown key",
        ),
        (
            lambda t: t.replace("id: release-pat", "id: drift-salesforce"),
            "duplicate integration id 'drift-salesforce'",
        ),
        (lambda t: t.replace("kind: pat", "kind: patt"), ":21: integrations.1.kind"),
        (lambda t: t.replace("America/New_York", "America/Gotham"), "unknown time zone 'America/Gotham'"),
        (lambda t: t.replace('"07:00-19:00"', '"7am-7pm"'), "hours must look like 07:00-19:00"),
        (lambda t: t.replace("10.20.0.0/24", "10.20.0.0/99"), "is not an IP address or CIDR network"),
        (lambda t: t.replace("integrations:\n", "integrations:\n  - [oops\n"), "not valid YAML"),
        (lambda t: "country: XX\n" + t, "unknown country 'XX'"),
        (
            lambda t: t.replace("    kind: pat\n", "    kind: pat\n    country: DE-ZZ\n"),
            "unknown subdivision 'ZZ' of DE",
        ),
    ],
)
def test_invalid_inventories_name_file_line_and_problem(
    tmp_path: Path, mutation: object, expected: str
) -> None:
    path = write(tmp_path, "inv.yaml", mutation(INVENTORY))  # type: ignore[operator]
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_identity_claimed_twice_is_an_error(tmp_path: Path) -> None:
    text = INVENTORY.replace('token_id: "119823"', 'installation_id: "55501"')
    with pytest.raises(
        ConfigError,
        match=r"inv.yaml:23: identity \{installation_id=55501, source=github\} is already claimed by 'drift-salesforce' \(line 12\)",
    ):
        load_inventory(write(tmp_path, "inv.yaml", text))


def _gh(doc: str, **fields: object) -> str:
    base = {"@timestamp": 1755429083000, "_document_id": doc, "org": "acme"}
    base.update(fields)
    return json.dumps(base)


def test_resolution_declared_discovered_and_gaps(store: Store, tmp_path: Path) -> None:
    logs = (
        "\n".join(
            [
                _gh(
                    "a",
                    action="api.request",
                    actor="drift[bot]",
                    actor_is_bot=True,
                    installation_id=55501,
                    integration="drift",
                    request_method="GET",
                    route="/repos",
                ),
                _gh(
                    "b",
                    action="git.clone",
                    actor="release-bot",
                    token_id=999,
                    repo="acme/x",
                    programmatic_access_type="Personal access token (classic)",
                ),
                _gh(
                    "c",
                    action="git.clone",
                    actor="shadow-bot",
                    token_id=1234,
                    repo="acme/y",
                    programmatic_access_type="Fine-grained personal access token",
                ),
                _gh("d", action="repo.create", actor="alice", repo="acme/z"),
            ]
        )
        + "\n"
    )
    inv = write(tmp_path, "inv.yaml", INVENTORY)
    outcome = ingest_all(store, [write(tmp_path, "gh.jsonl", logs)], inventory=inv)
    assert outcome.inventory_size == 2
    got = dict(store.fetchall("SELECT metadata_uid, integration_id FROM events"))
    assert got["github:a"] == "drift-salesforce"
    assert got["github:b"] == "release-pat"  # by actor, the token id is not declared
    assert got["github:c"] == "discovered:github:actor:shadow-bot"
    assert got["github:d"] is None  # a human's own activity is not an integration
    found = {g.integration_id: g for g in gaps(store)}
    assert found["discovered:github:actor:shadow-bot"].gap.startswith("discovered")
    assert found["discovered:github:actor:shadow-bot"].events == 1
    assert found["release-pat"].gap == "ownerless, no purpose"
    assert "drift-salesforce" not in found


def test_credential_identity_wins_over_actor(store: Store, tmp_path: Path) -> None:
    text = (
        INVENTORY
        + """\
  - id: release-token
    name: The release token itself
    owner: platform@acme.example
    purpose: Publishes releases
    kind: pat
    identities:
      - {source: github, token_id: "999"}
"""
    )
    text = text.replace('      - {source: github, token_id: "119823"}\n', "")
    logs = _gh("b", action="git.clone", actor="release-bot", token_id=999, repo="acme/x") + "\n"
    ingest_all(store, [write(tmp_path, "gh.jsonl", logs)], inventory=write(tmp_path, "inv.yaml", text))
    assert store.scalar("SELECT integration_id FROM events") == "release-token"


def test_bad_inventory_changes_nothing(store: Store, tmp_path: Path) -> None:
    logs = write(tmp_path, "gh.jsonl", _gh("a", action="git.clone", actor="x[bot]") + "\n")
    bad = write(tmp_path, "inv.yaml", INVENTORY.replace("kind: pat", "kind: nope"))
    with pytest.raises(ConfigError):
        ingest_all(store, [logs], inventory=bad)
    assert store.event_count() == 0


def test_session_key_carries_the_integration_to_rows_without_an_app(store: Store, tmp_path: Path) -> None:
    text = (
        INVENTORY
        + """\
  - id: sf-connector
    name: CRM connector
    owner: crm@acme.example
    purpose: Syncs accounts
    kind: oauth_app
    identities:
      - {source: salesforce, client_id: "0H4Kd000000XyzA"}
"""
    )
    header = '"EVENT_TYPE","TIMESTAMP","REQUEST_ID","ORGANIZATION_ID","USER_ID","CONNECTED_APP_ID","LOGIN_KEY","METHOD","URI","ROWS_PROCESSED","CLIENT_IP"\n'
    rows = (
        '"RestApi","20250817111155.000","r1","00D000000000001","005000000000001","0H4Kd000000XyzA","lk1","GET","/services/data/v58.0/query","1","208.68.36.90"\n'
        '"RestApi","20250817111156.000","r2","00D000000000001","005000000000001","","lk1","POST","/services/data/v58.0/jobs/query","0","208.68.36.90"\n'
        '"RestApi","20250817111157.000","r3","00D000000000001","005000000000002","","lk2","GET","/services/data/v58.0/limits","0","10.0.0.1"\n'
    )
    ingest_all(
        store, [write(tmp_path, "RestApi.csv", header + rows)], inventory=write(tmp_path, "inv.yaml", text)
    )
    got = store.fetchall("SELECT actor_user_credential_uid, integration_id FROM events ORDER BY ingest_line")
    assert got == [("lk1", "sf-connector"), ("lk1", "sf-connector"), ("lk2", None)]


def test_unknown_identity_source_is_an_error(tmp_path: Path) -> None:
    text = INVENTORY.replace("{source: github, installation_id", "{source: githib, installation_id")
    with pytest.raises(
        ConfigError, match=r"inv.yaml:12: integrations.0.identities.0.source: unknown source 'githib'"
    ):
        load_inventory(write(tmp_path, "inv.yaml", text))


def test_source_aliases_cover_their_vendor(store: Store, tmp_path: Path) -> None:
    text = INVENTORY.replace("{source: github, installation_id", "{source: egress, installation_id")
    text = text.replace("{source: egress, src_ip: 10.20.0.0/24}", "{source: network, src_ip: 10.20.0.0/24}")
    zeek = json.dumps(
        {
            "ts": 1755429083.1,
            "uid": "C1",
            "id.orig_h": "10.20.0.15",
            "id.orig_p": 50000,
            "id.resp_h": "104.18.1.1",
            "id.resp_p": 443,
            "proto": "tcp",
            "server_name": "api.drift.com",
            "established": True,
            "_path": "ssl",
        }
    )
    ingest_all(store, [write(tmp_path, "ssl.log", zeek + "\n")], inventory=write(tmp_path, "inv.yaml", text))
    assert store.scalar("SELECT integration_id FROM events") == "drift-salesforce"


def test_human_sso_activity_is_not_a_discovered_integration(store: Store, tmp_path: Path) -> None:
    okta_sso = {
        "uuid": "e1",
        "published": "2025-08-17T11:11:23.000Z",
        "eventType": "user.authentication.sso",
        "actor": {"id": "00u1", "type": "User", "alternateId": "ana@acme.example", "displayName": "Ana"},
        "client": {"ipAddress": "198.51.100.4", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": "SUCCESS"},
        "target": [
            {
                "id": "0oa1salesforce",
                "type": "AppInstance",
                "alternateId": "Salesforce",
                "displayName": "Salesforce",
            }
        ],
    }
    grant = dict(okta_sso, uuid="e2", eventType="app.oauth2.as.consent.grant")
    ingest_all(store, [write(tmp_path, "okta.jsonl", json.dumps(okta_sso) + "\n" + json.dumps(grant) + "\n")])
    got = dict(store.fetchall("SELECT api_operation, integration_id FROM events"))
    assert got["user.authentication.sso"] is None
    assert str(got["app.oauth2.as.consent.grant"]).startswith("discovered:okta:")
