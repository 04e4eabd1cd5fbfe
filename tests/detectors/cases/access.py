"""Cases for probing, scope_expansion, new_destination, new_network, new_credential_then_anomaly, consent_chain."""

from __future__ import annotations

from datetime import timedelta

from tests.detectors.cases import DAY, SINCE, Window, business, case, crm, some
from tests.detectors.world import T0, World

# ---- probing -------------------------------------------------------------------------------------


@case("probing", "positive", some())
def token_tested_until_it_works(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(12):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=3, minutes=i),
            status="Failure",
            status_detail="401 INVALID_SESSION_ID",
            api_operation=f"GET /services/data/v59.0/sobjects/{i}",
            src_endpoint_ip="208.68.36.90",
        )
    w.event("crm-sync", SINCE + timedelta(hours=3, minutes=13), src_endpoint_ip="208.68.36.90")
    return SINCE, SINCE + DAY


@case("probing", "negative", 0)
def throttled_retries_are_not_probing(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(10):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=15, seconds=30 * i),
            status="Failure",
            status_detail="429 REQUEST_LIMIT_EXCEEDED",
        )
    w.event("crm-sync", SINCE + timedelta(hours=15, minutes=6))
    return SINCE, SINCE + DAY


@case("probing", "negative", 0)
def usual_failure_shape(w: World) -> Window:
    crm(w)
    for d in range(36):  # a flaky integration: runs of three auth failures every day
        for i in range(3):
            w.event(
                "crm-sync", T0 + timedelta(days=d, hours=14, minutes=i), status="Failure", status_detail="401"
            )
        business(w, "crm-sync", start=T0 + timedelta(days=d), days=1)
    return SINCE, SINCE + DAY


@case("probing", "cold_start", some(state="learning"))
def spray_on_a_new_integration(w: World) -> Window:
    crm(w, "new-sync")
    for i in range(9):
        w.event(
            "new-sync",
            SINCE + timedelta(hours=1, minutes=i),
            status="Failure",
            status_detail="invalid_client",
        )
    w.event("new-sync", SINCE + timedelta(hours=1, minutes=10))
    return SINCE, SINCE + DAY


# ---- scope_expansion -----------------------------------------------------------------------------


@case("scope_expansion", "positive", some(basis="declared"))
def undeclared_scope_granted(w: World) -> Window:
    crm(w, scopes=["api", "refresh_token"])
    business(w, "crm-sync", scopes=["api"])
    w.event(
        "crm-sync",
        SINCE + timedelta(hours=15),
        action_class="scope_grant",
        scopes=["full", "api"],
        actor_user_type="user",
        on_behalf_of="admin@acme.io",
    )
    return SINCE, SINCE + DAY


@case("scope_expansion", "positive", lambda fs: len(fs) == 1 and "resource_type" in fs[0].details)
def new_object_types_read(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", resource_type="Account")
    for t in ("Case", "User", "Opportunity", "ContentVersion"):
        w.event("crm-sync", SINCE + timedelta(hours=14), resource_type=t, resource_name=t)
    return SINCE, SINCE + DAY


def _read_only_sync_exports(w: World) -> None:
    crm(w)
    business(w, "crm-sync", resource_type="Account", action_class="read")
    for i in range(6):
        w.event(
            "crm-sync",
            w.local("crm-sync", SINCE, 14, 5 * i),
            resource_type="Account",
            resource_name="Account",
            action_class="export",
            records=5_000,
        )


@case("scope_expansion", "positive", lambda fs: len(fs) == 1 and "action_class" in fs[0].details)
def read_only_sync_starts_exporting(w: World) -> Window:
    _read_only_sync_exports(w)
    return SINCE, SINCE + DAY


@case("scope_expansion", "negative", 0)
def audit_export_inside_its_own_change_ticket(w: World) -> Window:
    _read_only_sync_exports(w)
    w.ticket(
        "CHG-31",
        w.local("crm-sync", SINCE, 13),
        w.local("crm-sync", SINCE, 16),
        "crm-sync",
        "annual audit export",
    )
    return SINCE, SINCE + DAY


@case("scope_expansion", "negative", 0)
def same_objects_and_scopes(w: World) -> Window:
    crm(w, scopes=["api"])
    business(w, "crm-sync", days=36, scopes=["api"])
    return SINCE, SINCE + DAY


def _backup_agent(w: World) -> None:
    """A backup job whose only telemetry is its host's Zeek records, as a service account's often is."""
    w.integration("b2-backup", kind="service_account", vendor="backblaze")
    w.daily(
        "b2-backup",
        T0,
        35,
        [16],
        per_hour=4,
        source="zeek",
        class_uid=4001,
        action_class="egress",
        resource_type="network_endpoint",
        dst_endpoint_hostname="app.backblazeb2.com",
    )


@case("scope_expansion", "negative", 0)
def host_checks_a_certificate_over_http(w: World) -> Window:
    _backup_agent(w)
    w.event(
        "b2-backup",
        SINCE + timedelta(hours=16),
        source="zeek",
        class_uid=4002,
        action_class="egress",
        resource_type="url",
        dst_endpoint_hostname="ocsp.digicert.com",
    )
    return SINCE, SINCE + DAY


@case(
    "scope_expansion",
    "positive",
    # values first seen at the same time are named in name order, not in whatever order a hash table gave
    lambda fs: (
        len(fs) == 1
        and "resource_type" in fs[0].details
        and "3 new object types: application_keys, bucket_keys, users" in fs[0].observed
    ),
)
def the_same_objects_reached_through_an_api_are_judged(w: World) -> Window:
    _backup_agent(w)
    for t in ("bucket_keys", "application_keys", "users"):
        w.event("b2-backup", SINCE + timedelta(hours=16), source="backblaze", class_uid=6003, resource_type=t)
    return SINCE, SINCE + DAY


@case("scope_expansion", "cold_start", 0)
def new_integration_types_are_not_new(w: World) -> Window:
    crm(w, "new-sync")
    w.daily("new-sync", SINCE - DAY, 2, [10], per_hour=3, resource_type="Contact")
    w.event("new-sync", SINCE + timedelta(hours=12), resource_type="Lead")
    return SINCE, SINCE + DAY


# ---- new_destination -----------------------------------------------------------------------------


def _worker(w: World, allowed: tuple[str, ...] = ()) -> None:
    w.integration("etl-worker", kind="service_account", vendor="internal", allowed=allowed)
    w.daily(
        "etl-worker",
        T0,
        35,
        range(0, 24, 2),
        per_hour=3,
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="api.snowflakecomputing.com",
        traffic_bytes_out=20_000,
    )


@case("new_destination", "positive", some(basis="declared"))
def post_to_webhook_site(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="webhook.site",
        traffic_bytes_out=3_000_000,
    )
    return SINCE, SINCE + DAY


@case("new_destination", "positive", some(basis="learned"))
def never_seen_host_without_allow_list(w: World) -> Window:
    _worker(w)
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="gist.githubusercontent.com",
    )
    return SINCE, SINCE + DAY


@case("new_destination", "negative", 0)
def certificate_status_check_the_whole_fleet_makes(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    for other in ("ci-runner", "docs-sync", "backup-agent"):
        w.integration(other, kind="service_account", vendor="internal")
        w.daily(other, T0, 35, [3], per_hour=1, source="zeek", dst_endpoint_hostname="ocsp.digicert.com")
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="ocsp.digicert.com",
        traffic_bytes_out=420,
    )
    return SINCE, SINCE + DAY


@case("new_destination", "positive", some(basis="declared"))
def undeclared_host_one_other_integration_uses_is_still_judged(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    w.integration("ci-runner", kind="service_account", vendor="internal")
    w.daily("ci-runner", T0, 35, [3], per_hour=1, source="zeek", dst_endpoint_hostname="ocsp.digicert.com")
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="ocsp.digicert.com",
        traffic_bytes_out=420,
    )
    return SINCE, SINCE + DAY


@case("new_destination", "negative", 0)
def allowed_glob_matches(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="acme.eu-west-1.snowflakecomputing.com",
    )
    return SINCE, SINCE + DAY


def _graph_mailer(w: World, host: str, source: str = "microsoft") -> None:
    """A Graph mail app (its identity is an Entra app) that declares only the Graph API host."""
    w.integration(
        "graph-mailer", kind="service_principal", vendor="microsoft", allowed=("graph.microsoft.com",)
    )
    w.store.execute(
        "INSERT INTO identities (integration_id, source, key, value, priority) VALUES (?, ?, 'client_id', ?, 2)",
        ["graph-mailer", source, "0dd73fc2-9f2f-4269-8711-1754d1b2435d"],
    )
    w.daily(
        "graph-mailer",
        T0,
        35,
        [9, 13],
        per_hour=2,
        source="zeek",
        dst_endpoint_hostname="graph.microsoft.com",
    )
    w.event("graph-mailer", SINCE + timedelta(hours=9), source="zeek", dst_endpoint_hostname=host)


@case("new_destination", "negative", 0)
def token_refresh_at_its_own_platforms_login_host(w: World) -> Window:
    _graph_mailer(w, "login.microsoftonline.com")
    return SINCE, SINCE + DAY


@case("new_destination", "positive", some(basis="declared"))
def another_platforms_login_host_is_still_undeclared(w: World) -> Window:
    _graph_mailer(w, "login.salesforce.com")
    return SINCE, SINCE + DAY


@case("new_destination", "positive", some(basis="declared"))
def github_is_never_taken_for_a_token_host(w: World) -> Window:
    _graph_mailer(w, "github.com", source="github")
    return SINCE, SINCE + DAY


def _admin_job(w: World) -> None:
    """Daily admin calls, and a weekly export to whatever cloud address the bucket resolves to that week."""
    w.integration("admin-job", kind="service_account", vendor="internal")
    w.daily("admin-job", T0, 35, [6], per_hour=2, source="zeek", dst_endpoint_hostname="admin.googleapis.com")
    for week in range(5):
        for i in range(3):
            w.event(
                "admin-job",
                T0 + timedelta(days=7 * week, hours=6, minutes=31 + i),
                source="zeek",
                action_class="egress",
                dst_endpoint_hostname=f"3.246.{40 + week}.{17 * week + 5}",
            )


@case("new_destination", "negative", 0)
def weekly_run_meets_a_new_cloud_address_as_every_week(w: World) -> Window:
    _admin_job(w)
    w.daily(
        "admin-job", SINCE, 1, [6], per_hour=2, source="zeek", dst_endpoint_hostname="admin.googleapis.com"
    )
    for i in range(3):
        w.event(
            "admin-job",
            SINCE + timedelta(hours=6, minutes=31 + i),
            source="zeek",
            action_class="egress",
            dst_endpoint_hostname="3.246.99.212",
        )
    return SINCE, SINCE + DAY


@case("new_destination", "cold_start", 0)
def learning_without_allow_list(w: World) -> Window:
    w.integration("new-worker", kind="service_account", vendor="internal")
    w.daily("new-worker", SINCE - DAY, 2, [3], per_hour=3, dst_endpoint_hostname="x.example.com")
    w.event("new-worker", SINCE + timedelta(hours=5), dst_endpoint_hostname="y.example.com")
    return SINCE, SINCE + DAY


# ---- new_network ---------------------------------------------------------------------------------


@case(
    "new_network", "positive", lambda fs: len(fs) == 1 and {"ip24", "asn", "user_agent"} <= set(fs[0].details)
)
def token_replayed_from_vps(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(5):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=4, minutes=i),
            src_endpoint_ip="208.68.36.90",
            src_endpoint_asn=14061,
            http_request_user_agent="python-requests/2.32.4",
        )
    return SINCE, SINCE + DAY


@case("new_network", "negative", 0)
def churning_cloud_addresses_are_normal(w: World) -> Window:
    crm(w)
    for d in range(36):  # a SaaS calling from ever new addresses in its cloud's many prefixes
        for h in range(9, 18):
            w.event("crm-sync", T0 + timedelta(days=d, hours=h), src_endpoint_ip=f"52.{d}.{h}.7")
    return SINCE, SINCE + DAY


@case("new_network", "negative", 0)
def hosts_housekeeping_in_network_records_is_not_credential_use(w: World) -> Window:
    """Zeek HTTP records of the sync's host: apt and an OCSP check from an internal address, with clients
    the credential never used. A host's network records say nothing about where the token is used."""
    crm(w)
    business(w, "crm-sync")
    for i, (ua, host, path) in enumerate(
        [
            ("Debian APT-HTTP/1.3 (2.6.1)", "deb.debian.org", "/debian/dists/bookworm/InRelease"),
            ("curl/8.5.0", "ocsp.digicert.com", "/MFEwTzBNMEswSTAJBgUrDgMCGgUABBTrjrydRyt"),
        ]
    ):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=3, minutes=i),
            source="zeek",
            class_uid=4002,
            action_class="egress",
            src_endpoint_ip="10.20.5.220",
            src_endpoint_asn=None,
            http_request_user_agent=ua,
            dst_endpoint_hostname=host,
            api_operation="GET",
            resource_name=path,
        )
    return SINCE, SINCE + DAY


@case("new_network", "positive", some())
def the_same_new_client_on_the_api_is_credential_use(w: World) -> Window:
    """The look-alike: the same new client and an unknown address, on the CRM's API (OCSF API activity)."""
    crm(w)
    business(w, "crm-sync")
    w.event(
        "crm-sync",
        SINCE + timedelta(hours=3),
        class_uid=6003,
        src_endpoint_ip="203.0.113.9",
        src_endpoint_asn=14061,
        http_request_user_agent="curl/8.5.0",
    )
    return SINCE, SINCE + DAY


@case("new_network", "cold_start", 0)
def new_integration_has_no_network_baseline(w: World) -> Window:
    crm(w, "new-sync")
    w.event("new-sync", SINCE - timedelta(hours=5))
    w.event("new-sync", SINCE + timedelta(hours=5), src_endpoint_ip="1.2.3.4")
    return SINCE, SINCE + DAY


# ---- new_credential_then_anomaly -----------------------------------------------------------------


def _graph_app(w: World) -> None:
    w.integration("mail-archiver", kind="service_principal", vendor="microsoft", scopes=["Mail.Read"])
    w.daily(
        "mail-archiver",
        T0,
        35,
        [3],
        per_hour=6,
        source="graph",
        resource_type="message",
        resource_name="archive@acme.io",
    )


@case("new_credential_then_anomaly", "positive", some(new_credential_used=True))
def secret_added_then_mailboxes_read(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=1),
        source="entra_audit",
        action_class="credential_issue",
        actor_user_credential_uid="key-new",
        on_behalf_of="it-admin@acme.io",
        actor_user_type="user",
        api_operation="Update application – Certificates and secrets management",
    )
    for i, box in enumerate(("ceo@acme.io", "cfo@acme.io", "legal@acme.io")):
        w.event(
            "mail-archiver",
            SINCE + timedelta(hours=2, minutes=i),
            source="graph",
            actor_user_credential_uid="key-new",
            src_endpoint_ip="185.220.101.4",
            resource_type="message",
            resource_name=box,
        )
    return SINCE, SINCE + DAY


@case("new_credential_then_anomaly", "negative", 0)
def rotation_then_business_as_usual(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=1),
        source="entra_audit",
        action_class="credential_issue",
        actor_user_credential_uid="key-2",
        on_behalf_of="it-admin@acme.io",
    )
    w.daily(
        "mail-archiver",
        SINCE,
        1,
        [3],
        per_hour=6,
        source="graph",
        resource_type="message",
        resource_name="archive@acme.io",
        actor_user_credential_uid="key-2",
    )
    return SINCE, SINCE + DAY


@case("new_credential_then_anomaly", "cold_start", 0)
def credential_for_a_brand_new_app(w: World) -> Window:
    w.integration("new-app", kind="service_principal", vendor="microsoft")
    w.event(
        "new-app", SINCE + timedelta(hours=1), action_class="credential_issue", actor_user_credential_uid="k1"
    )
    w.event("new-app", SINCE + timedelta(hours=2), actor_user_credential_uid="k1", src_endpoint_ip="9.9.9.9")
    return SINCE, SINCE + DAY


# ---- consent_chain -------------------------------------------------------------------------------


@case(
    "consent_chain",
    "positive",
    lambda fs: (
        len(fs) == 1
        and fs[0].details["grantor"] == "jdoe@acme.io"
        and "full_access_as_app" in fs[0].details["privileged"]
    ),
)
def user_consents_full_mailbox_access(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=10),
        source="entra_audit",
        action_class="scope_grant",
        scopes=["full_access_as_app", "Mail.Read"],
        actor_user_type="user",
        actor_user_name="jdoe@acme.io",
        on_behalf_of="jdoe@acme.io",
        api_operation="Consent to application",
    )
    return SINCE, SINCE + DAY


@case("consent_chain", "negative", 0)
def owner_grants_the_declared_scope(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=10),
        source="entra_audit",
        action_class="scope_grant",
        scopes=["Mail.Read"],
        actor_user_type="user",
        on_behalf_of="a@x.io",
        api_operation="Consent to application",
    )
    return SINCE, SINCE + DAY


@case("consent_chain", "cold_start", some())
def consent_to_an_undeclared_app(w: World) -> Window:
    w.integration("discovered:entra_audit:app_id:1234", discovered=True, owner=None, purpose=None)
    w.event(
        "discovered:entra_audit:app_id:1234",
        SINCE + timedelta(hours=10),
        action_class="scope_grant",
        scopes=["User.Read"],
        actor_user_type="user",
        on_behalf_of="intern@acme.io",
    )
    return SINCE, SINCE + DAY


def _ci_role_applying_bucket_policy(w: World, days: int) -> None:
    w.integration("terraform-role", kind="iam_role", vendor="aws", owner=None, scopes=["AdministratorAccess"])
    for d in range(days):
        w.event(
            "terraform-role",
            T0 + timedelta(days=d, hours=3),
            source="cloudtrail",
            action_class="scope_grant",
            actor_user_name="github-actions-terraform",
            api_operation="PutBucketPolicy",
        )


@case("consent_chain", "negative", 0)
def ownerless_ci_role_reapplies_its_bucket_policy_every_night(w: World) -> Window:
    _ci_role_applying_bucket_policy(w, 36)
    return SINCE, SINCE + DAY


@case("consent_chain", "positive", some(reasons=["an app with no owner"]))
def ownerless_role_given_a_grant_it_never_had(w: World) -> Window:
    _ci_role_applying_bucket_policy(w, 35)
    w.event(
        "terraform-role",
        SINCE + timedelta(hours=3),
        source="cloudtrail",
        action_class="scope_grant",
        actor_user_name="github-actions-terraform",
        api_operation="AttachRolePolicy",
    )
    return SINCE, SINCE + DAY
