"""Azure Blob Storage for collectors: a container client from credentials in the environment, and calls
retried like the HTTP collectors' (429, 5xx and network errors waited out with backoff and full jitter,
``Retry-After`` / ``x-ms-retry-after-ms`` honoured).

The SDK's own retry policy is switched off (``retry_total=0``): ``StorageRetryPolicy`` never retries a
429 and ignores ``Retry-After``, and its sleeps would not go through the collectors' injectable clock.
:class:`AzureCalls` retries instead, counted and bounded by the same :class:`RetryPolicy` as every
collector; a wait longer than ``max_wait`` ends the run with the reason.

Credentials are never settings. Exactly one of:

- ``NHIWATCH_ENTRA_STORAGE_SAS_TOKEN`` — a service or account SAS (read + list on the containers);
- ``NHIWATCH_ENTRA_STORAGE_ACCOUNT_KEY`` — the storage account's key (sent only as a SharedKey HMAC);
- ``NHIWATCH_ENTRA_STORAGE_CONNECTION_STRING`` — with ``AccountKey`` or ``SharedAccessSignature``;
- a service principal or workload identity through azure-identity's ``EnvironmentCredential``
  (``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET`` or
  ``AZURE_CLIENT_CERTIFICATE_PATH``), holding *Storage Blob Data Reader* on the account or containers.

Each nhiwatch variable may instead name a file (``..._FILE``). Every value, and the SAS signature alone
(raw and URL-decoded), is masked in every message; the SDK's request logging is off.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.errors import AuthError, CollectError, RateLimited, RejectedRequest
from nhiwatch.sources.collect.http import RETRY_STATUS, HttpOptions
from nhiwatch.sources.collect.ratelimit import asked_wait
from nhiwatch.sources.collect.secrets import Secret, read_secret, scrub

log = logging.getLogger("nhiwatch.collect")

SAS_ENV = "NHIWATCH_ENTRA_STORAGE_SAS_TOKEN"
KEY_ENV = "NHIWATCH_ENTRA_STORAGE_ACCOUNT_KEY"
CONNECTION_ENV = "NHIWATCH_ENTRA_STORAGE_CONNECTION_STRING"
IDENTITY_ENV = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
BUSY = frozenset({"ServerBusy", "OperationTimedOut", "InternalError"})
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SIG = re.compile(r"(sig=)[^&\s\"']+", re.IGNORECASE)


class _MaskSignatures(logging.Filter):
    """urllib3 logs each request line at DEBUG, SAS signature included: masked before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "sig=" in text.lower():
            record.msg, record.args = SIG.sub(r"\1[redacted]", text), None
        return True


_MASK = _MaskSignatures()


def mask_transport_logs() -> None:
    for name in ("urllib3.connectionpool", "azure.core.pipeline.policies.http_logging_policy"):
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)


@dataclass(frozen=True)
class Credential:
    """What the SDK is given, the variable it came from (safe to show), and every value to mask."""

    sdk: Any  # None for an account key: it signs for an account named only once the URL is known
    origin: str
    secrets: list[Secret | str | None]
    account_url: str | None = None  # a connection string's endpoint
    key: str | None = field(default=None, repr=False)
    key_account: str | None = None  # a connection string's AccountName

    def for_account(self, account_url: str, explicit: str | None) -> Any:
        """The SDK credential; an account key is bound to ``explicit``, the connection string's
        account, or the account the URL names."""
        if self.key is None:
            return self.sdk
        from azure.core.credentials import AzureNamedKeyCredential

        name = explicit or self.key_account or account_name(account_url, None)
        if not name:
            raise ConfigError("an account key needs the account name: set the setting account_name")
        return AzureNamedKeyCredential(name, self.key)


def account_name(account_url: str, explicit: str | None) -> str:
    """The account a SharedKey signs for: ``acct`` of ``https://acct.blob.core.windows.net`` or of a
    path-style URL (``http://127.0.0.1:10000/acct``, Azurite's), unless given."""
    if explicit:
        return explicit
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    if host in LOOPBACK or host.replace(".", "").isdigit():
        first = parts.path.strip("/").split("/", 1)[0]
        if first:
            return first
    return host.split(".", 1)[0]


def check_url(url: str) -> str:
    """An https account URL, or http to this machine only (Azurite, a test fake): a SAS would travel in
    the clear."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.query:
        raise ValueError("must be an https URL with a host and no query (the credential is not part of it)")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ValueError("plain http is allowed only for a loopback host (Azurite); use https")
    return url.rstrip("/")


def _connection(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
    return out


def credential(env: Mapping[str, str]) -> Credential:
    """The one credential the environment gives; two, or none, is a clear error naming the variables."""
    sas = read_secret(SAS_ENV, env, required=False)
    key = read_secret(KEY_ENV, env, required=False)
    conn = read_secret(CONNECTION_ENV, env, required=False)
    given = [s for s in (sas, key, conn) if s is not None]
    identity = bool(env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"))
    if len(given) > 1:
        raise ConfigError(f"set one storage credential, not {' and '.join(s.name for s in given)}")
    if sas is not None:
        token = sas.reveal().lstrip("?")
        return Credential(_sas(token), SAS_ENV, [sas, *_sas_parts(token)])
    if key is not None:
        return Credential(None, KEY_ENV, [key], key=key.reveal())
    if conn is not None:
        fields = _connection(conn.reveal())
        url = fields.get("blobendpoint")
        if not url and fields.get("accountname"):
            proto = fields.get("defaultendpointsprotocol", "https")
            url = f"{proto}://{fields['accountname']}.blob.{fields.get('endpointsuffix', 'core.windows.net')}"
        if fields.get("sharedaccesssignature"):
            token = fields["sharedaccesssignature"].lstrip("?")
            return Credential(_sas(token), CONNECTION_ENV, [conn, *_sas_parts(token)], url)
        if fields.get("accountkey"):
            return Credential(
                None,
                CONNECTION_ENV,
                [conn, Secret("AccountKey", fields["accountkey"])],
                url,
                key=fields["accountkey"],
                key_account=fields.get("accountname"),
            )
        raise ConfigError(f"{CONNECTION_ENV} has neither AccountKey nor SharedAccessSignature")
    if identity:
        try:
            from azure.identity import EnvironmentCredential
        except ImportError:
            raise ConfigError(
                "a service principal for Azure Storage needs azure-identity: pip install 'nhiwatch[azure]'"
            ) from None
        values: list[Secret | str | None] = [Secret(n, env[n]) for n in IDENTITY_ENV if env.get(n)]
        return Credential(EnvironmentCredential(), "AZURE_CLIENT_ID (EnvironmentCredential)", values)
    raise ConfigError(
        f"no Azure Storage credential: set {SAS_ENV}, {KEY_ENV} or {CONNECTION_ENV} (or one of them with "
        "_FILE), or AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET for a service principal"
    )


def _sas(token: str) -> Any:
    from azure.core.credentials import AzureSasCredential

    return AzureSasCredential(token)


def _sas_parts(token: str) -> list[Secret]:
    """The signature of a SAS, as written and URL-decoded: a server or SDK may echo either."""
    out: list[Secret] = []
    for part in token.split("&"):
        if part.startswith("sig="):
            sig = part[4:]
            out += [Secret("SAS signature", sig), Secret("SAS signature", unquote(sig))]
    return out


def container_client(account_url: str, container: str, sdk_credential: Any, *, timeout: float) -> Any:
    mask_transport_logs()
    try:
        from azure.storage.blob import ContainerClient
    except ImportError:
        raise ConfigError(
            "the Azure Storage collector needs azure-storage-blob: pip install 'nhiwatch[azure]'"
        ) from None
    return ContainerClient(
        account_url,
        container,
        credential=sdk_credential,
        retry_total=0,  # ours: see the module docstring
        connection_timeout=20,
        read_timeout=timeout,
        logging_enable=False,
    )


class AzureCalls:
    """Runs SDK calls under the collectors' retry policy; every failure becomes a worded CollectError."""

    def __init__(self, options: HttpOptions, secrets: list[Secret | str | None]) -> None:
        self.policy = options.policy
        self._sleep = options.sleep
        self._clock = options.clock
        self._rng = options.rng
        self.secrets = secrets
        self.requests = 0
        self.waited = 0.0

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def __call__(self, what: str, fn: Callable[[], Any]) -> Any:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            IncompleteReadError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        last = ""
        for attempt in range(self.policy.attempts):
            self.requests += 1
            try:
                return fn()
            except ResourceNotFoundError as exc:
                raise RejectedRequest(
                    self.scrub(f"{what}: not found ({_code(exc)}): {_first(exc)}")
                ) from None
            except ClientAuthenticationError as exc:
                if getattr(exc, "status_code", None) is None:  # the token request itself failed
                    raise AuthError(self.scrub(f"{what}: could not get a token: {_first(exc)}")) from None
                raise AuthError(
                    self.scrub(
                        f"Azure Storage refused {what}: HTTP {exc.status_code} {_code(exc)}: {_first(exc)} "
                        "(the credential needs read and list on the containers: Storage Blob Data Reader)"
                    )
                ) from None
            except IncompleteReadError as exc:  # a body cut short: asked again whole
                last = type(exc).__name__
                self._backoff(attempt, {}, what, f"network error ({last})")
                continue
            except HttpResponseError as exc:
                status = exc.status_code
                code = _code(exc)
                if status is None:  # no answer to read: the connection broke mid-body
                    last = "network error (the body was cut short)"
                    self._backoff(attempt, {}, what, last)
                    continue
                if status in RETRY_STATUS or code in BUSY:
                    last = f"HTTP {status} {code}"
                    headers = getattr(exc.response, "headers", None) or {}
                    self._backoff(attempt, headers, what, last)
                    continue
                if status == 403:
                    raise AuthError(
                        self.scrub(f"Azure Storage refused {what}: HTTP 403 {code}: {_first(exc)}")
                    ) from None
                if status in (400, 404, 410, 416):
                    raise RejectedRequest(
                        self.scrub(f"{what}: HTTP {status} {code}: {_first(exc)}")
                    ) from None
                raise CollectError(self.scrub(f"{what}: HTTP {status} {code}: {_first(exc)}")) from None
            except (ServiceRequestError, ServiceResponseError) as exc:  # unreachable, reset, cut short
                last = type(exc).__name__
                self._backoff(attempt, {}, what, f"network error ({last})")
                continue
        raise RateLimited(self.scrub(f"gave up on {what} after {self.policy.attempts} attempts ({last})"))

    def _backoff(self, attempt: int, headers: Mapping[str, str], what: str, why: str) -> None:
        if attempt + 1 >= self.policy.attempts:
            return
        asked = _asked(headers, self._clock())
        if asked is not None and asked > self.policy.max_wait:
            raise RateLimited(
                self.scrub(f"{what}: {why}; Azure asks to wait {asked:.0f} s: the next run goes on")
            )
        if asked is not None:
            wait = asked + self._rng() * min(1.0, asked * 0.1 + 0.1)
        else:
            wait = self._rng() * min(self.policy.cap, self.policy.base * 2**attempt)
        log.warning("%s: %s; retrying in %.1f s", self.scrub(what), why, wait)
        self.waited += wait
        self._sleep(wait)


def _asked(headers: Mapping[str, str], now: float) -> float | None:
    """``x-ms-retry-after-ms`` / ``retry-after-ms`` (milliseconds), then ``Retry-After``."""
    h = httpx.Headers(dict(headers))
    for name in ("x-ms-retry-after-ms", "retry-after-ms"):
        value = h.get(name)
        if value is not None:
            try:
                ms = float(value.strip())
            except ValueError:
                continue
            if math.isfinite(ms):
                return max(0.0, ms / 1000)
    return asked_wait(h, now)


def _code(exc: Any) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")[:80]


def _first(exc: Any) -> str:
    """The first line of an SDK error (the rest repeats request ids, times and the XML body)."""
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    line = "".join(ch if ch.isprintable() else " " for ch in line)
    return line[:300]
