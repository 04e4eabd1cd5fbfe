"""Cases for change awareness in new_network: vendor changes (a new client or cloud region, behaviour
unchanged) against token replays that look like them (same provider, new operations; a new hosting
provider, same operations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nhiwatch.detectors.base import Finding
from tests.detectors.cases import DAY, SINCE, Window, business, case, crm
from tests.detectors.world import World

OPS = {
    "api_operation": "GET /services/data/v59.0/query",
    "resource_type": "Account",
    "resource_name": "Account",
}
HOME = "52.10.1.5"  # AWS us-west-2 (the world's default address), ASN 16509
OTHER_REGION = "52.0.5.9"  # AWS us-east-1
VPS = "208.68.36.90"  # DigitalOcean, North Bergen


def _history(w: World, integ: str = "crm-sync", vendor: str | None = None) -> None:
    if vendor is None:
        crm(w, integ)
    else:
        w.integration(integ, vendor=vendor, tz="America/New_York", days="mon-fri", hours="08:00-19:00")
    business(w, integ, **OPS)


def vendor_change(max_dev: float = 0.3, **ctx: Any) -> Callable[[list[Finding]], bool]:
    def check(fs: list[Finding]) -> bool:
        return (
            len(fs) >= 1
            and all(f.details.get("change") == "vendor_change" and f.deviation <= max_dev for f in fs)
            and all(fs[0].details["context"].get(k) == v for k, v in ctx.items())
        )

    return check


def stays_high(min_dev: float = 0.7, **ctx: Any) -> Callable[[list[Finding]], bool]:
    def check(fs: list[Finding]) -> bool:
        return (
            len(fs) == 1
            and "change" not in fs[0].details
            and fs[0].deviation >= min_dev
            and all(fs[0].details["context"].get(k) == v for k, v in ctx.items())
        )

    return check


@case("new_network", "positive", vendor_change(network="none", behaviour="unchanged"))
def new_sdk_with_the_same_calls_is_a_vendor_change(w: World) -> Window:
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, http_request_user_agent="sync-agent-go/2.0 go1.22", **OPS)
    return SINCE, SINCE + DAY


@case("new_network", "negative", 0)
def sdk_version_upgrade_is_the_same_client(w: World) -> Window:
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, http_request_user_agent="sync-agent/1.1.3", **OPS)
    return SINCE, SINCE + DAY


@case("new_network", "positive", stays_high(network="new_provider"))
def a_known_client_version_from_a_never_seen_provider_stays_high(w: World) -> Window:
    """Look-alike: the thief copies the integration's client string; the address still gives it away."""
    return _replay_from_a_vps(w, http_request_user_agent="sync-agent/1.2")


@case("new_network", "positive", stays_high(network="none"))
def new_client_that_also_calls_new_operations_stays_high(w: World) -> Window:
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, **OPS)
    for i, obj in enumerate(("User", "Opportunity", "ContentVersion", "Case")):
        w.event(
            "crm-sync",
            w.local("crm-sync", SINCE, 14, i),
            http_request_user_agent="python-requests/2.32.4",
            api_operation="GET /services/data/v59.0/sobjects/" + obj,
            resource_type=obj,
            resource_name=obj,
        )
    return SINCE, SINCE + DAY


@case(
    "new_network",
    "positive",
    lambda fs: (
        vendor_change(network="same_provider")(fs) and "AWS us-west-2 → AWS us-east-1" in fs[0].observed
    ),
)
def same_provider_new_region_same_behaviour_is_a_vendor_change(w: World) -> Window:
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, src_endpoint_ip=OTHER_REGION, **OPS)
    return SINCE, SINCE + DAY


@case("new_network", "positive", stays_high(network="same_provider"))
def replay_from_the_same_cloud_with_new_operations_stays_high(w: World) -> Window:
    """Look-alike: the thief rents a machine in the integration's own cloud, but reads what it never read."""
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, **OPS)
    for i, obj in enumerate(("User", "Opportunity", "ContentVersion", "Case", "Lead")):
        w.event(
            "crm-sync",
            w.local("crm-sync", SINCE, 3, i),
            src_endpoint_ip=OTHER_REGION,
            api_operation="GET /services/data/v59.0/sobjects/" + obj,
            resource_type=obj,
            resource_name=obj,
        )
    return SINCE, SINCE + DAY


@case("new_network", "positive", stays_high(network="new_provider", behaviour="unchanged"))
def replay_from_a_never_seen_hosting_provider_with_the_same_calls_stays_high(w: World) -> Window:
    """Look-alike: the thief mimics the integration's calls exactly, from a VPS: the provider gives it away."""
    return _replay_from_a_vps(w)


def _replay_from_a_vps(w: World, **cols: Any) -> Window:
    """The usual day, and two of the integration's own calls from a DigitalOcean VPS."""
    _history(w)
    business(w, "crm-sync", start=SINCE, days=1, **OPS)
    for i in range(2):
        w.event(
            "crm-sync",
            w.local("crm-sync", SINCE, 11, 20 + i),
            src_endpoint_ip=VPS,
            src_endpoint_asn=14061,
            **OPS,
            **cols,
        )
    return SINCE, SINCE + DAY


@case("new_network", "negative", lambda fs: len(fs) == 5 and vendor_change()(fs))
def sdk_upgrade_across_five_integrations_of_one_vendor(w: World) -> Window:
    for i in range(5):
        _history(w, f"zap-{i}", vendor="Zapier")
        business(w, f"zap-{i}", start=SINCE, days=1, http_request_user_agent="Zapier/2.0", **OPS)
    return SINCE, SINCE + DAY


# ---- new_credential_then_anomaly -----------------------------------------------------------------


def _rotation(w: World) -> None:
    _history(w)
    w.event(
        "crm-sync",
        w.local("crm-sync", SINCE, 8),
        action_class="credential_issue",
        actor_user_credential_uid="tok-2",
        actor_user_type="user",
        on_behalf_of="vendor-support@salesforce.com",
    )


@case(
    "new_credential_then_anomaly",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].details.get("change") == "vendor_change" and fs[0].deviation <= 0.3,
)
def rotation_with_a_new_sdk_and_the_same_calls_is_a_vendor_change(w: World) -> Window:
    _rotation(w)
    business(
        w,
        "crm-sync",
        start=SINCE,
        days=1,
        http_request_user_agent="sync-agent-go/2.0 go1.22",
        actor_user_credential_uid="tok-2",
        **OPS,
    )
    return SINCE, SINCE + DAY


@case(
    "new_credential_then_anomaly",
    "positive",
    lambda fs: len(fs) == 1 and "change" not in fs[0].details and fs[0].details["new_credential_used"],
)
def new_key_used_from_new_addresses_of_the_same_cloud_stays_an_alert(w: World) -> Window:
    """Look-alike: the same calls, from a new region of the integration's own cloud, with the key just added."""
    _rotation(w)
    business(
        w,
        "crm-sync",
        start=SINCE,
        days=1,
        src_endpoint_ip=OTHER_REGION,
        actor_user_credential_uid="tok-2",
        **OPS,
    )
    return SINCE, SINCE + DAY


# ---- vendor-wide: addresses outside every published range -----------------------------------------

OWN_DC, OWN_DC_NEW = "185.199.108.10", "185.199.110.20"  # a vendor's own data centre, no cloud range


def _own_dc(w: World, n: int) -> None:
    for i in range(n):
        _history(w, f"acme-{i}", vendor="Acme")
    for r in w.rows:
        r.update(src_endpoint_ip=OWN_DC, src_endpoint_asn=None)
    for i in range(n):
        business(
            w, f"acme-{i}", start=SINCE, days=1, src_endpoint_ip=OWN_DC_NEW, src_endpoint_asn=None, **OPS
        )


@case(
    "new_network",
    "positive",
    lambda fs: (
        len(fs) == 4 and vendor_change(network="unknown")(fs) and fs[0].details["context"]["vendor_wide"]
    ),
)
def vendor_moving_its_own_addresses_for_four_integrations_is_a_vendor_change(w: World) -> Window:
    _own_dc(w, 4)
    return SINCE, SINCE + DAY


@case("new_network", "positive", lambda fs: len(fs) == 1 and "change" not in fs[0].details)
def one_integration_moving_to_unknown_addresses_is_not_excused(w: World) -> Window:
    """Look-alike: the same move on a single integration is not corroborated by the vendor's others."""
    _own_dc(w, 1)
    return SINCE, SINCE + DAY
