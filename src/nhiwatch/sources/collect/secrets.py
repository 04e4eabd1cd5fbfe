"""Credentials for collectors: read only from environment variables or secret files, never shown.

A credential named ``NHIWATCH_OKTA_API_TOKEN`` is read from that variable, or from the file that
``NHIWATCH_OKTA_API_TOKEN_FILE`` names (a Docker or Kubernetes secret mount); never from the config file.
:class:`Secret` keeps the value out of ``repr``, ``str`` and f-strings, and :func:`scrub` masks every known
secret (and anything the shared redaction rules recognise) in a message before it is logged, raised or
stored as a collector's last error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from nhiwatch.errors import ConfigError
from nhiwatch.redact import redact

MASK = "[redacted]"
MAX_SECRET_FILE = 64 * 1024  # a service-account key is ~2.3 KiB; anything far larger is not a credential


class Secret:
    """A credential value that does not print itself."""

    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str) -> None:
        self.name = name  # where it came from (a variable name), safe to show
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that sends it (an Authorization header, a token request)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name}={MASK})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not serialisable")


def read_secret(name: str, env: Mapping[str, str] | None = None, *, required: bool = True) -> Secret | None:
    """The credential ``name`` from the environment, or from the file ``<name>_FILE`` names.

    Setting both is refused (which one is meant?); a missing required credential names both ways to give it.
    """
    env = os.environ if env is None else env
    direct = env.get(name)
    file_name = env.get(name + "_FILE")
    if direct and file_name:
        raise ConfigError(f"both {name} and {name}_FILE are set; set one")
    if direct:
        return Secret(name, direct.strip())
    if file_name:
        path = Path(file_name)
        try:
            if path.stat().st_size > MAX_SECRET_FILE:
                raise ConfigError(f"{name}_FILE ({path}) is larger than {MAX_SECRET_FILE >> 10} KiB")
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{name}_FILE: {path} is not UTF-8 text") from None
        if not value:
            raise ConfigError(f"{name}_FILE: {path} is empty")
        return Secret(name, value)
    if required:
        raise ConfigError(f"no credential: set {name} or {name}_FILE (a file holding it)")
    return None


def scrub(text: str, secrets: Iterable[Secret | str | None] = ()) -> str:
    """``text`` with every given secret (and its parts a server may echo) masked, then the shared rules."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value or len(value) < 4:
            continue
        text = text.replace(value, MASK)
    return redact(text)
