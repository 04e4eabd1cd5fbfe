"""A local S3 (moto's server, in a thread) for the s3:// lake tests: real HTTP, pyarrow's own S3 client."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer


@dataclass(frozen=True)
class LocalS3:
    endpoint: str
    bucket: str  # a fresh bucket per test

    def url(self, prefix: str = "lake") -> str:
        return f"s3://{self.bucket}/{prefix}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> LocalS3:
    """Credentials and endpoint as a deployment sets them: the environment (the AWS chain), not a config."""
    for key, value in {
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    bucket = f"nhiwatch-{uuid.uuid4().hex[:12]}"
    pafs.S3FileSystem(
        endpoint_override=moto_endpoint, region="us-east-1", allow_bucket_creation=True
    ).create_dir(bucket)
    return LocalS3(moto_endpoint, bucket)
