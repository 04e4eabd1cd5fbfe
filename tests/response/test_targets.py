"""Targets: declared identities win over evidence, and no log value without the vendor's shape is offered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nhiwatch.response.registry import ACTIONS, offered
from nhiwatch.response.targets import shaped
from tests.response.conftest import targets

UNSAFE = set("/?#%\\ \t\r\n")
VENDORS = ["okta", "github", "microsoft", "salesforce", "slack", "aws"]


def test_declared_identity_wins_over_evidence() -> None:
    t = targets("okta", {"client_id": "0oaDeclared12345"}, {"actor_app_uid": "0oaSeen1234567890"})
    assert t.first(("client_id",), "actor_app_uid") == "0oaDeclared12345"
    assert targets("okta", seen={"actor_app_uid": "0oaSeen1234567890"}).first(
        ("client_id",), "actor_app_uid"
    ) == ("0oaSeen1234567890")


@given(
    vendor=st.sampled_from(VENDORS),
    value=st.text(min_size=0, max_size=80)
    | st.sampled_from(["0oa/../x12345", "12/34", "A12345/..", "a%2Fb"]),
    key=st.sampled_from(["client_id", "app_id", "token_id", "role_arn", "app_name"]),
    column=st.sampled_from(
        ["actor_app_uid", "actor_user_credential_uid", "actor_user_uid", "actor_app_name"]
    ),
)
def test_no_offered_id_can_leave_its_url_path(vendor: str, value: str, key: str, column: str) -> None:
    t = targets(vendor, {key: value}, {column: value})
    for offer in offered(t, None).values():
        if offer.id in ("salesforce.revoke_app_tokens",):  # a name sent as a bound SOQL literal, not a path
            assert not any(ord(c) < 32 for c in offer.object)
            continue
        if (
            offer.id == "aws.revoke_role_sessions"
        ):  # an ARN: its last part becomes RoleName, a boto3 parameter
            continue
        assert not (set(offer.object) & UNSAFE), (offer.id, offer.object)


@given(st.text(max_size=50))
def test_shaped_returns_only_whole_matches(value: str) -> None:
    got = shaped(value, r"[0-9]{1,5}")
    assert got is None or (got == value and got.isascii() and got.isdigit())


def test_every_action_is_offered_for_its_vendor_only() -> None:
    examples = {
        "okta": ({"client_id": "0oa1b2c3d4e5f6G7h8I9"}, {}),
        "github": ({"token_id": "4242"}, {}),
        "microsoft": (
            {},
            {
                "actor_user_uid": "5e2a9d1c-0b7f-4c1e-9a3d-2f6b8c4e1a70",
                "actor_user_credential_uid": "f0b0b335-1d71-4883-8f98-567911bfdca6",
            },
        ),
        "salesforce": ({"app_name": "Drift"}, {}),
        "slack": ({"app_id": "A0ABCDEF12"}, {}),
        "aws": ({"role_arn": "arn:aws:iam::123456789012:role/sync"}, {}),
    }
    seen: set[str] = set()
    for vendor, (declared, evidence) in examples.items():
        got = offered(targets(vendor, declared, evidence), None)
        assert got and all(a.startswith(vendor + ".") for a in got)
        seen |= set(got)
    assert seen == set(ACTIONS)
