"""AWS: revoke an IAM role's active sessions, as the console's "Revoke active sessions" does.

``iam:PutRolePolicy`` puts the inline policy ``AWSRevokeOlderSessions`` on the role: deny every action to
credentials whose ``aws:TokenIssueTime`` is before now. Sessions assumed later are not affected;
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html

The credentials are the AWS collectors' (boto3's standard chain: environment, profile, SSO, container or
instance role), which then need ``iam:PutRolePolicy`` on the role. A service-linked role cannot be
revoked (AWS refuses), so none is offered. The role is the ``role_arn`` the inventory declares, else the
role the CloudTrail evidence shows was assumed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, ActionFailed, Outcome
from nhiwatch.response.targets import Targets

POLICY_NAME = "AWSRevokeOlderSessions"
ROLE_ARN = r"arn:aws[a-z-]{0,20}:iam::[0-9]{12}:role/(?:[\w+=,.@-]{1,64}/){0,20}[\w+=,.@-]{1,64}"


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def revoke_policy(now: datetime) -> dict[str, Any]:
    """The console's policy: deny everything to tokens issued before ``now`` (UTC)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            }
        ],
    }


class RevokeRoleSessions(Action):
    """Deny every session of the role issued before now."""

    id: ClassVar[str] = "aws.revoke_role_sessions"
    collector: ClassVar[str] = "cloudtrail_s3"
    title: ClassVar[str] = "Revoke the role's sessions"
    permission: ClassVar[str] = "iam:PutRolePolicy on the role"
    doc: ClassVar[str] = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html"

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        arn = targets.vendor_id("aws", ROLE_ARN, ("role_arn",), "actor_user_uid")
        if arn is None or re.search(r":role/aws-service-role/", arn):
            return None
        return arn

    def describe(self) -> str:
        return (
            f"Revoke every active session of the IAM role {role_name(self.object)} ({self.object}): put the "
            f"inline policy {POLICY_NAME} on it, denying all actions to credentials issued before now "
            "(iam:PutRolePolicy). Whoever assumes the role afterwards is not affected."
        )

    def execute(self) -> Outcome:
        arn = self.object
        name = role_name(arn)
        now = datetime.now(UTC)
        try:
            from botocore.exceptions import BotoCoreError, ClientError

            from nhiwatch.sources.aws.s3feed import clients

            _, (iam,) = clients(None, None, "iam")
        except (ImportError, NhiwatchError) as exc:
            raise ActionFailed(f"revoking the sessions of role {name} failed: {exc}") from None
        try:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=POLICY_NAME,
                PolicyDocument=orjson.dumps(revoke_policy(now)).decode(),
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(err.get("Code", "Unknown"))[:80]
            hint = " (the credential needs iam:PutRolePolicy on the role)" if code == "AccessDenied" else ""
            raise ActionFailed(
                f"revoking the sessions of role {name} failed: AWS answered {code}{hint}", status
            ) from None
        except BotoCoreError as exc:
            raise ActionFailed(f"revoking the sessions of role {name} failed: {type(exc).__name__}") from None
        return Outcome(
            f"AWS now denies every session of role {name} issued before {now:%Y-%m-%d %H:%M:%S} UTC "
            f"(inline policy {POLICY_NAME})."
        )
