"""Okta System Log: API pages and one-event-per-line exports written from Okta's LogEvent schema."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, STATUSES
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine

PAGE = FIXTURES / "okta" / "system_log" / "001.json"
STREAM = FIXTURES / "okta" / "system_log" / "stream.jsonl"
TOKEN = "00Tz9yXwVuTsRqPoN1m2"
ADMIN = "jane.admin@acme.example"


def _by_op(store: Store) -> dict[str, dict[str, Any]]:
    return {str(r["api_operation"]): r for r in events(store)}


def test_api_page_maps_client_credentials_and_api_tokens(store: Store) -> None:
    report = ingest(store, [PAGE])
    assert report.stored == 4 and report.quarantined == 0
    rows = _by_op(store)
    grant = rows["app.oauth2.as.token.grant.access_token"]
    assert grant["source"] == "okta" and grant["class_uid"] == 3002
    assert grant["actor_user_type"] == "oauth_app" and grant["actor_app_uid"] == "0oa8f3k2lqXyZ1Abc5d7"
    assert grant["actor_app_name"] == "Billing Sync Service" and grant["on_behalf_of"] is None
    assert grant["action_class"] == "auth" and grant["status"] == "Success"
    assert grant["scopes"] == ["billing.invoices.read", "billing.customers.read"]
    assert grant["actor_user_credential_uid"] == "AT.q9Xw3Vb7KcR2mT5yLp8sN1dF4gH6jZ0aE"
    assert grant["src_endpoint_ip"] == "52.23.114.7" and grant["src_endpoint_asn"] == 16509
    assert grant["http_request_user_agent"] == "python-requests/2.31.0"
    assert grant["metadata_uid"] == "okta:7d3f1a52-31c4-11ef-9f0e-0b5c6d2e8a41"
    assert str(grant["time"]) == "2025-06-24 08:15:02.318000"
    failed = rows["app.oauth2.as.token.grant"]
    assert failed["status"] == "Failure" and failed["status_detail"] == "invalid_scope"
    assert failed["scopes"] == ["okta.users.manage"] and failed["src_endpoint_asn"] == 60729
    created = rows["system.api_token.create"]
    assert created["class_uid"] == 3001 and created["action_class"] == "credential_issue"
    assert created["actor_user_type"] == "api_token" and created["actor_user_credential_uid"] == TOKEN
    assert created["actor_app_name"] == "terraform-ci" and created["on_behalf_of"] == ADMIN
    assert created["resource_type"] == "Token" and created["resource_name"] == "terraform-ci"
    used = rows["group.user_membership.add"]
    assert used["actor_user_type"] == "api_token" and used["actor_user_credential_uid"] == TOKEN
    assert used["action_class"] == "admin" and used["class_uid"] == 6003
    assert used["resource_name"] == "contractor.bob@acme.example"


def test_stream_maps_consent_failures_detections_and_panther_keys(store: Store) -> None:
    report = ingest(store, [STREAM])
    assert report.stored == 7 and report.quarantined == 0
    rows = _by_op(store)
    consent = rows["app.oauth2.as.consent.grant"]
    assert consent["action_class"] == "scope_grant" and consent["actor_user_type"] == "user"
    assert consent["actor_app_uid"] == "0oa4n5p6q7R8s9T0u1v2" and consent["actor_app_name"] == "Notion Sync"
    assert consent["on_behalf_of"] == "sam.lee@acme.example"
    assert consent["scopes"] == ["openid", "profile", "email", "offline_access"]
    login = rows["user.session.start"]
    assert login["class_uid"] == 3002 and login["status"] == "Failure"
    assert login["status_detail"] == "INVALID_CREDENTIALS" and login["actor_user_type"] == "user"
    threat = rows["security.threat.detected"]
    assert threat["class_uid"] == 2004 and threat["status"] == "Failure"
    reuse = rows["app.oauth2.token.detect_reuse"]
    assert reuse["class_uid"] == 2004 and reuse["actor_user_type"] == "oauth_app"
    assert reuse["on_behalf_of"] == "sam.lee@acme.example"
    revoke = rows["system.api_token.revoke"]
    assert revoke["action_class"] == "credential_revoke" and revoke["class_uid"] == 3001
    member = rows["application.user_membership.add"]
    assert member["action_class"] == "scope_grant" and member["actor_app_name"] == "Salesforce.com"
    panther = rows["app.oauth2.token.grant.access_token"]
    assert panther["actor_app_name"] == "SCIM Provisioner" and panther["class_uid"] == 3002
    assert panther["scopes"] == ["okta.users.read", "okta.groups.read"]
    assert panther["src_endpoint_asn"] == 16509


def test_page_and_stream_of_the_same_events_are_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [PAGE])
    lines = "\n".join(json.dumps(e) for e in json.loads(PAGE.read_text())) + "\n"
    report = ingest_text(store, tmp_path, "again.jsonl", lines)
    assert report.stored == 0 and report.duplicates == 4


def test_lines_that_are_not_okta_events_are_quarantined(store: Store, tmp_path: Path) -> None:
    good = STREAM.read_text().splitlines()[0]
    no_type = '{"published": "2025-06-24T10:00:00Z", "eventType": null}'
    content = "\n".join([good, "{not json", no_type, "[1, 2]"])
    report = ingest_text(store, tmp_path, "mixed.jsonl", content + "\n", source="okta")
    assert report.stored == 1 and report.quarantined == 3
    reasons = {int(str(q["ingest_line"])): str(q["reason"]) for q in quarantine(store)}
    assert "JSON" in reasons[2] and "eventType" in reasons[3] and "wrong shape" in reasons[4]


# --- property: any well-formed event maps, garbage is quarantined ------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_event_types = st.sampled_from(
    [
        "app.oauth2.as.token.grant.access_token",
        "app.oauth2.token.grant.refresh_token",
        "app.oauth2.as.consent.grant",
        "system.api_token.create",
        "system.api_token.revoke",
        "user.session.start",
        "user.account.update_password",
        "security.threat.detected",
        "policy.lifecycle.update",
    ]
) | _text.filter(bool)
_published = st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1)).map(
    lambda d: d.isoformat(timespec="milliseconds") + "Z"
)
_debug_keys = st.sampled_from(["grantType", "grantedScopes", "requestUri"])
_asn = st.integers(-(2**40), 2**40) | _text | st.none()
_target = st.fixed_dictionaries(
    {"id": _text, "type": st.sampled_from(["Token", "AppInstance", "User", "access_token"]) | _text},
    optional={"alternateId": _text | st.none(), "displayName": _text | st.none()},
)
_event = st.fixed_dictionaries(
    {
        "uuid": st.uuids().map(str),
        "published": _published,
        "eventType": _event_types,
    },
    optional={
        "actor": st.fixed_dictionaries(
            {"id": _text, "type": st.sampled_from(["User", "PublicClientApp", "SystemPrincipal"]) | _text},
            optional={"alternateId": _text, "displayName": _text},
        ),
        "client": st.fixed_dictionaries(
            {}, optional={"ipAddress": _text, "id": _text | st.none(), "userAgent": st.none() | st.just({})}
        ),
        "outcome": st.fixed_dictionaries({"result": st.sampled_from(["SUCCESS", "FAILURE", "DENY"]) | _text}),
        "target": st.lists(_target, max_size=3) | st.none() | _text,
        "debugContext": st.fixed_dictionaries({"debugData": st.dictionaries(_debug_keys, _text)}),
        "securityContext": st.fixed_dictionaries({"asNumber": _asn}, optional={"isProxy": st.booleans()}),
        "transaction": st.fixed_dictionaries(
            {"detail": st.dictionaries(st.just("requestApiTokenId"), _text)}
        ),
    },
)


def _lower_top(e: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in e.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_event, min_size=1, max_size=6, unique_by=lambda e: e["uuid"]),
    st.booleans(),
    st.lists(_text.filter(lambda s: s.strip() and not s.strip().startswith(("{", "["))), max_size=3),
)
def test_random_well_formed_events_map_and_garbage_is_quarantined(
    batch: list[dict[str, Any]], panther: bool, garbage: list[str]
) -> None:
    lines = [json.dumps(_lower_top(e) if panther else e) for e in batch]
    lines += [g.replace("\n", " ").replace("\r", " ") for g in garbage]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "t.duckdb") as store:
        report = ingest_text(store, Path(tmp), "okta.jsonl", "\n".join(lines) + "\n", source="okta")
        assert report.stored == len(batch)
        assert report.quarantined == len(garbage)
        assert all(q["reason"] for q in quarantine(store))
        for row in events(store):
            assert row["action_class"] in ACTION_CLASSES
            assert row["actor_user_type"] in ACTOR_TYPES
            assert row["status"] in STATUSES
            assert row["class_uid"] in (2004, 3001, 3002, 6003)
