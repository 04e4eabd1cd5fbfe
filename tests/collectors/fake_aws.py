"""AWS for collector tests: moto's in-process S3 and SQS, trail files and Security Lake Parquet objects
shaped like the real ones, and faults injected into one boto3 client (botocore's ``before-call`` event
answers instead of the service: throttling, 5xx, expired credentials, a body cut short)."""

from __future__ import annotations

import copy
import gzip
import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.collectors.fakes import FIXTURES, NOW

BUCKET = "acme-cloudtrail-logs"
LAKE = "aws-security-data-lake-us-east-1-abcdefghijklmnopqrstuvwxyz1234"
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1")
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _template() -> dict[str, Any]:
    path = next((FIXTURES / "aws/cloudtrail").glob("*.json.gz"))
    return json.loads(gzip.decompress(path.read_bytes()))["Records"][0]  # type: ignore[no-any-return]


def trail_file(account: str, region: str, at: datetime, n: int, tag: str) -> tuple[str, bytes, list[str]]:
    """A CloudTrail log file as S3 holds it: its key, gzip body and the eventIDs inside."""
    base = _template()
    records, ids = [], []
    for i in range(n):
        r = copy.deepcopy(base)
        r["eventID"] = f"{tag}-{i:04d}-0000-0000-000000000000"
        r["eventTime"] = (at - timedelta(minutes=5) + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r["recipientAccountId"] = account
        r["awsRegion"] = region
        records.append(r)
        ids.append(r["eventID"])
    key = (
        f"AWSLogs/{account}/CloudTrail/{region}/{at:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{at:%Y%m%dT%H%MZ}_{secrets.token_hex(8)}.json.gz"
    )
    return key, gzip.compress(json.dumps({"Records": records}).encode()), ids


@dataclass
class Trail:
    """The objects put in the bucket, and every eventID they hold."""

    s3: Any
    keys: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def put(self, account: str, region: str, at: datetime, n: int = 5) -> str:
        key, body, ids = trail_file(account, region, at, n, f"{len(self.keys):04d}")
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.keys.append(key)
        self.ids += ids
        return key


def fill_trail(s3: Any, days: int = 1, per_day: int = 2) -> Trail:
    trail = Trail(s3)
    for d in range(days):
        day = NOW - timedelta(days=days - 1 - d)
        for account in ACCOUNTS:
            for region in REGIONS:
                for j in range(per_day):
                    trail.put(account, region, day.replace(hour=1 + j * 3, minute=5 * j))
    # Files beside the trail that are never read as events.
    s3.put_object(
        Bucket=BUCKET,
        Key=f"AWSLogs/{ACCOUNTS[0]}/CloudTrail-Digest/us-east-1/2026/11/30/d.json.gz",
        Body=b"{}",
    )
    s3.put_object(
        Bucket=BUCKET, Key=f"AWSLogs/{ACCOUNTS[0]}/CloudTrail/us-east-1/2026/11/30/readme.txt", Body=b"hi"
    )
    return trail


def lake_events(n: int, day: date, tag: str) -> list[dict[str, Any]]:
    base = json.loads((FIXTURES / "ocsf/events/security_lake.jsonl").read_text().splitlines()[0])
    out = []
    for i in range(n):
        e = copy.deepcopy(base)
        e["metadata"]["uid"] = f"{tag}-{i:05d}"
        t = datetime(day.year, day.month, day.day, 3, tzinfo=UTC) + timedelta(minutes=i)
        e["time"] = t  # Parquet holds a timestamp; OCSF JSON has epoch milliseconds
        e.pop("time_dt", None)
        out.append(e)
    return out


def parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def fault(
    client: Any, operation: str, answers: dict[int, Callable[[], tuple[Any, dict[str, Any]]]]
) -> list[int]:
    """Answer the n-th call of ``operation`` (1-based) with ``answers[n]()``; returns the call counter."""
    calls = [0]

    def before(**kwargs: Any) -> Any:
        calls[0] += 1
        make = answers.get(calls[0])
        return make() if make else None

    client.meta.events.register(
        f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", before
    )
    return calls


@dataclass
class Status:
    status_code: int


def error(
    code: str, status: int, message: str = "", headers: dict[str, str] | None = None
) -> Callable[[], Any]:
    return lambda: (
        Status(status),
        {
            "Error": {"Code": code, "Message": message or code},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        },
    )


def notification(bucket: str, key: str, *, sns: bool = False) -> str:
    from urllib.parse import quote_plus

    body = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "size": 1}},
            }
        ]
    }
    text = json.dumps(body)
    if sns:
        return json.dumps({"Type": "Notification", "MessageId": "m1", "Message": text})
    return text
