"""Helpers for the response action tests: targets as an alert would resolve them, and a connection to a
fake vendor API (pytest-httpserver) with one attempt per request and no waiting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nhiwatch.response.base import Connection
from nhiwatch.response.targets import Targets
from nhiwatch.sources.collect.http import HttpOptions, RetryPolicy

FAST = HttpOptions(policy=RetryPolicy(attempts=1, base=0, cap=0, max_wait=0), sleep=lambda s: None, timeout=5)


def targets(
    vendor: str,
    declared: Mapping[str, str] | None = None,
    seen: Mapping[str, str] | None = None,
    kind: str = "",
) -> Targets:
    return Targets("alert-1", "int-1", "Payments sync", vendor, kind, dict(declared or {}), dict(seen or {}))


def connection(
    collectors: Mapping[str, Mapping[str, Any]], env: Mapping[str, str], **tokens: Any
) -> Connection:
    return Connection(collectors, dict(env), FAST, tokens)


def no_secret_logged(caplog: Any, *secrets: str) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records)
    for s in secrets:
        assert s not in text
