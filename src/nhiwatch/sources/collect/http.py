"""The HTTP side of every collector: bounded responses, retries with backoff, and no secret in a message.

One :class:`HttpClient` per collector run. It

- retries 429, 5xx and transport errors (timeouts, resets, a body cut short) with exponential backoff
  and full jitter, waiting what the vendor asks first: ``Retry-After`` (seconds or an HTTP date), else the
  reset time of ``X-RateLimit-Reset`` (GitHub) or ``X-Rate-Limit-Reset`` (Okta), in epoch seconds;
- waits before the next request when a response says the budget is spent (``*-Remaining: 0``);
- refuses a wait longer than ``RetryPolicy.max_wait`` (a run ends with the reason, the next run goes on);
- reads at most ``max_body`` bytes of a response, parses JSON with a clear error, and follows pagination
  links only to the host of the API it was given (a hostile link cannot send the credentials elsewhere);
- calls ``auth`` for its headers on every request and, on a 401, once more with ``refresh=True`` (an
  expired OAuth token is renewed; a static token fails with a clear message).

``sleep``, ``clock`` and ``rng`` are injectable so tests run a 429 storm in no time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from nhiwatch.sources.collect.errors import AuthError, BadResponse, CollectError, RateLimited, RejectedRequest
from nhiwatch.sources.collect.ratelimit import asked_wait, budget_spent, rate_limited_403, reset_in
from nhiwatch.sources.collect.secrets import Secret, scrub

log = logging.getLogger("nhiwatch.collect")

MAX_BODY = 64 * 1024 * 1024  # one page of 1,000 events is a few MiB; far beyond that is not a page
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
AuthHeaders = Callable[[bool], Mapping[str, str]]  # refresh -> headers


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # requests per page, the first included
    base: float = 1.0  # first backoff, seconds; doubles each retry
    cap: float = 120.0  # longest backoff of our own choosing
    max_wait: float = 900.0  # longest wait a vendor may ask for; longer ends the run


@dataclass(frozen=True)
class HttpOptions:
    """How a collector's HTTP client behaves, apart from its URL and credentials (tests inject these)."""

    policy: RetryPolicy = RetryPolicy()
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random
    timeout: float = 60.0
    max_body: int = MAX_BODY

    def client(
        self,
        base_url: str,
        *,
        auth: AuthHeaders | None = None,
        secrets: Sequence[Secret | str | None] = (),
        headers: Mapping[str, str] | None = None,
    ) -> HttpClient:
        return HttpClient(
            base_url,
            auth=auth,
            secrets=secrets,
            policy=self.policy,
            transport=self.transport,
            sleep=self.sleep,
            clock=self.clock,
            rng=self.rng,
            timeout=self.timeout,
            max_body=self.max_body,
            headers=headers,
        )


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            detail = str(exc).split(":")[0]
            raise BadResponse(
                f"malformed JSON from {_path(self.url)} ({len(self.body)} bytes): {detail}"
            ) from None


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthHeaders | None = None,
        secrets: Sequence[Secret | str | None] = (),
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        timeout: float = 60.0,
        max_body: int = MAX_BODY,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CollectError(f"the API URL {base_url!r} is not an http(s) URL with a host")
        self.base_url = base_url.rstrip("/") + "/"
        self._auth = auth
        self.secrets = list(secrets)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._max_body = max_body
        self._not_before = 0.0
        self._sent: set[str] = set()  # Authorization values sent: masked in every message
        self.requests = 0
        self.waited = 0.0
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # a redirect could carry the Authorization header to another host
            headers={"User-Agent": "nhiwatch-collector", **(headers or {})},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- URLs -------------------------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the API's host; a link to any other scheme, host or port is refused.

        Parsed with httpx, the parser that sends it, so the check and the request see the same host."""
        try:
            base = httpx.URL(self.base_url)
            url = base.join(path_or_url)  # RFC 3986: "orgs/x" is under the base path, "/x" at the root
        except (httpx.InvalidURL, ValueError, TypeError):
            raise BadResponse("refusing a link that is not a URL") from None
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port) or url.userinfo:
            raise BadResponse(f"refusing a link to another host ({url.scheme}://{url.host})")
        return str(url)

    # --- requests ---------------------------------------------------------------------------------------

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self.request("GET", path_or_url, params=params)

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Reply]:
        reply = self.get(path_or_url, params)
        return reply.json(), reply

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        authorize: bool = True,
    ) -> Reply:
        """One request, retried as the class says; ``authorize=False`` for a token request itself.

        ``data`` is sent as a form, ``json`` as a JSON body (the response actions' vendor calls)."""
        url = self.url(path_or_url)
        auth = self._auth if authorize else None
        refreshed = refresh_next = False
        last = ""
        for attempt in range(self.policy.attempts):
            self._wait_budget()
            try:
                reply = self._send(method, url, params, data, auth, refresh=refresh_next, json=json)
            except httpx.TransportError as exc:
                refresh_next = False
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._backoff(attempt, None, f"network error ({last})", url)
                continue
            self._note_budget(reply.headers)
            refresh_next = False
            if reply.status == 401 and auth is not None and not refreshed:
                refreshed = refresh_next = True  # an expired OAuth token: renew it once
                continue
            if reply.status < 300:
                return reply
            if reply.status in RETRY_STATUS or rate_limited_403(reply.status, reply.headers, reply.body):
                last = f"HTTP {reply.status}"
                self._backoff(attempt, reply.headers, last, url)
                continue
            raise self._error(reply)
        raise RateLimited(
            self.scrub(f"gave up on {_path(url)} after {self.policy.attempts} attempts ({last})")
        )

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | None,
        auth: AuthHeaders | None,
        *,
        refresh: bool,
        json: Any = None,
    ) -> Reply:
        headers = dict(auth(refresh)) if auth else {}
        for value in headers.values():  # an issued OAuth token is a secret too, from now on
            if value not in self._sent and len(self._sent) < 64:
                self._sent.update((value, value.split(" ", 1)[-1]))
        self.requests += 1
        with self._client.stream(
            method, url, params=params, data=data, json=json, headers=headers
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body:
                raise BadResponse(f"response from {_path(url)} is larger than {self._max_body >> 20} MiB")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self._max_body:
                    raise BadResponse(f"response from {_path(url)} is larger than {self._max_body >> 20} MiB")
            return Reply(response.status_code, response.headers, bytes(body), str(response.url))

    # --- waiting ----------------------------------------------------------------------------------------

    def _backoff(self, attempt: int, headers: httpx.Headers | None, why: str, url: str) -> None:
        if attempt + 1 >= self.policy.attempts:
            return  # the loop ends and says why
        asked = asked_wait(headers, self._clock()) if headers is not None else None
        if asked is not None:
            if asked > self.policy.max_wait:
                raise RateLimited(
                    f"{_path(url)}: {why}; the API asks to wait {asked:.0f} s, more than the "
                    f"{self.policy.max_wait:.0f} s a run waits: the next run goes on from the checkpoint"
                )
            wait = asked + self._rng() * min(1.0, asked * 0.1 + 0.1)
        else:
            wait = self._rng() * min(self.policy.cap, self.policy.base * 2**attempt)
        log.warning("%s: %s; retrying in %.1f s", _path(url), why, wait)
        self._pause(wait)

    def _note_budget(self, headers: httpx.Headers) -> None:
        if budget_spent(headers):
            reset = reset_in(headers, self._clock())
            if reset is not None and 0 < reset <= self.policy.max_wait:
                self._not_before = self._clock() + reset

    def _wait_budget(self) -> None:
        delay = self._not_before - self._clock()
        if delay > 0:
            log.info("rate limit budget spent; waiting %.1f s for it to reset", delay)
            self._pause(delay)
        self._not_before = 0.0

    def _pause(self, seconds: float) -> None:
        self.waited += seconds
        self._sleep(seconds)

    # --- errors -----------------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return scrub(text, [*self.secrets, *sorted(self._sent, key=len, reverse=True)])

    def _error(self, reply: Reply) -> CollectError:
        detail = self.scrub(_short(reply.body))
        where = _path(reply.url)
        err: CollectError
        if reply.status == 401:
            err = AuthError(f"the API refused the credentials (HTTP 401) at {where}: {detail}")
        elif reply.status == 403:
            err = AuthError(f"permission denied (HTTP 403) at {where}: {detail}")
        elif reply.status in (400, 404, 410):
            err = RejectedRequest(f"HTTP {reply.status} from {where}: {detail}")
        else:
            err = CollectError(f"HTTP {reply.status} from {where}: {detail}")
        err.status = reply.status
        return err


def _path(url: str) -> str:
    """The host and path of a URL, without its query (cursors and filters make messages unreadable)."""
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{parts.path}"


def _short(body: bytes, limit: int = 300) -> str:
    """A response body as one short printable line, for an error message."""
    text = body[: limit * 4].decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")


def next_link(reply: Reply) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header (GitHub, Okta), or None."""
    value = reply.headers.get("link")
    if not value:
        return None
    links = httpx.Response(200, headers={"link": value}).links
    url = links.get("next", {}).get("url")
    return url or None
