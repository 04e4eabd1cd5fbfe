"""The collectors by name, and building one from settings and the environment.

Settings are non-secret (API URL, org, tenant, applications): each vendor module declares them as a
pydantic model with unknown keys refused, read from ``NHIWATCH_<VENDOR>_<SETTING>`` variables and
overridden by explicit options (``nhiwatch collect okta -o base_url=https://acme.okta.com``). Credentials
are never settings: each module reads its own from the environment or secret files (:mod:`.secrets`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.collect.http import HttpOptions

# name -> module; the order is the order of `nhiwatch collect --list`.
COLLECTORS = {
    "github": "nhiwatch.sources.github.collector",
    "okta": "nhiwatch.sources.okta.collector",
    "slack": "nhiwatch.sources.slack.collector",
    "microsoft": "nhiwatch.sources.microsoft.collector",
    "gws": "nhiwatch.sources.gws.collector",
    "salesforce": "nhiwatch.sources.salesforce.collector",
    "cloudtrail_s3": "nhiwatch.sources.aws.cloudtrail_s3",
    "security_lake": "nhiwatch.sources.aws.security_lake",
    "entra_storage": "nhiwatch.sources.microsoft.storage",
}


class Settings(BaseModel):
    """Base of every collector's settings: a typo is an error, not a silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def names() -> list[str]:
    return list(COLLECTORS)


def module(name: str) -> ModuleType:
    if name not in COLLECTORS:
        raise ConfigError(f"no collector {name!r}; known: {', '.join(COLLECTORS)}")
    return importlib.import_module(COLLECTORS[name])


def settings(name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """The collector's settings: ``NHIWATCH_<NAME>_<KEY>`` variables, then ``options`` over them."""
    env = os.environ if env is None else env
    model: type[Settings] = module(name).Settings
    prefix = f"NHIWATCH_{name.upper()}_"
    values: dict[str, Any] = {
        key: env[prefix + key.upper()] for key in model.model_fields if prefix + key.upper() in env
    }
    values.update(options)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(settings)"
            where = f"{prefix}{key.upper()} or -o {key}=..." if key in model.model_fields else f"-o {key}"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key} ({where}): {msg}")
        known = ", ".join(model.model_fields)
        raise ConfigError(f"{name} collector settings: {'; '.join(problems)} (settings: {known})") from None


def build(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    http: HttpOptions | None = None,
) -> Collector:
    """A ready collector: settings validated, credentials read, HTTP client configured."""
    env = os.environ if env is None else env
    mod = module(name)
    collector: Collector = mod.build(settings(name, options or {}, env), env=env, http=http or HttpOptions())
    return collector
