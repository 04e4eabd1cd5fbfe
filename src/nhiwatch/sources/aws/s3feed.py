"""S3 for collectors: boto3 clients from the standard credential chain, calls retried like the HTTP
collectors' (throttling and 5xx waited out with backoff and full jitter), and a feed over a bucket's
day-partitioned log objects.

The feed (:class:`S3Objects`) lists each *scope* (a prefix up to the date level: ``AWSLogs/<account>/
CloudTrail/<region>/``, ``.../region=<r>/accountId=<a>/``) with ``StartAfter`` at the floor day, so a
listing never reads the history before it, and skips the objects already read (``collector_objects``):
a file delivered late into a day already listed, or one whose random name sorts before the last key
read, is still found. The floor moves to ``settle_days`` before the start of the last complete pass.

Credentials are never settings: boto3 finds them (environment, shared profile, SSO, container or
instance role); ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` and the resolved keys are masked in
every message.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import AliasChoices, Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.errors import AuthError, BadResponse, CollectError, RateLimited, RejectedRequest
from nhiwatch.sources.collect.feeds import Batch, Item, Known
from nhiwatch.sources.collect.http import RETRY_STATUS, HttpOptions
from nhiwatch.sources.collect.ratelimit import asked_wait
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import Secret

log = logging.getLogger("nhiwatch.collect")

THROTTLED = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeTooSkewed",
    }
)
REFUSED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
    }
)
MISSING = frozenset(
    {"NoSuchBucket", "NoSuchKey", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
REGION = r"[a-z]{2}(-[a-z]+)+-\d"


class S3Settings(BaseSettings):
    """What every S3 feed is configured with: the bucket, the account and region folders to read (a list or
    a comma-separated string; default: every folder found), the bucket's region, another endpoint, and how
    many days before the last complete pass the floor stays."""

    bucket: str = Field(pattern=BUCKET)
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    region: str | None = Field(None, pattern=rf"^{REGION}$", description="the bucket's AWS region")
    # An S3 / SQS endpoint other than AWS's public one (a VPC endpoint, an S3-compatible store, a test
    # fake); ``--base-url`` gives it too, as for every collector.
    endpoint_url: str | None = Field(None, validation_alias=AliasChoices("endpoint_url", "base_url"))
    settle_days: int = Field(1, ge=0, le=30)

    @field_validator("accounts", "regions", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        return tuple(s.strip() for s in v.split(",") if s.strip()) if isinstance(v, str) else v

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if not re.fullmatch(r"\d{12}", a):
                raise ValueError(f"{a!r} is not a 12-digit AWS account id")
        return v

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for r in v:
            if not re.fullmatch(REGION, r):
                raise ValueError(f"{r!r} is not an AWS region")
        return v

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return http_url(v)


def http_url(v: str | None) -> str | None:
    """A settings value that must be an http(s) URL (or unset)."""
    if v is not None and urlsplit(v).scheme not in ("https", "http"):
        raise ValueError("must be an http(s) URL")
    return v


CHUNK = 1 << 20


def aws_secrets(env: Mapping[str, str], session: Any = None) -> list[Secret]:
    """Credential values to mask: from the environment, and the keys the chain resolved."""
    found = [
        ("AWS_SECRET_ACCESS_KEY", env.get("AWS_SECRET_ACCESS_KEY")),
        ("AWS_SESSION_TOKEN", env.get("AWS_SESSION_TOKEN")),
        ("AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY")),
        ("AWS_SESSION_TOKEN", os.environ.get("AWS_SESSION_TOKEN")),
    ]
    if session is not None:
        try:
            creds = session.get_credentials()
            frozen = creds.get_frozen_credentials() if creds is not None else None
        except Exception:  # no credentials yet: the first call says so clearly
            frozen = None
        if frozen is not None:
            found += [("aws secret key", frozen.secret_key), ("aws session token", frozen.token)]
    return [Secret(name, value) for name, value in found if value]


def clients(region: str | None, endpoint_url: str | None, *services: str) -> tuple[Any, list[Any]]:
    """A boto3 session and one client per service, with botocore's own retries off (ours are counted)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError("the AWS collectors need boto3: pip install 'nhiwatch[aws]'") from None
    session = boto3.session.Session(region_name=region)
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=20, read_timeout=60)
    made = [session.client(s, endpoint_url=endpoint_url, config=config) for s in services]
    return session, made


class AwsCalls:
    """Runs boto3 calls under the collectors' retry policy; every failure becomes a worded CollectError."""

    def __init__(self, options: HttpOptions) -> None:
        self.policy = options.policy
        self._sleep = options.sleep
        self._clock = options.clock
        self._rng = options.rng
        self.requests = 0
        self.waited = 0.0

    def __call__(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        last = ""
        for attempt in range(self.policy.attempts):
            self.requests += 1
            try:
                return fn(**kwargs)
            except ClientError as exc:
                err = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
                meta = exc.response.get("ResponseMetadata", {}) if isinstance(exc.response, dict) else {}
                code = str(err.get("Code", "Unknown"))
                message = str(err.get("Message", ""))[:300]
                status = meta.get("HTTPStatusCode")
                if code in THROTTLED or status in RETRY_STATUS:
                    last = f"{code} (HTTP {status})"
                    self._backoff(attempt, meta.get("HTTPHeaders") or {}, what, last)
                    continue
                if code in REFUSED or status in (401, 403):
                    raise AuthError(
                        f"AWS refused {what}: {code}: {message} (credentials come from the standard chain: "
                        "environment, profile, SSO or role; the policy needs the permissions in docs/collectors.md)"
                    ) from None
                if code in MISSING or status == 404:
                    raise RejectedRequest(f"{what}: {code}: {message}") from None
                raise CollectError(f"{what}: {code}: {message}") from None
            except (NoCredentialsError, PartialCredentialsError):
                raise AuthError(
                    "no AWS credentials: give them through the standard chain (AWS_PROFILE, the environment, "
                    "SSO, or an instance / task role), never in the config file"
                ) from None
            except BotoCoreError as exc:  # endpoint unreachable, connection reset, a body cut short
                last = type(exc).__name__
                self._backoff(attempt, {}, what, f"network error ({last})")
                continue
        raise RateLimited(f"gave up on {what} after {self.policy.attempts} attempts ({last})")

    def _backoff(self, attempt: int, headers: Mapping[str, str], what: str, why: str) -> None:
        if attempt + 1 >= self.policy.attempts:
            return
        asked = asked_wait(httpx.Headers(dict(headers)), self._clock())
        if asked is not None and asked > self.policy.max_wait:
            raise RateLimited(f"{what}: {why}; AWS asks to wait {asked:.0f} s: the next run goes on")
        if asked is not None:
            wait = asked + self._rng() * min(1.0, asked * 0.1 + 0.1)
        else:
            wait = self._rng() * min(self.policy.cap, self.policy.base * 2**attempt)
        log.warning("%s: %s; retrying in %.1f s", what, why, wait)
        self.waited += wait
        self._sleep(wait)


def download(calls: AwsCalls, s3: Any, bucket: str, key: str, path: Path, max_bytes: int) -> None:
    """One object into ``path``, bounded; a body cut short is fetched again (the whole object)."""
    from botocore.exceptions import BotoCoreError

    def get() -> None:
        reply = s3.get_object(Bucket=bucket, Key=key)
        declared = reply.get("ContentLength")
        if isinstance(declared, int) and declared > max_bytes:
            raise BadResponse(
                f"s3://{bucket}/{key} is larger than {max_bytes >> 20} MiB (setting max_object_mb)"
            )
        size = 0
        with path.open("wb") as fh:
            for chunk in reply["Body"].iter_chunks(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise BadResponse(
                        f"s3://{bucket}/{key} is larger than {max_bytes >> 20} MiB (setting max_object_mb)"
                    )
                fh.write(chunk)
        if isinstance(declared, int) and size != declared:
            raise _Short(f"{size} of {declared} bytes")

    class _Short(BotoCoreError):
        fmt = "the body ended after {msg}"

        def __init__(self, msg: str) -> None:
            super().__init__(msg=msg)

    calls(f"GetObject s3://{bucket}/{key}", get)


def list_prefixes(calls: AwsCalls, s3: Any, bucket: str, prefix: str) -> list[str]:
    """The "folders" directly under ``prefix``."""
    out: list[str] = []
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
        if token:
            kw["ContinuationToken"] = token
        page = calls(f"ListObjectsV2 s3://{bucket}/{prefix}", s3.list_objects_v2, **kw)
        out += [p["Prefix"] for p in page.get("CommonPrefixes", []) if isinstance(p.get("Prefix"), str)]
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        if not token:
            return out


@dataclass
class S3Objects:
    """Log objects under day partitions of one or more scopes, read from a floor day."""

    instance: str
    source: str
    calls: AwsCalls
    s3: Any
    bucket: str
    scopes: Callable[[], Sequence[str]]
    day_path: Callable[[date], str]  # "2026/11/30/" or "eventDay=20261130/"
    object_day: Callable[[str], date | None]  # from the key's part after its scope; None: not a log object
    suffixes: tuple[str, ...]
    max_bytes: int
    convert: Callable[[Path, Path], None] | None = None  # e.g. Parquet -> JSON lines
    settle_days: int = 1
    spool_suffix: str = ""
    page_size: int = 1000  # keys per ListObjectsV2 answer (S3's maximum)

    def start(self, since: datetime) -> str:
        return since.date().isoformat()

    def settle(self, floor: str, started: datetime) -> tuple[str, datetime]:
        nxt = max(_day(floor), started.date() - timedelta(days=self.settle_days))
        return nxt.isoformat(), datetime(nxt.year, nxt.month, nxt.day)

    def batches(self, floor: str, known: Known) -> Iterator[Batch]:
        day = _day(floor)
        for scope in self.scopes():
            token: str | None = None
            while True:
                kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": scope, "MaxKeys": self.page_size}
                if token:
                    kw["ContinuationToken"] = token
                else:
                    kw["StartAfter"] = (scope + self.day_path(day)).rstrip("/")
                page = self.calls(f"ListObjectsV2 s3://{self.bucket}/{scope}", self.s3.list_objects_v2, **kw)
                found: list[tuple[str, date]] = []
                for obj in page.get("Contents", []):
                    key = obj.get("Key")
                    if not isinstance(key, str) or not key.endswith(self.suffixes):
                        continue
                    d = self.object_day(key[len(scope) :])
                    if d is not None and d >= day:
                        found.append((key, d))
                seen = known([k for k, _ in found])
                for key, d in found:
                    if key not in seen:
                        yield Batch(self.item(key, d), newest=datetime(d.year, d.month, d.day))
                token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
                if not token:
                    break

    def item(self, key: str, d: date) -> Item:
        def fetch(path: Path) -> None:
            if self.convert is None:
                download(self.calls, self.s3, self.bucket, key, path, self.max_bytes)
                return
            raw = path.with_name(path.name + ".raw")
            try:
                download(self.calls, self.s3, self.bucket, key, raw, self.max_bytes)
                self.convert(raw, path)
            finally:
                raw.unlink(missing_ok=True)

        name = key.rsplit("/", 1)[-1] + self.spool_suffix
        return Item(key, datetime(d.year, d.month, d.day), name, fetch)


def day_parser(pattern: re.Pattern[str]) -> Callable[[str], date | None]:
    """A parser of the day an object's key (below its scope) names, by ``pattern`` with year, month and day
    groups; None for a key of another shape or an impossible date."""

    def parse(rest: str) -> date | None:
        m = pattern.match(rest)
        if not m:
            return None
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None

    return parse


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"the stored S3 checkpoint {text!r} is not a day") from None


def matching(prefixes: Sequence[str], base: str, pattern: str, wanted: Sequence[str]) -> list[str]:
    """Sub-prefixes of ``base`` whose next part matches ``pattern`` (and is in ``wanted`` when given)."""
    out = []
    for p in prefixes:
        part = p[len(base) :].rstrip("/")
        m = re.fullmatch(pattern, part)
        if m and (not wanted or m.group(m.lastindex or 0) in wanted):
            out.append(p)
    return sorted(out)
