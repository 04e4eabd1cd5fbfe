"""``nhiwatch.yaml``: the store, inventory, server, collectors, sinks and retention of ``nhiwatch run``.

Validated by pydantic with unknown keys refused, every problem reported with its file and line. The
``console_url`` and ``sinks`` keys are those of ``nhiwatch deliver --config`` (the same file serves both).
Collector settings are checked against the collector's own settings model at load time; credentials never
appear here — collectors read them from environment variables or secret files, sinks from their
``*_env`` / ``*_file`` keys. Relative paths are read from the config file's folder. ``response`` turns on
one-click response actions through the collectors' credentials (:mod:`nhiwatch.response`; off by default).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks.config import DeliveryConfig, parse_config
from nhiwatch.response.config import ResponseConfig

EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(every: str) -> int:
    m = EVERY.match(every)
    if not m:
        raise ValueError(f"must look like 30s, 5m, 1h or 1d, got {every!r}")
    value = int(m.group(1)) * UNITS[m.group(2)]
    if value < 10:
        raise ValueError(f"at least 10 seconds, got {every!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    interval: float = Field(default=2.0, gt=0, le=3600)  # the scorer's longest idle wait (new events wake it)
    proxy_headers: bool = False
    log_level: str = Field(default="info", pattern=r"^(critical|error|warning|info|debug)$")


class CollectorConfig(_Strict):
    """One collector: its name (``nhiwatch collect --list``), schedule and non-secret settings."""

    name: str
    every: str = "5m"
    max_pages: int = Field(default=100, ge=1, le=100_000)
    backfill: str | None = None  # how far back the very first run reads (default: the collector's own)
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("every", "backfill")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None:
            seconds(v)
        return v

    @model_validator(mode="after")
    def _known(self) -> CollectorConfig:
        from nhiwatch.sources.collect import registry

        if self.name not in registry.names():
            raise ValueError(f"no collector {self.name!r}; known: {', '.join(registry.names())}")
        try:
            registry.settings(self.name, self.settings)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class RetentionConfig(_Strict):
    enabled: bool = True
    raw_days: float = Field(default=35, ge=1)
    rollup_days: float = Field(default=400, ge=1)
    every: str = "1d"

    @field_validator("every")
    @classmethod
    def _every(cls, v: str) -> str:
        seconds(v)
        return v


class RunConfig(DeliveryConfig):
    """The whole file. ``console_url`` and ``sinks`` come from :class:`DeliveryConfig`."""

    store: Path = Path("nhiwatch.duckdb")
    inventory: Path | None = None
    tickets: Path | None = None
    server: ServerConfig = ServerConfig()
    collectors: list[CollectorConfig] = Field(default_factory=list)
    deliver_every: str = "1m"
    retention: RetentionConfig = RetentionConfig()
    response: ResponseConfig = ResponseConfig()  # one-click response actions: off unless enabled

    @field_validator("deliver_every")
    @classmethod
    def _every(cls, v: str) -> str:
        seconds(v)
        return v

    @model_validator(mode="after")
    def _unique_collectors(self) -> RunConfig:
        names = [c.name for c in self.collectors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"collector {', '.join(twice)} is listed twice; one entry per collector")
        return self

    def delivery(self) -> DeliveryConfig:
        return DeliveryConfig(console_url=self.console_url, sinks=self.sinks)

    def resolved(self, base: Path) -> RunConfig:
        """Paths made absolute against ``base`` (the config file's folder)."""

        def at(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else base / p)

        return self.model_copy(
            update={"store": at(self.store), "inventory": at(self.inventory), "tickets": at(self.tickets)}
        )


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate ``nhiwatch.yaml``; a :class:`ConfigError` names every problem with its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the config ({getattr(exc, 'strerror', None) or exc})") from None
    config = parse_config(
        text, str(p), RunConfig, "the config", "a mapping (store, server, collectors, sinks ...)"
    )
    return config.resolved(p.parent)


__all__ = ["CollectorConfig", "RunConfig", "load_run_config", "seconds"]
