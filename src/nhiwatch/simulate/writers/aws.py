"""AWS CloudTrail: ``{"Records": [...]}`` gzip files per account, region and hour, in the S3 key layout."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, by_hour, iso_s, write_bytes

ACCOUNT = "111122223333"
OIDC_SUBJECT = "repo:acme/infra:ref:refs/heads/main"
REGION = "us-east-1"
PARTNER_ACCOUNTS = {"Datadog": "464622532012", "Snowflake": "210987654321", "Wiz": "197171649850"}


def _identity(e: Ev) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    if "identity" in x:
        return dict(x["identity"])
    if integ.kind == "iam_role":
        arn = integ.ids["role_arn"]
        name = arn.rsplit("/", 1)[1]
        session = x.get("session", "session")
        return {
            "type": "AssumedRole",
            "principalId": f"{integ.extra.get('role_id')}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": x.get("asia", "ASIA" + "X" * 16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": integ.extra.get("role_id"),
                    "arn": arn,
                    "accountId": ACCOUNT,
                    "userName": name,
                },
                "attributes": {"creationDate": iso_s(e.ts - 60), "mfaAuthenticated": "false"},
            },
        }
    user = integ.ids.get("actor", "svc")
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + integ.ids.get("access_key_id", "X" * 20)[4:21],
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "accountId": ACCOUNT,
        "accessKeyId": e.cred or integ.ids.get("access_key_id"),
        "userName": user,
    }


def render(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    rec: dict[str, Any] = {"eventVersion": "1.09", "userIdentity": _identity(e), "eventTime": iso_s(e.ts)}
    if e.op == "AssumeRole":
        arn = integ.ids["role_arn"]
        role_name = arn.rsplit("/", 1)[1]
        partner = PARTNER_ACCOUNTS.get(integ.vendor)
        if partner:
            caller: dict[str, Any] = {
                "type": "AWSAccount",
                "principalId": f"AIDA{ids.b62(17).upper()}",
                "accountId": partner,
            }
            name = "AssumeRole"
        else:
            caller = {
                "type": "WebIdentityUser",
                "principalId": "token.actions.githubusercontent.com:sts.amazonaws.com:" + OIDC_SUBJECT,
                "userName": "repo:acme/infra:ref:refs/heads/main",
                "identityProvider": "token.actions.githubusercontent.com",
            }
            name = "AssumeRoleWithWebIdentity"
        rec["userIdentity"] = caller
        rec.update(
            {
                "eventSource": "sts.amazonaws.com",
                "eventName": name,
                "awsRegion": REGION,
                "sourceIPAddress": e.ip,
                "userAgent": e.ua,
                "requestParameters": {
                    "roleArn": arn,
                    "roleSessionName": x.get("session", "session"),
                    "durationSeconds": 3600,
                },
                "responseElements": {
                    "credentials": {
                        "accessKeyId": x.get("asia", ""),
                        "expiration": datetime.fromtimestamp(e.ts + 3600, UTC).strftime(
                            "%b %d, %Y, %I:%M:%S %p"
                        ),
                    },
                    "assumedRoleUser": {
                        "assumedRoleId": f"{integ.extra.get('role_id')}:{x.get('session')}",
                        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{x.get('session')}",
                    },
                },
                "readOnly": True,
                "resources": [{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": arn}],
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "eventCategory": "Management",
            }
        )
    elif e.op == "credential_issue":
        rec["userIdentity"] = {
            "type": "AssumedRole",
            "principalId": "AROAADMINACME:it-admin",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin/it-admin@acme.example",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAADMINSSOSESSION1",
        }
        rec.update(
            {
                "eventSource": "iam.amazonaws.com",
                "eventName": "CreateAccessKey",
                "awsRegion": REGION,
                "sourceIPAddress": "198.51.100.10",
                "userAgent": "aws-internal/3 aws-sdk-java/1.12",
                "requestParameters": {"userName": integ.ids.get("actor")},
                "responseElements": {
                    "accessKey": {
                        "userName": integ.ids.get("actor"),
                        "accessKeyId": e.cred,
                        "status": "Active",
                        "createDate": iso_s(e.ts),
                    }
                },
                "readOnly": False,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "eventCategory": "Management",
            }
        )
    else:
        es = x.get("es", "ec2.amazonaws.com")
        s3 = es == "s3.amazonaws.com" and "key" in x
        rec.update(
            {
                "eventSource": es,
                "eventName": e.op,
                "awsRegion": REGION,
                "sourceIPAddress": e.ip,
                "userAgent": e.ua,
            }
        )
        if s3:
            bucket = e.target
            rec["requestParameters"] = {
                "bucketName": bucket,
                "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
                "key": x["key"],
            }
            rec["responseElements"] = None
            field = "bytesTransferredIn" if x.get("write") else "bytesTransferredOut"
            rec["additionalEventData"] = {field: float(e.size), "x-amz-id-2": ids.b62(40)}
            rec["resources"] = [
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{x['key']}"},
                {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ]
            rec["eventCategory"] = "Data"
            rec["managementEvent"] = False
        else:
            rec["requestParameters"] = x.get("params")
            rec["responseElements"] = None
            rec["eventCategory"] = "Management"
            rec["managementEvent"] = True
        if e.status not in (200, 0):
            rec["errorCode"] = x.get("error", "ServiceUnavailable" if e.status == 503 else "AccessDenied")
            rec["errorMessage"] = x.get(
                "error_message", "Please reduce your request rate." if e.status == 503 else "Access Denied"
            )
        rec["readOnly"] = not x.get("write", False)
        rec["eventType"] = "AwsApiCall"
        rec["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": (
                f"{e.target}.s3.{REGION}.amazonaws.com"
                if s3
                else es.replace(".amazonaws.com", f".{REGION}.amazonaws.com")
            ),
        }
    rec["requestID"] = ids.hexs(16).upper()
    rec["eventID"] = ids.guid()
    rec["recipientAccountId"] = ACCOUNT
    return rec


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    n = 0
    for hour, evs in by_hour(events):
        dt = datetime.fromtimestamp(hour * 3600, UTC)
        folder = root / "cloudtrail" / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / dt.strftime("%Y/%m/%d")
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{dt.strftime('%Y%m%dT%H%MZ')}_{ids.b62(16)}.json"
        write_bytes(folder / name, orjson.dumps({"Records": [render(e, ids) for e in evs]}), True)
        n += 1
    return n
