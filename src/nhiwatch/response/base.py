"""What every response action is: a described, executable change to one exact vendor object.

An :class:`Action` is built from the alert's :class:`~nhiwatch.response.targets.Targets` and a
:class:`Connection` (the collectors' settings, the environment their credentials are read from, and HTTP
options). ``describe()`` never touches the network; ``execute()`` does, and either returns an
:class:`Outcome` or raises :class:`ActionFailed` with a message fit for an analyst and an audit row (the
vendor's HTTP status, never a credential).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.targets import Targets
from nhiwatch.sources.collect import registry
from nhiwatch.sources.collect.http import HttpClient, HttpOptions, RetryPolicy
from nhiwatch.sources.collect.registry import Settings

# An action runs while an admin waits for the answer: two attempts and short waits, not a collector's patience.
ACTION_HTTP = HttpOptions(policy=RetryPolicy(attempts=2, base=0.5, cap=2.0, max_wait=10.0), timeout=20.0)


class ActionFailed(NhiwatchError):
    """The vendor refused or could not be reached; ``status`` is its HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    """What the vendor did, in words (and how many objects it touched, when that is a count)."""

    message: str
    count: int = 1


@dataclass
class Connection:
    """How actions reach the vendors: the collectors' settings (by collector name), the environment the
    credentials are read from, HTTP options, and (tests only) token sources by collector name."""

    collectors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    env: Mapping[str, str] | None = None
    http: HttpOptions = ACTION_HTTP
    tokens: Mapping[str, Callable[[bool], str]] = field(default_factory=dict)

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env

    def settings(self, collector: str) -> Settings:
        """The collector's settings, exactly as ``nhiwatch run`` builds them (config, then environment)."""
        return registry.settings(collector, self.collectors.get(collector, {}), self.environ)

    def client(self, collector: str) -> HttpClient:
        """The collector's own HTTP client: its base URL, credential and headers."""
        module = registry.module(collector)
        extra: dict[str, Any] = {"tokens": self.tokens[collector]} if collector in self.tokens else {}
        built = module.build(self.settings(collector), env=self.environ, http=self.http, **extra)
        if built.http is None:
            raise ActionFailed(f"the {collector} collector has no HTTP client")
        http: HttpClient = built.http
        return http


class Action(ABC):
    """One vendor action. Subclasses set the class attributes and the three methods."""

    id: ClassVar[str]  # "<vendor>.<verb>", the name in config allow lists, URLs and the audit log
    collector: ClassVar[str]  # whose credentials and base URL it uses
    title: ClassVar[str]  # the button's label
    permission: ClassVar[str]  # the scope / permission / role the credential needs
    doc: ClassVar[str]  # the vendor's API reference

    def __init__(self, targets: Targets, connection: Connection) -> None:
        self.targets = targets
        self.connection = connection

    @classmethod
    @abstractmethod
    def target(cls, targets: Targets) -> str | None:
        """The exact object this action changes (an id of the vendor's shape), or None if the alert does
        not name one: then the action is not offered."""

    @abstractmethod
    def describe(self) -> str:
        """What ``execute`` will do, in words, naming the exact object (no network)."""

    @abstractmethod
    def execute(self) -> Outcome:
        """Do it; :class:`ActionFailed` with a clear message when the vendor refuses."""

    @property
    def object(self) -> str:
        found = self.target(self.targets)
        if found is None:
            raise ActionFailed(f"the alert names no object {self.id} could act on")
        return found


def failed(exc: Exception, what: str) -> ActionFailed:
    """A collector error (already scrubbed of the credentials it sent) as an action failure."""
    status = getattr(exc, "status", None)
    hint = ""
    if status in (401, 403):
        hint = " (the collector's credential lacks the permission this action needs: see docs/console.md)"
    elif status == 404:
        hint = " (the vendor does not know this object: removed already, or a wrong id)"
    if isinstance(exc, NhiwatchError):
        return ActionFailed(f"{what} failed: {exc}{hint}", status)
    return ActionFailed(f"{what} failed: {type(exc).__name__}", status)
