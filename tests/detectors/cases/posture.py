"""Cases for the posture checks."""

from __future__ import annotations

from datetime import timedelta

from tests.detectors.cases import DAY, SINCE, Window, business, case, crm, some
from tests.detectors.world import T0, World

# ---- posture -------------------------------------------------------------------------------------


@case(
    "posture_ownerless",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].kind == "posture" and fs[0].details["missing"] == ["owner"],
)
def integration_without_owner(w: World) -> Window:
    crm(w, "orphan-sync", owner=None)
    crm(w, "owned-sync")
    business(w, "orphan-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_ownerless", "negative", 0)
def owned_and_explained(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_ownerless", "cold_start", some(events_in_window=0))
def declared_never_seen_without_purpose(w: World) -> Window:
    crm(w, "planned", purpose=None)
    crm(w, "other")
    w.event("other", SINCE + timedelta(hours=2))
    return SINCE, SINCE + DAY


@case(
    "posture_discovered",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].details["identity"] == "app_name=shadow-exporter",
)
def shadow_app_in_the_logs(w: World) -> Window:
    w.integration("discovered:github:app_name:shadow-exporter", discovered=True, owner=None, purpose=None)
    w.store.execute(
        "UPDATE integrations SET discovered_identity = 'app_name=shadow-exporter', name = 'shadow-exporter'"
    )
    w.event("discovered:github:app_name:shadow-exporter", SINCE + timedelta(hours=1), action_class="export")
    w.store.execute(
        "UPDATE integrations SET first_seen = ?, last_seen = ?", [SINCE, SINCE + timedelta(hours=1)]
    )
    return SINCE, SINCE + DAY


@case("posture_discovered", "negative", 0)
def only_declared_integrations(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_discovered", "cold_start", 0)
def discovered_after_the_window_is_not_reported(w: World) -> Window:
    w.integration("discovered:okta:actor:later", discovered=True, owner=None)
    w.store.execute("UPDATE integrations SET first_seen = ?", [SINCE + 3 * DAY])
    crm(w)
    w.event("crm-sync", SINCE + timedelta(hours=1))
    return SINCE, SINCE + DAY


@case(
    "posture_overprivileged",
    "positive",
    lambda fs: len(fs) == 1 and set(fs[0].details["unused"]) == {"full", "delete"},
)
def write_scopes_never_used(w: World) -> Window:
    crm(w, scopes=["api", "full", "delete"])
    business(w, "crm-sync", days=36, scopes=["api"])
    return SINCE, SINCE + DAY


@case("posture_overprivileged", "negative", 0)
def every_scope_used(w: World) -> Window:
    crm(w, scopes=["api", "write:records"])
    business(w, "crm-sync", days=36, scopes=["api"])
    business(w, "crm-sync", days=36, scopes=["write:records"], action_class="write")
    return SINCE, SINCE + DAY


@case(
    "posture_overprivileged",
    "cold_start",
    lambda fs: len(fs) == 1 and fs[0].details["unused"]["api"] == "no activity at all",
)
def declared_but_never_active(w: World) -> Window:
    crm(w, "idle-app", scopes=["api"])
    crm(w)
    w.event("crm-sync", SINCE + timedelta(hours=1))
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "positive", some(state="rotated out but not revoked", credential="tok-old"))
def rotated_key_still_valid(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=3, actor_user_credential_uid="tok-old")
    business(w, "crm-sync", start=T0 + timedelta(days=3), days=33, actor_user_credential_uid="tok-new")
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "negative", 0)
def rotated_and_revoked(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=3, actor_user_credential_uid="tok-old")
    w.event(
        "crm-sync",
        T0 + timedelta(days=4),
        action_class="credential_revoke",
        actor_user_credential_uid="tok-old",
    )
    business(w, "crm-sync", start=T0 + timedelta(days=3), days=33, actor_user_credential_uid="tok-new")
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "cold_start", 0)
def fresh_credentials_are_not_stale(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", start=SINCE - 2 * DAY, days=3)
    return SINCE, SINCE + DAY
