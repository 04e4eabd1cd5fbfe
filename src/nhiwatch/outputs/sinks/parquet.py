"""OCSF Detection Findings (class 2004) as Parquet, in a folder or in S3, laid out as Amazon Security
Lake custom sources are (``eventDay=YYYYMMDD/`` partitions), one file per delivery batch and day.

The findings are :func:`nhiwatch.outputs.ocsf.detection_finding` (the one OCSF mapping). Fields OCSF
types as JSON (``evidences[].data``) or as free objects (``unmapped``) are stored as JSON text so every
file has one stable schema. In a folder a file is written under a temporary name and renamed, so a
reader never sees half of one; in S3 each file is one ``PutObject`` (atomic by nature). S3 needs the
``aws`` extra (boto3) and takes credentials from the AWS SDK's chain (role, profile, environment), never
from the config.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from nhiwatch.errors import ConfigError
from nhiwatch.outputs.ocsf import detection_finding
from nhiwatch.outputs.sinks.base import Item, Outcome, Sink
from nhiwatch.outputs.sinks.config import ParquetSink as ParquetConfig

# S3 error codes that waiting can fix; any other (AccessDenied, NoSuchBucket ...) is dead-lettered
S3_RETRY_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


def row(item: Item) -> dict[str, Any]:
    f = detection_finding(item.alert)
    f["evidences"] = [{"data": orjson.dumps(e.get("data", {})).decode()} for e in f["evidences"]]
    f["unmapped"] = orjson.dumps({**f["unmapped"], "update_key": item.update_key}).decode()
    f["attacks"] = [
        {
            "technique": {k: str(v) for k, v in a["technique"].items() if v is not None},
            "version": a["version"],
        }
        for a in f["attacks"]
    ]
    for r in f["resources"]:
        r["owner"] = (r.get("owner") or {}).get("name")
    return f


def parquet_bytes(items: Sequence[Item]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row(it) for it in items]), buf, compression="zstd")
    return buf.getvalue()


class ParquetSink(Sink):
    config: ParquetConfig

    def __init__(self, config: ParquetConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.s3_client: Any = None
        if config.s3_uri:
            parts = urlsplit(config.s3_uri)
            self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
            self.s3()  # a missing boto3 is this sink's set-up error, not a failure of every delivery

    def s3(self) -> Any:
        if self.s3_client is None:
            try:
                import boto3
            except ImportError:
                raise ConfigError(
                    f"sink {self.name!r}: s3_uri needs boto3: pip install 'nhiwatch[aws]'"
                ) from None
            self.s3_client = boto3.client("s3", region_name=self.config.s3_region)
        return self.s3_client

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        by_day: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_day.setdefault(f"{it.alert.last_seen:%Y%m%d}", []).append(i)
        out: list[Outcome] = [Outcome.failed("not written")] * len(items)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        for day, idx in by_day.items():
            name = f"nhiwatch-findings-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            try:
                data = parquet_bytes([items[i] for i in idx])
            except (pa.ArrowException, ValueError, TypeError) as exc:
                result = Outcome.failed(self.scrub(f"cannot convert to Parquet: {exc}"))
            else:
                result = self._write(f"eventDay={day}", name, data)
            for i in idx:
                out[i] = result
        return out

    def _write(self, partition: str, name: str, data: bytes) -> Outcome:
        if self.config.path is not None:
            folder = self.config.path / partition
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, folder / name)
            except OSError as exc:
                return Outcome.again(self.scrub(f"cannot write under {folder}: {exc.strerror or exc}"))
            return Outcome.done(name)
        key = "/".join(p for p in (self.prefix, partition, name) if p)
        try:
            self.s3().put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/vnd.apache.parquet"
            )
        except Exception as exc:  # botocore's errors, without importing botocore where it is not installed
            code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
            text = self.scrub(f"s3://{self.bucket}/{key}: {type(exc).__name__}: {exc}")
            if code and code not in S3_RETRY_CODES:
                return Outcome.failed(text)
            return Outcome.again(text)
        return Outcome.done(key)
