"""CloudTrail from S3: the trail's log files, listed by day, and optionally its S3 event notifications.

Streams:

- ``s3://<bucket>/<prefix>`` (a feed, :mod:`.s3feed`): the scopes are ``<prefix>AWSLogs/[<org id>/]
  <account>/CloudTrail/<region>/`` (accounts and regions found by listing, or given as settings); each is
  listed from the floor day's ``YYYY/MM/DD/`` with ``StartAfter``; every ``.json.gz`` not read yet is
  downloaded and ingested as ``aws.cloudtrail`` (its ``Records`` expanded by the parser). Digest and
  Insights files live beside ``CloudTrail/`` and are never listed.
- ``sqs:<queue>`` (when ``queue_url`` is set): S3 event notifications for the trail bucket, sent to SQS
  directly or through SNS (``{"Type": "Notification", "Message": ...}``), and CloudTrail's own SNS
  notice (``{"s3Bucket": ..., "s3ObjectKey": [...]}``). Each message's objects are ingested, then the
  message is deleted, only after the commit (a crash means it comes back; its objects are found read).
  Messages about another bucket, or that are not notifications, are left for the queue's dead-letter
  policy. Both streams share one record of objects read, so a file is read once either way.

Needs boto3 (``pip install 'nhiwatch[aws]'``); credentials from the standard chain, never settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from pydantic import Field, field_validator

from nhiwatch.sources.aws.s3feed import (
    AwsCalls,
    S3Objects,
    S3Settings,
    aws_secrets,
    clients,
    day_parser,
    http_url,
    list_prefixes,
    log,
    matching,
)
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.collect.feeds import Batch, Known
from nhiwatch.sources.collect.http import HttpOptions

INGESTED_AS = "aws.cloudtrail"
DAY = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/[^/]+$")
MAX_MESSAGE = 256 * 1024  # SQS's own limit


class Settings(S3Settings):
    prefix: str = Field(
        "", pattern=r"^([A-Za-z0-9!_.*'()-]+/)*$", description="the trail's S3 key prefix, ending in /"
    )
    organization_id: str | None = Field(None, pattern=r"^o-[a-z0-9]{10,32}$")
    queue_url: str | None = None
    listing: bool = True  # list the bucket (besides the queue, when there is one)
    max_object_mb: int = Field(256, ge=1, le=4096)
    wait_seconds: int = Field(1, ge=0, le=20)  # SQS long polling

    @field_validator("queue_url")
    @classmethod
    def _queue(cls, v: str | None) -> str | None:
        return http_url(v)


cloudtrail_day = day_parser(DAY)


def notified_objects(body: str) -> list[tuple[str, str]] | None:
    """(bucket, key) pairs a message announces, or None when it is no notification nhiwatch knows.

    >>> notified_objects('{"s3Bucket": "b", "s3ObjectKey": ["AWSLogs/1/x.json.gz"]}')
    [('b', 'AWSLogs/1/x.json.gz')]
    >>> notified_objects('{"Event": "s3:TestEvent", "Bucket": "b"}')
    []
    """
    try:
        doc = json.loads(body)
        if (
            isinstance(doc, dict)
            and doc.get("Type") == "Notification"
            and isinstance(doc.get("Message"), str)
        ):
            doc = json.loads(doc["Message"])  # through SNS
    except (ValueError, TypeError):
        return None
    if not isinstance(doc, dict):
        return None
    if doc.get("Event") == "s3:TestEvent":
        return []
    if isinstance(doc.get("s3Bucket"), str) and isinstance(doc.get("s3ObjectKey"), list):
        return [(doc["s3Bucket"], k) for k in doc["s3ObjectKey"] if isinstance(k, str)]
    records = doc.get("Records")
    if not isinstance(records, list):
        return None
    out = []
    for r in records:
        s3 = r.get("s3") if isinstance(r, dict) else None
        if not isinstance(s3, dict) or not str(r.get("eventName", "")).startswith("ObjectCreated"):
            continue
        bucket = (s3.get("bucket") or {}).get("name")
        key = (s3.get("object") or {}).get("key")
        if isinstance(bucket, str) and isinstance(key, str):
            out.append((bucket, unquote_plus(key)))  # event notifications URL-encode keys
    return out


@dataclass
class SqsNotifications:
    """A queue of notifications about new trail files: a feed without a floor."""

    instance: str
    object_set: str  # shared with the listing: a file is read once, whichever finds it
    listing: S3Objects
    sqs: Any
    queue_url: str
    wait_seconds: int
    settle_days: int
    prefix: str = "AWSLogs/"  # the trail's: notices about other keys of the bucket are not read
    source: str = INGESTED_AS

    def start(self, since: datetime) -> str:
        return since.date().isoformat()

    def settle(self, floor: str, started: datetime) -> tuple[str, datetime]:
        return self.listing.settle(floor, started)

    def batches(self, floor: str, known: Known) -> Iterator[Batch]:
        calls = self.listing.calls
        seen: set[str] = set()  # a message left on the queue comes back; the pass ends when only those do
        while True:
            reply = calls(
                f"ReceiveMessage {self.instance}",
                self.sqs.receive_message,
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.wait_seconds,
            )
            messages = [
                m
                for m in reply.get("Messages", [])
                if isinstance(m, dict) and str(m.get("MessageId")) not in seen
            ]
            if not messages:
                return
            for m in messages:
                seen.add(str(m.get("MessageId")))
                yield from self._message(m, known)

    def _message(self, m: dict[str, Any], known: Known) -> Iterator[Batch]:
        body, receipt = m.get("Body"), m.get("ReceiptHandle")
        if not isinstance(body, str) or not isinstance(receipt, str) or len(body) > MAX_MESSAGE:
            log.warning("%s: a message without a body or receipt handle; left on the queue", self.instance)
            return
        found = notified_objects(body)
        if found is None or any(b != self.listing.bucket for b, _ in found):
            log.warning(
                "%s: message %s is not a notification about s3://%s; left on the queue for its dead-letter policy",
                self.instance,
                str(m.get("MessageId", "?"))[:64],
                self.listing.bucket,
            )
            return

        def ack() -> None:
            self.listing.calls(
                f"DeleteMessage {self.instance}",
                self.sqs.delete_message,
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt,
            )

        wanted = []
        for _, key in found:
            scope_rest = re.sub(r"^.*?/CloudTrail/[^/]+/", "", key)
            d = cloudtrail_day(scope_rest)
            if d is not None and key.startswith(self.prefix) and key.endswith(self.listing.suffixes):
                wanted.append((key, d))
        seen = known([k for k, _ in wanted])
        new = [(k, d) for k, d in wanted if k not in seen]
        if not new:
            yield Batch(None, ack)
            return
        for i, (key, d) in enumerate(new):
            yield Batch(self.listing.item(key, d), ack if i == len(new) - 1 else None)


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    session, (s3, sqs) = clients(settings.region, settings.endpoint_url, "s3", "sqs")
    calls = AwsCalls(http)
    base = f"{settings.prefix}AWSLogs/"

    def scopes() -> list[str]:
        roots = [f"{base}{settings.organization_id}/"] if settings.organization_id else [base]
        if not settings.organization_id:  # an organization trail adds a level: AWSLogs/o-.../<account>/
            found = list_prefixes(calls, s3, settings.bucket, base)
            roots = [base, *matching(found, base, r"(o-[a-z0-9]{10,32})", ())]
        out: list[str] = []
        for root in roots:
            if settings.accounts:
                accounts = [f"{root}{a}/" for a in settings.accounts]
            else:
                accounts = matching(list_prefixes(calls, s3, settings.bucket, root), root, r"(\d{12})", ())
            for acct in accounts:
                trail = f"{acct}CloudTrail/"
                if settings.regions:
                    out += [f"{trail}{r}/" for r in settings.regions]
                else:
                    found = list_prefixes(calls, s3, settings.bucket, trail)
                    out += matching(found, trail, r"([a-z]{2}(-[a-z]+)+-\d)", ())
        return out

    instance = f"s3://{settings.bucket}/{settings.prefix}"
    listing = S3Objects(
        instance,
        INGESTED_AS,
        calls,
        s3,
        settings.bucket,
        scopes,
        lambda d: f"{d:%Y/%m/%d}/",
        cloudtrail_day,
        (".json.gz",),
        settings.max_object_mb << 20,
        settle_days=settings.settle_days,
    )
    streams: list[Any] = [listing] if settings.listing else []
    if settings.queue_url:
        name = settings.queue_url.rstrip("/").rsplit("/", 1)[-1]
        streams.append(
            SqsNotifications(
                f"sqs:{name}",
                instance,
                listing,
                sqs,
                settings.queue_url,
                settings.wait_seconds,
                settings.settle_days,
                base,
            )
        )
    collector = Collector("cloudtrail_s3", None, streams, secrets=aws_secrets(env, session))
    collector.lookback = timedelta(days=1)
    collector.on_close += [s3.close, sqs.close]
    return collector
