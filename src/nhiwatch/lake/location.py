"""Where a lake lives: a local (or mounted) directory, or ``s3://bucket/prefix`` on S3 or an S3-compatible store.

An S3 lake is reached through pyarrow's ``S3FileSystem``. Credentials come from the standard AWS chain only —
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and ``~/.aws``, web
identity, the container or instance role — never from nhiwatch's config, and a URL that carries credentials
is refused. ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) points at an S3-compatible store (MinIO, Ceph,
a local test server); ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) names the region, else the bucket's is asked.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.fs as pafs

from nhiwatch.errors import ConfigError, NhiwatchError

S3_SCHEMES = ("s3", "s3a")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
# S3 keys are at most 1024 bytes; the layout below the prefix needs room for its own names
MAX_PREFIX_BYTES = 512
_CREDENTIAL_SOURCES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class LakeLocation:
    """A lake root: ``fs`` and ``root`` (a path in ``fs``: ``/abs/dir`` or ``bucket/prefix``)."""

    url: str  # as users wrote it, normalised: the directory, or s3://bucket/prefix
    root: str
    bucket: str | None = None
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    _fs: pafs.FileSystem | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def fs(self) -> pafs.FileSystem:
        if self._fs is None:
            raise NhiwatchError(f"the lake {self.url} is not open")  # parse_lake without open_lake
        return self._fs

    @property
    def local(self) -> Path:
        """The root as a local directory (only for a local lake)."""
        if self.is_s3:
            raise NhiwatchError(f"{self.url} is not a local directory")
        return Path(self.root)

    def path(self, *parts: str) -> str:
        """A path inside the lake, in its filesystem."""
        return "/".join([self.root.rstrip("/"), *parts]) if parts else self.root

    def display(self, *parts: str) -> str:
        return "/".join([self.url.rstrip("/"), *parts]) if parts else self.url

    def hadoop_url(self, *parts: str) -> str:
        """The same place for Spark's Hadoop readers: ``s3a://bucket/prefix/...`` or the local path."""
        if not self.is_s3:
            return self.path(*parts)
        return "/".join(["s3a:/", str(self.bucket), *([self.prefix] if self.prefix else []), *parts])


def parse_lake(text: str | Path) -> LakeLocation:
    """Validate a ``--lake`` value without touching the network: a directory, or ``s3://bucket[/prefix]``."""
    s = str(text).strip()
    if not s:
        raise ConfigError("--lake is empty: pass a directory or s3://bucket/prefix")
    if "://" not in s:
        return LakeLocation(url=str(Path(s)), root=str(Path(s).absolute()))
    scheme = s.split("://", 1)[0].lower()
    if scheme not in S3_SCHEMES:
        raise ConfigError(
            f"--lake: {scheme}:// is not supported; pass a local or mounted directory or s3://bucket/prefix "
            "(ADLS and GCS: mount the container or export to a directory and copy it, see docs/spark.md)"
        )
    rest = s.split("://", 1)[1]
    netloc = rest.split("/", 1)[0]
    if "@" in netloc:  # never echo it: the part before @ may be a key
        raise ConfigError(
            "--lake: an s3:// URL must not carry credentials; they come from the AWS credential chain "
            "(environment, AWS_PROFILE, ~/.aws, instance or pod role)"
        )
    if "?" in s or "#" in s:
        raise ConfigError(f"--lake {_safe(s)!r}: an s3:// lake is s3://bucket/prefix, without ? or #")
    bucket = netloc
    if not _BUCKET.match(bucket) or ".." in bucket or ".-" in bucket or "-." in bucket or _is_ip(bucket):
        raise ConfigError(
            f"--lake {_safe(s)!r}: {_safe(bucket)!r} is not a valid S3 bucket name (3-63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit)"
        )
    prefix = rest[len(netloc) :].strip("/")
    if prefix:
        segments = prefix.split("/")
        if any(seg in ("", ".", "..") for seg in segments) or _CONTROL.search(prefix):
            raise ConfigError(
                f"--lake {_safe(s)!r}: the prefix must be plain path segments (no empty, '.' or '..' "
                "segments, backslashes or control characters)"
            )
        if len(prefix.encode()) > MAX_PREFIX_BYTES:
            raise ConfigError(f"--lake: the prefix is longer than {MAX_PREFIX_BYTES} bytes")
    url = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
    return LakeLocation(
        url=url, root=f"{bucket}/{prefix}" if prefix else bucket, bucket=bucket, prefix=prefix
    )


def open_lake(text: str | Path | LakeLocation, *, must_exist: bool = False) -> LakeLocation:
    """The lake with its filesystem; for S3, the bucket is checked so a missing one is a clear message."""
    loc = text if isinstance(text, LakeLocation) else parse_lake(text)
    if loc._fs is not None:
        return loc
    if not loc.is_s3:
        if must_exist and not loc.local.is_dir():
            raise NhiwatchError(f"the lake {loc.url} does not exist: write one with `nhiwatch export --lake`")
        return replace(loc, _fs=pafs.LocalFileSystem())
    endpoint = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "").strip()
    region = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "").strip()
    if endpoint and not re.match(r"^https?://[^\s/@]+(/[^\s]*)?$", endpoint):
        raise ConfigError(
            "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL must be an http(s) URL without credentials, "
            "such as https://minio.example.com:9000"
        )
    if not region:
        region = "us-east-1" if endpoint else _bucket_region(loc)
    try:
        fs = pafs.S3FileSystem(
            region=region,
            endpoint_override=endpoint or None,
            connect_timeout=10,
            request_timeout=60,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
        )
    except (OSError, ValueError, TypeError) as exc:
        raise NhiwatchError(f"cannot set up S3 access for {loc.url}: {_first_line(exc)}") from None
    opened = replace(loc, endpoint=endpoint or None, region=region, _fs=fs)
    with s3_errors(opened, "reach"):
        kind = fs.get_file_info(str(loc.bucket)).type
    if kind == pafs.FileType.NotFound:
        raise NhiwatchError(
            f"the bucket {loc.bucket!r} does not exist at {endpoint or 'AWS S3'} (or these credentials "
            "cannot see it); nhiwatch does not create buckets: create it, or check the name and region"
        )
    if must_exist and fs.get_file_info(loc.root).type == pafs.FileType.NotFound:
        raise NhiwatchError(f"the lake {loc.url} does not exist: write one with `nhiwatch export --lake`")
    return opened


@contextmanager
def s3_errors(loc: LakeLocation, doing: str) -> Iterator[None]:
    """Turn a storage failure into one clear line (what, where, what to check) instead of a traceback."""
    try:
        yield
    except OSError as exc:
        if not loc.is_s3:
            raise NhiwatchError(f"cannot {doing} the lake {loc.url}: {_first_line(exc)}") from None
        text = _first_line(exc)
        hint = ""
        upper = text.upper()
        if any(k in upper for k in ("ACCESS_DENIED", "ACCESSDENIED", "FORBIDDEN", "INVALIDACCESSKEY", "403")):
            hint = "access was denied: check that the AWS credentials may read and write this prefix"
        elif "NO_SUCH_BUCKET" in upper or "NOSUCHBUCKET" in upper:
            hint = f"the bucket {loc.bucket!r} does not exist"
        elif "NETWORK_CONNECTION" in upper or "COULD NOT RESOLVE" in upper or "CURLCODE" in upper:
            hint = (
                f"the S3 endpoint {loc.endpoint or 'of the region ' + str(loc.region)} could not be reached"
            )
        if not any(os.environ.get(k) for k in _CREDENTIAL_SOURCES) and not _has_aws_files():
            hint = (hint + "; " if hint else "") + (
                "no AWS credentials were found in the environment or ~/.aws (an instance or pod role may "
                "still apply); nhiwatch reads them from the standard AWS chain, never from its config"
            )
        raise NhiwatchError(
            f"cannot {doing} {loc.url}: {hint or text}" + (f" ({text})" if hint else "")
        ) from None


def _bucket_region(loc: LakeLocation) -> str:
    try:
        return str(pafs.resolve_s3_region(str(loc.bucket)))
    except (OSError, ValueError) as exc:
        text = _first_line(exc)
        if "not found" in text.lower() or "404" in text:
            raise NhiwatchError(f"the bucket {loc.bucket!r} does not exist on AWS S3") from None
        raise NhiwatchError(
            f"cannot find the region of the bucket {loc.bucket!r} ({text}); set AWS_REGION, or "
            "AWS_ENDPOINT_URL_S3 for an S3-compatible store"
        ) from None


def _has_aws_files() -> bool:
    home = Path.home() / ".aws"
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE"), os.environ.get("AWS_CONFIG_FILE")]
    return any(Path(f).is_file() for f in files if f) or (home / "credentials").is_file()


def _is_ip(bucket: str) -> bool:
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return False
    return True


def _safe(text: str) -> str:
    """User text cut short and without control characters, for a message."""
    return _CONTROL.sub("?", text)[:200]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
