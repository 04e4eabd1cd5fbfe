"""Response guidance: the vendor's containment step naming the credential, investigation per detection."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.response import _catalog, guidance
from nhiwatch.detectors.registry import all_detectors
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.conftest import write

INVENTORY = """\
integrations:
  - id: release-pat
    name: Release token
    owner: platform@acme.example
    purpose: Publishes releases
    kind: pat
    vendor: GitHub
    identities:
      - {source: github, actor: release-bot}
"""


def _alert(
    detectors: list[str],
    *,
    kind: str = "behaviour",
    owner: str | None = "platform@acme.example",
    evidence: list[str] | None = None,
    integration: str = "release-pat",
) -> Alert:
    t = datetime(2025, 8, 17, 11, 0)
    return Alert(
        alert_id="al-test",
        kind=kind,
        integration_id=integration,
        integration_name="Release token",
        owner=owner,
        purpose="Publishes releases",
        risk_tier="high",
        data_sensitivity="internal",
        detectors=detectors,
        first_seen=t,
        last_seen=t,
        risk_score=80,
        severity="high",
        title="t",
        explanation="e",
        evidence=evidence or [],
        references={},
        finding_ids=[],
    )


@pytest.fixture
def github_store(store: Store, tmp_path: Path) -> Store:
    line = {
        "@timestamp": 1755429083000,
        "_document_id": "push-1",
        "org": "acme",
        "action": "git.push",
        "actor": "release-bot",
        "token_id": 119823,
        "repo": "acme/web",
        "programmatic_access_type": "Fine-grained personal access token",
    }
    ingest_all(
        store,
        [write(tmp_path, "gh.jsonl", json.dumps(line) + "\n")],
        inventory=write(tmp_path, "inv.yaml", INVENTORY),
    )
    return store


def test_a_github_pat_alert_says_revoke_that_token_and_whom_to_call(github_store: Store) -> None:
    r = guidance(github_store, _alert(["fan_out"], evidence=["github:push-1"]))
    assert r.contact == "platform@acme.example, who owns Release token"
    (step,) = r.contain
    assert "Revoke the personal access token 119823" in step.text
    assert step.doc.startswith("https://docs.github.com/")
    assert r.investigate == [_catalog()["investigate"]["fan_out"]]


def test_posture_is_an_inventory_task_not_an_incident(github_store: Store) -> None:
    r = guidance(github_store, _alert(["posture_ownerless"], kind="posture", owner=None))
    assert r.contain == []
    assert "inventory suggest" in r.investigate[0]
    assert r.contact.startswith("nobody owns this integration")


def test_without_a_store_or_a_known_vendor_the_step_is_generic(store: Store) -> None:
    r = guidance(None, _alert(["volume_spike"], integration="unknown-thing"))
    assert r.contain[0].text.startswith("Revoke or rotate the credential the activity used")
    assert "  " not in r.contain[0].text


def test_values_from_logs_are_redacted(github_store: Store) -> None:
    secret = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
    github_store.execute("UPDATE events SET actor_user_credential_uid = ?", [secret])
    r = guidance(github_store, _alert(["fan_out"], evidence=["github:push-1"]))
    assert secret not in r.as_text()


def test_every_detector_has_guidance_and_every_link_is_https() -> None:
    catalog = _catalog()
    for name in all_detectors():
        section = "posture" if name.startswith("posture_") else "investigate"
        assert name in catalog[section], name
    for by_kind in catalog["contain"].values():
        for steps in by_kind.values():
            for s in steps:
                assert s["step"] and (s["doc"] == "" or s["doc"].startswith("https://")), s
