"""Sink configuration: a ``sinks:`` list in YAML, validated by pydantic (unknown keys refused, errors
located by file, line and key).

Secrets appear only as ``<name>_env`` (an environment variable) or ``<name>_file`` (a file, e.g. a
Docker/Kubernetes secret), exactly one of the two. Endpoints must be ``https://`` unless they are on the
loopback interface or the sink says ``allow_http: true``: a token sent in clear is a token given away.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nhiwatch.errors import ConfigError
from nhiwatch.inventory.load import _line_of

SEVERITIES = ("low", "medium", "high", "critical")
Severity = Literal["low", "medium", "high", "critical"]
Kind = Literal["behaviour", "posture"]
M = TypeVar("M", bound=BaseModel)
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


def check_url(url: str, *, allow_http: bool, what: str = "url") -> str:
    """``url`` if it is https, or http to a loopback host (or ``allow_http``); else a ConfigError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not hold credentials; use the sink's *_env or *_file keys")
    if parts.scheme == "http" and not allow_http and not _loopback(parts.hostname):
        raise ValueError(f"{what} must use https (or set allow_http: true for a trusted network)")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SinkBase(_Model):
    name: Name
    enabled: bool = True
    min_severity: Severity = "low"
    kinds: list[Kind] | None = None  # None: every kind
    tiers: list[str] | None = None  # integration risk tiers; "unknown" matches integrations without one
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_seconds: float = Field(1.0, gt=0, le=60)
    max_backoff_seconds: float = Field(60.0, gt=0, le=3600)
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    batch_size: int = Field(100, ge=1, le=5000)
    allow_http: bool = False

    def secret_fields(self) -> tuple[str, ...]:
        return ()

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> SinkBase:
        for field in self.secret_fields():
            env, file = getattr(self, f"{field}_env"), getattr(self, f"{field}_file")
            if bool(env) == (file is not None):
                raise ValueError(f"give exactly one of {field}_env or {field}_file")
        url = getattr(self, "url", None)
        if isinstance(url, str):
            check_url(url, allow_http=self.allow_http)
        return self


class SlackSink(SinkBase):
    """Incoming webhook; its URL is the credential, so it comes from env or file only."""

    type: Literal["slack"]
    url_env: str | None = None
    url_file: Path | None = None

    def secret_fields(self) -> tuple[str, ...]:
        return ("url",)


class TeamsSink(SinkBase):
    """A Teams Workflows ("Post to a channel when a webhook request is received") URL, from env or file."""

    type: Literal["teams"]
    url_env: str | None = None
    url_file: Path | None = None

    def secret_fields(self) -> tuple[str, ...]:
        return ("url",)


class WebhookSink(SinkBase):
    type: Literal["webhook"]
    url: str
    secret_env: str | None = None
    secret_file: Path | None = None
    format: Literal["jsonl", "ocsf"] = "jsonl"
    ca_file: Path | None = None

    def secret_fields(self) -> tuple[str, ...]:
        return ("secret",)


class SplunkHecSink(SinkBase):
    type: Literal["splunk_hec"]
    url: str  # base URL, e.g. https://splunk.example.com:8088
    token_env: str | None = None
    token_file: Path | None = None
    index: str | None = None
    source: str = "nhiwatch"
    sourcetype: str = "nhiwatch:alert"
    host: str | None = None
    format: Literal["jsonl", "ocsf"] = "jsonl"
    ca_file: Path | None = None

    def secret_fields(self) -> tuple[str, ...]:
        return ("token",)


class ElasticsearchSink(SinkBase):
    type: Literal["elasticsearch"]
    url: str
    index: str = Field("nhiwatch-alerts", pattern=r"^[a-z0-9][a-z0-9._-]{0,200}$")
    api_key_env: str | None = None
    api_key_file: Path | None = None
    ca_file: Path | None = None

    def secret_fields(self) -> tuple[str, ...]:
        return ("api_key",)


class SyslogSink(SinkBase):
    type: Literal["syslog"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(6514, ge=1, le=65535)
    tls: bool = True
    ca_file: Path | None = None
    facility: int = Field(10, ge=0, le=23)  # 10 = security/authorization (authpriv)
    hostname: str | None = Field(None, pattern=r"^[!-~]{1,255}$")
    app_name: str = Field("nhiwatch", pattern=r"^[!-~]{1,48}$")

    @model_validator(mode="after")
    def _tls_or_loopback(self) -> SyslogSink:
        if not self.tls and not self.allow_http and not _loopback(self.host):
            raise ValueError("syslog without tls only to a loopback host (or set allow_http: true)")
        return self


class PagerDutySink(SinkBase):
    type: Literal["pagerduty"]
    url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key_env: str | None = None
    routing_key_file: Path | None = None
    source: str = "nhiwatch"

    def secret_fields(self) -> tuple[str, ...]:
        return ("routing_key",)


class JiraSink(SinkBase):
    type: Literal["jira"]
    url: str  # https://your-domain.atlassian.net
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")
    issue_type: str = "Task"
    api_version: Literal[2, 3] = 3
    email: str = Field(pattern=r"^[^:\s]{1,320}$")  # basic auth user: no colon, no space
    token_env: str | None = None
    token_file: Path | None = None
    labels: list[Annotated[str, Field(pattern=r"^\S{1,255}$")]] = ["nhiwatch"]

    def secret_fields(self) -> tuple[str, ...]:
        return ("token",)


class ParquetSink(SinkBase):
    """OCSF Detection Findings (class 2004) written as Parquet files under ``path`` or ``s3_uri`` (an
    Amazon Security Lake custom source location; credentials from the AWS SDK's usual chain)."""

    type: Literal["parquet"]
    path: Path | None = None
    s3_uri: str | None = Field(None, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[!-~]*)?$")
    s3_region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")

    @model_validator(mode="after")
    def _one_place(self) -> ParquetSink:
        if (self.path is None) == (self.s3_uri is None):
            raise ValueError("give exactly one of path or s3_uri")
        return self


SinkConfig = Annotated[
    SlackSink
    | TeamsSink
    | WebhookSink
    | SplunkHecSink
    | ElasticsearchSink
    | SyslogSink
    | PagerDutySink
    | JiraSink
    | ParquetSink,
    Field(discriminator="type"),
]


class DeliveryConfig(_Model):
    """The ``sinks:`` list (and where alert links point). ``nhiwatch run`` embeds the same keys."""

    console_url: str | None = None  # e.g. https://nhiwatch.example.com, for links back to alert pages
    sinks: list[SinkConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> DeliveryConfig:
        seen: set[str] = set()
        for s in self.sinks:
            if s.name in seen:
                raise ValueError(f"two sinks are named {s.name!r}; names key the delivery spool")
            seen.add(s.name)
        if self.console_url:
            check_url(self.console_url, allow_http=True, what="console_url")
        return self


def load_delivery_config(path: str | Path) -> DeliveryConfig:
    """Read and validate a YAML file with a ``sinks:`` list; a :class:`ConfigError` names every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{p}: cannot read the sink config ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    return parse_delivery_config(text, str(p))


def parse_delivery_config(text: str, where: str = "<config>") -> DeliveryConfig:
    return parse_config(text, where, DeliveryConfig)


def parse_config(
    text: str,
    where: str,
    model: type[M],
    what: str = "the sink config",
    shape: str = "a mapping with a 'sinks' list",
) -> M:
    """YAML text validated as ``model``; a :class:`ConfigError` names every problem with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{where}{at}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax'})"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}:1: {what} must be {shape}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(where, node, data, exc, what)) from None


def _describe(
    where: str, node: Any, data: dict[str, Any], exc: ValidationError, what: str = "the sink config"
) -> str:
    lines = [f"{where}: {what} is not valid ({exc.error_count()} problem(s)):"]
    for err in exc.errors(include_input=False):
        loc = list(err["loc"])
        # a tagged union puts the sink type into the location: sinks.0.slack.url_env -> sinks.0.url_env
        if len(loc) > 2 and loc[0] == "sinks" and isinstance(loc[1], int) and isinstance(loc[2], str):
            item = (data.get("sinks") or [None] * (loc[1] + 1))[loc[1]]
            if isinstance(item, dict) and item.get("type") == loc[2]:
                del loc[2]
        line = _line_of(node, loc)
        field = ".".join(str(x) for x in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo? secrets go in <name>_env or <name>_file)"
        lines.append(f"  {where}:{line}: {field}: {msg}" if line else f"  {where}: {field}: {msg}")
    return "\n".join(lines)
