"""AWS CloudTrail: trail files as S3 delivers them (``{"Records": [...]}``, gzip) and one event per line.

One-per-line covers CloudTrail Lake / CloudWatch Logs exports (the bare event) and EventBridge
(``{"detail-type": "AWS API Call via CloudTrail", "detail": {...}}``); the EventBridge envelope is a
second stream that reads the same mapping under ``detail``, so an event seen both ways is stored once
(both use ``eventID``).

Identity: ``userIdentity.type`` AssumedRole -> ``iam_role`` with the *role* ARN and name from
``sessionContext.sessionIssuer`` (the session name is per-call noise); IAMUser -> ``iam_user``;
AWSService -> ``aws_service`` (``invokedBy``); Root, SAMLUser, IdentityCenterUser, FederatedUser ->
``user``; WebIdentityUser (OIDC: CI runners, pods) -> ``workload``. The credential is
``accessKeyId`` (AKIA... long-term, ASIA... STS). ``sourceIPAddress`` is kept only when it is an IP
(CloudTrail also writes service names such as ``ec2.amazonaws.com`` there).

OCSF: Authentication (3002) for ConsoleLogin, AssumeRole*, GetSessionToken, GetFederationToken;
Account Change (3001) for IAM user / access key / login profile changes; API Activity (6003) else.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.sql import bigint, case, case_like, coalesce, json_list, lit, when

CREDENTIAL_ISSUE = (
    "CreateAccessKey",
    "UpdateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "CreateServiceSpecificCredential",
    "UploadSSHPublicKey",
)
CREDENTIAL_REVOKE = (
    "DeleteAccessKey",
    "DeleteLoginProfile",
    "DeleteServiceSpecificCredential",
    "DeleteSSHPublicKey",
)
SCOPE_GRANT = ("AddRoleToInstanceProfile", "CreateRole", "UpdateAssumeRolePolicy", "AddUserToGroup")
AUTH = ("ConsoleLogin", "GetSessionToken", "GetFederationToken")

# First match wins; evaluated after the exact names above.
PATTERNS: list[tuple[str, str]] = [
    ("AssumeRole%", "auth"),
    ("Attach%Policy", "scope_grant"),
    ("Put%Policy", "scope_grant"),
    ("GetObject", "read"),
    ("Get%", "read"),
    ("List%", "read"),
    ("Describe%", "read"),
    ("Head%", "read"),
    ("Delete%", "delete"),
    ("Put%", "write"),
    ("Create%", "write"),
    ("Update%", "write"),
]

IAM_ACCOUNT_CHANGE = ("%User%", "%AccessKey%", "%LoginProfile%", "%MFADevice%", "%ServiceSpecificCredential%")

IDENTITY_TYPES = {
    "AssumedRole": "iam_role",
    "IAMUser": "iam_user",
    "AWSService": "aws_service",
    "Root": "user",
    "SAMLUser": "user",
    "IdentityCenterUser": "user",
    "FederatedUser": "user",
    "WebIdentityUser": "workload",
}


def _record(r: Any) -> dict[str, Any] | None:
    if isinstance(r, dict) and isinstance(r.get("Records"), list):
        r = r["Records"][0] if r["Records"] else None
    elif isinstance(r, list):
        r = r[0] if r else None
    return r if isinstance(r, dict) else None


def _is_event(r: dict[str, Any] | None) -> bool:
    return (
        r is not None
        and "eventName" in r
        and "eventSource" in r
        and ("eventTime" in r or "eventVersion" in r)
    )


def _sniff(s: Sample) -> float:
    r = _record(s.first_record)
    if _is_event(r):
        return 0.95
    head = s.head.lstrip("\ufeff \t\r\n")[:4096]
    if r is None and head.startswith("{") and '"Records"' in head and '"eventSource"' in head:
        return 0.9  # a trail file too large to parse from its first 64 KiB
    return 0.0


def _sniff_eventbridge(s: Sample) -> float:
    r = s.first_record[0] if isinstance(s.first_record, list) and s.first_record else s.first_record
    if isinstance(r, dict) and isinstance(r.get("detail"), dict) and "detail-type" in r:
        return 0.96 if _is_event(r["detail"]) else 0.0
    return 0.0


def _fields(f: Accessor) -> dict[str, str]:
    name = f("eventName")
    id_type = f("userIdentity.type")
    issuer_arn = f("userIdentity.sessionContext.sessionIssuer.arn")
    issuer_name = f("userIdentity.sessionContext.sessionIssuer.userName")
    arn = f("userIdentity.arn")
    is_role = f"{id_type} = 'AssumedRole'"
    action_class = case(
        name,
        {
            **{n: lit("credential_issue") for n in CREDENTIAL_ISSUE},
            **{n: lit("credential_revoke") for n in CREDENTIAL_REVOKE},
            **{n: lit("scope_grant") for n in SCOPE_GRANT},
            **{n: lit("auth") for n in AUTH},
        },
        default=case_like(
            name,
            [(p, lit(c)) for p, c in PATTERNS],
            when((f"lower({f('readOnly')}) = 'true'", lit("read")), default=lit("write")),
        ),
    )
    account_change = " OR ".join(f"{name} LIKE '{p}'" for p in IAM_ACCOUNT_CHANGE)
    class_uid = when(
        (f"{action_class} = 'auth'", "3002"),
        (
            f"{f('eventSource')} = 'iam.amazonaws.com' AND {action_class} NOT IN ('read', 'auth') "
            f"AND ({account_change})",
            "3001",
        ),
        default="6003",
    )
    # The session name of an IAM Identity Center role is the person's login.
    session_name = f"nullif(split_part({arn}, '/', 3), '')"
    on_behalf_of = coalesce(
        f("userIdentity.onBehalfOf.userId"),
        when((f"{is_role} AND {issuer_name} LIKE 'AWSReservedSSO%'", session_name)),
    )
    bucket, key = f("requestParameters.bucketName"), f("requestParameters.key")
    resources_arn = f("resources[0].ARN")
    request_user, request_role = f("requestParameters.userName"), f("requestParameters.roleName")
    ip = f("sourceIPAddress")
    failed = f"({f('errorCode')} IS NOT NULL OR {f('responseElements.ConsoleLogin')} = 'Failure')"
    return {
        "time": f("eventTime"),
        "class_uid": class_uid,
        "metadata_tenant_uid": coalesce(f("recipientAccountId"), f("userIdentity.accountId")),
        "actor_user_credential_uid": coalesce(f("userIdentity.accessKeyId")),
        "actor_user_uid": when(
            (is_role, coalesce(issuer_arn, arn)),
            (f"{id_type} = 'AWSService'", f("userIdentity.invokedBy")),
            # Another account (a vendor's) calling in: its principalId differs per caller.
            (
                f"{id_type} = 'AWSAccount'",
                coalesce(f("userIdentity.accountId"), f("userIdentity.principalId")),
            ),
            default=coalesce(arn, f("userIdentity.principalId")),
        ),
        "actor_user_name": when(
            (is_role, coalesce(issuer_name, f"nullif(split_part({arn}, '/', 2), '')")),
            (f"{id_type} = 'AWSService'", f("userIdentity.invokedBy")),
            (f"{id_type} = 'Root'", coalesce(f("userIdentity.userName"), lit("root"))),
            (
                f"{id_type} = 'AWSAccount'",
                coalesce(f("userIdentity.accountId"), f("userIdentity.principalId")),
            ),
            default=coalesce(f("userIdentity.userName"), issuer_name, f("userIdentity.principalId")),
        ),
        "actor_user_type": case(id_type, {k: lit(v) for k, v in IDENTITY_TYPES.items()}, lit("unknown")),
        "on_behalf_of": on_behalf_of,
        "api_operation": name,
        "action_class": action_class,
        "status": when((failed, lit("Failure")), default=lit("Success")),
        "status_detail": when((failed, coalesce(f("errorCode"), f("errorMessage"), lit("Failure")))),
        "resource_type": when(
            (f"{bucket} IS NOT NULL AND {key} IS NOT NULL", lit("AWS::S3::Object")),
            (f"{bucket} IS NOT NULL", lit("AWS::S3::Bucket")),
            (f"{f('requestParameters.roleArn')} IS NOT NULL", lit("AWS::IAM::Role")),
            (f"{f('requestParameters.secretId')} IS NOT NULL", lit("AWS::SecretsManager::Secret")),
            (f"{resources_arn} IS NOT NULL", f("resources[0].type")),
            (f"{request_user} IS NOT NULL", lit("AWS::IAM::User")),
            (f"{request_role} IS NOT NULL", lit("AWS::IAM::Role")),
        ),
        "resource_name": coalesce(
            when((f"{key} IS NOT NULL", f"{bucket} || '/' || {key}"), default=bucket),
            f("requestParameters.roleArn"),
            f("requestParameters.secretId"),
            resources_arn,
            request_user,
            request_role,
        ),
        "scopes": when(
            (f"{f('requestParameters.policyArn')} IS NOT NULL", f"[{f('requestParameters.policyArn')}]"),
            (f"{f('requestParameters.policyName')} IS NOT NULL", f"[{f('requestParameters.policyName')}]"),
            default=json_list(f.json_value("requestParameters.secretIdList")),
        ),
        "src_endpoint_ip": when((f"regexp_full_match({ip}, '[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*')", ip)),
        "http_request_user_agent": f("userAgent"),
        "traffic_bytes_in": bigint(f("additionalEventData.bytesTransferredIn")),
        "traffic_bytes_out": bigint(f("additionalEventData.bytesTransferredOut")),
        "dst_endpoint_hostname": f("tlsDetails.clientProvidedHostHeader"),
    }


class _Under:
    """The same accessor, reading every path under a prefix (the EventBridge ``detail``)."""

    def __init__(self, inner: Accessor, prefix: str) -> None:
        self._inner = inner
        self._prefix = prefix

    def __call__(self, path: str) -> str:
        return self._inner(self._prefix + path)

    def json(self, path: str) -> str:
        return self._inner.json(self._prefix + path)

    def json_value(self, path: str) -> str:
        return self._inner.json_value(self._prefix + path)

    def elements(self, path: str, key: str) -> str:
        return self._inner.elements(self._prefix + path, key)

    @property
    def raw(self) -> str:
        return self._inner.raw


def _checks(f: Accessor) -> list[tuple[str, str]]:
    return [(f"{f('eventName')} IS NULL", "JSON of the wrong shape: a CloudTrail event needs 'eventName'")]


OCSF = {
    "API calls, data events": 6003,
    "ConsoleLogin, AssumeRole*, STS tokens": 3002,
    "IAM user/key changes": 3001,
}

SOURCES = (
    Source(
        name="aws",
        stream="cloudtrail",
        title="AWS CloudTrail",
        layout="json",
        sniff=_sniff,
        fields=_fields,
        vendor_uid=lambda f: f("eventID"),
        record_paths=("$.Records[*]",),
        checks=_checks,
        ocsf_classes=OCSF,
    ),
    Source(
        name="aws",
        stream="cloudtrail_eventbridge",
        title="AWS CloudTrail via EventBridge",
        layout="json",
        sniff=_sniff_eventbridge,
        fields=lambda f: _fields(_Under(f, "detail.")),
        vendor_uid=lambda f: f("detail.eventID"),
        checks=lambda f: _checks(_Under(f, "detail.")),
        ocsf_classes=OCSF,
    ),
)
