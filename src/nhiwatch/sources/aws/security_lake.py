"""Amazon Security Lake: OCSF events in Parquet under a source's prefix, read by day partition.

A Security Lake source lives under ``<prefix>region=<region>/accountId=<account>/eventDay=YYYYMMDD/``:
a native source such as ``aws/CLOUD_TRAIL_MGMT/2.0/`` or ``aws/SH_FINDINGS/2.0/``, or a custom source
``ext/<name>/`` (``ext/<name>/1.0/`` in older lakes). The region and account partitions are found by
listing (or given as settings); each is a scope of the S3 feed (:mod:`.s3feed`), listed from the floor
day with ``StartAfter`` and read object by object. File names in a partition are random, so the objects
read are recorded rather than trusted to sort after the last one.

Each Parquet object is turned into JSON lines (timestamps as OCSF's epoch milliseconds) and ingested as
``ocsf.events``: classes nhiwatch reads are mapped, any other class is quarantined with its name. An
object that is not Parquet is quarantined whole, with the reason. Needs boto3 and pyarrow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from pydantic import Field

from nhiwatch.sources.aws.s3feed import (
    BUCKET,
    REGION,
    AwsCalls,
    S3Objects,
    S3Settings,
    aws_secrets,
    clients,
    day_parser,
    list_prefixes,
    matching,
)
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.collect.http import HttpOptions

INGESTED_AS = "ocsf.events"
DAY = re.compile(r"^eventDay=(\d{4})(\d{2})(\d{2})/[^/]+$")


class Settings(S3Settings):
    bucket: str = Field(pattern=BUCKET, description="aws-security-data-lake-<region>-<id>")
    prefix: str = Field(
        pattern=r"^([A-Za-z0-9!_.*'()=-]+/)+$",
        description="the source: aws/CLOUD_TRAIL_MGMT/2.0/ or ext/<name>/",
    )
    max_object_mb: int = Field(512, ge=1, le=4096)


lake_day = day_parser(DAY)


def _plain(value: Any) -> Any:
    """Parquet values as OCSF JSON has them: times in epoch milliseconds, decimals as numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        t = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(t.timestamp() * 1000)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def parquet_to_jsonl(raw: Path, out: Path) -> None:
    """OCSF Parquet as JSON lines; a file that is not Parquet becomes one line saying so (quarantined)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(raw)
        with out.open("wb") as fh:
            for batch in reader.iter_batches(batch_size=5000):
                for row in batch.to_pylist():
                    fh.write(orjson.dumps(_plain(row)) + b"\n")
    except (pa.ArrowException, OSError, ValueError) as exc:
        # One line that says why: ingest quarantines it (no OCSF class) with this text as its record.
        reason = f"not an OCSF Parquet object: {type(exc).__name__}: {str(exc)[:200]}"
        out.write_bytes(orjson.dumps({"nhiwatch_unreadable_object": reason}) + b"\n")


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    session, (s3,) = clients(settings.region, settings.endpoint_url, "s3")
    calls = AwsCalls(http)

    def scopes() -> list[str]:
        base = settings.prefix
        if settings.regions:
            regions = [f"{base}region={r}/" for r in settings.regions]
        else:
            regions = matching(
                list_prefixes(calls, s3, settings.bucket, base), base, rf"region=({REGION})", ()
            )
        out: list[str] = []
        for r in regions:
            if settings.accounts:
                out += [f"{r}accountId={a}/" for a in settings.accounts]
            else:
                out += matching(
                    list_prefixes(calls, s3, settings.bucket, r), r, r"accountId=([0-9A-Za-z-]{1,64})", ()
                )
        return out

    feed = S3Objects(
        f"s3://{settings.bucket}/{settings.prefix}",
        INGESTED_AS,
        calls,
        s3,
        settings.bucket,
        scopes,
        lambda d: f"eventDay={d:%Y%m%d}/",
        lake_day,
        (".parquet",),
        settings.max_object_mb << 20,
        convert=parquet_to_jsonl,
        settle_days=settings.settle_days,
        spool_suffix=".jsonl",
    )
    collector = Collector("security_lake", None, [feed], secrets=aws_secrets(env, session))
    collector.lookback = timedelta(days=1)
    collector.on_close.append(s3.close)
    return collector
