"""Secrets for sinks, read only from environment variables or secret files, and kept out of every text.

A config names where a secret is (``token_env: SPLUNK_HEC_TOKEN`` or ``token_file: /run/secrets/hec``),
never the secret itself. :class:`Secret` never shows its value in ``repr``/``str``, and
:func:`scrub` removes known secret values from any text (errors, response bodies) before it is stored or
logged, on top of the rule-based :func:`nhiwatch.redact.redact`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nhiwatch.errors import ConfigError
from nhiwatch.redact import MASK, redact


class Secret:
    """A secret value that prints as ``[REDACTED]``."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin}: {MASK})"

    __str__ = __repr__


def resolve(sink: str, field: str, env: str | None, file: Path | None) -> Secret:
    """The secret named by ``<field>_env`` or ``<field>_file`` (the config model checks one is given)."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(f"sink {sink!r}: {field}_env names ${env}, which is not set or is empty")
        return Secret(value.strip(), f"${env}")
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"sink {sink!r}: cannot read {field}_file {file} ({reason})") from None
        if not value:
            raise ConfigError(f"sink {sink!r}: {field}_file {file} is empty")
        return Secret(value, str(file))
    raise ConfigError(f"sink {sink!r}: set {field}_env or {field}_file")


def scrub(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """``text`` without any of ``secrets`` (verbatim) and redacted by the shared rules."""
    for s in secrets:
        if s is not None and len(s.reveal()) >= 4:
            text = text.replace(s.reveal(), MASK)
    return redact(text)
