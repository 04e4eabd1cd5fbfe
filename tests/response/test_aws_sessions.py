"""AWS: revoking a role's sessions puts the console's AWSRevokeOlderSessions policy (moto's IAM)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from nhiwatch.response.aws_sessions import POLICY_NAME, RevokeRoleSessions
from nhiwatch.response.base import ActionFailed
from tests.response.conftest import connection, targets

ARN = "arn:aws:iam::123456789012:role/etl/payments-sync"
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    moto = pytest.importorskip("moto")
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        import boto3

        yield boto3.client("iam")


def test_revoke_puts_the_deny_older_sessions_policy(aws: Any) -> None:
    aws.create_role(RoleName="payments-sync", Path="/etl/", AssumeRolePolicyDocument=TRUST)
    action = RevokeRoleSessions(targets("aws", {"role_arn": ARN}), connection({}, {}))
    assert "payments-sync" in action.describe() and POLICY_NAME in action.describe()
    before = datetime.now(UTC).replace(microsecond=0)
    action.execute()
    doc = aws.get_role_policy(RoleName="payments-sync", PolicyName=POLICY_NAME)["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else orjson.loads(doc)
    statement = doc["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Action"] == ["*"]
    issued = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    assert datetime.strptime(issued, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) >= before


def test_an_unknown_role_is_a_clear_failure(aws: Any) -> None:
    with pytest.raises(ActionFailed, match="NoSuchEntity") as err:
        RevokeRoleSessions(targets("aws", {"role_arn": ARN}), connection({}, {})).execute()
    assert err.value.status == 404


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::123456789012:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:sts::123456789012:assumed-role/payments-sync/i-0abc",
        "payments-sync",
    ],
)
def test_service_linked_roles_users_and_sessions_are_not_offered(value: str) -> None:
    assert RevokeRoleSessions.target(targets("aws", {"role_arn": value})) is None
