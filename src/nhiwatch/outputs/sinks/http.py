"""The HTTP side shared by the webhook-style sinks: one client per sink (no redirects followed, so a
credential is never replayed to another host), and the reading of an answer as an :class:`Outcome`.

429, 408 and 5xx answers and transport errors are worth retrying (``Retry-After`` kept); any other 4xx is
a payload or credential the receiver refuses, and retrying would only repeat it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from nhiwatch import __version__
from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks.base import Item, Outcome, Sink
from nhiwatch.outputs.sinks.config import SinkBase, check_url
from nhiwatch.outputs.sinks.retry import retry_after
from nhiwatch.outputs.sinks.secrets import Secret, resolve


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying TLS context, trusting ``ca_file`` instead of the system store when given."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot read ca_file {ca_file} ({getattr(exc, 'strerror', None) or exc})"
        ) from None


def secret_url(sink: str, env: str | None, file: Path | None, allow_http: bool) -> Secret:
    """A webhook URL that is itself the credential (Slack, Teams), checked like any endpoint."""
    url = resolve(sink, "url", env, file)
    try:
        check_url(url.reveal(), allow_http=allow_http, what="the webhook URL")
    except ValueError as exc:
        raise ConfigError(f"sink {sink!r}: {exc} (read from {url.origin})") from None
    return url


class HttpSink(Sink):
    def __init__(self, config: SinkBase, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        ca_file = getattr(config, "ca_file", None)
        self.client = httpx.Client(
            timeout=config.timeout_seconds,
            follow_redirects=False,
            verify=tls_context(ca_file) if ca_file else True,
            headers={"User-Agent": f"nhiwatch/{__version__}"},
        )

    def close(self) -> None:
        self.client.close()

    def post(
        self, url: str, content: bytes, headers: Mapping[str, str]
    ) -> tuple[httpx.Response | None, Outcome]:
        """POST and read the answer: ``(response, Outcome.done())`` on 2xx, else the failure outcome
        (response None when nothing came back)."""
        try:
            resp = self.client.post(url, content=content, headers=dict(headers))
        except httpx.TimeoutException:
            return None, Outcome.again(f"timed out after {self.config.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            # the message may quote the URL, which is the credential for Slack and Teams: scrubbed
            return None, Outcome.again(self.scrub(f"{type(exc).__name__}: {exc}"))
        return resp, self.read(resp)

    def read(self, resp: httpx.Response) -> Outcome:
        status = resp.status_code
        if 200 <= status < 300:
            return Outcome.done()
        text = resp.text.strip().replace("\n", " ")
        error = self.scrub(f"HTTP {status}" + (f": {text}" if text else ""))
        if status in (408, 429) or status >= 500:
            return Outcome.again(error, retry_after(resp.headers.get("retry-after")))
        if 300 <= status < 400:
            return Outcome.failed(self.scrub(f"HTTP {status}: redirects are not followed; fix the URL"))
        return Outcome.failed(error)


class PerAlertHttpSink(HttpSink):
    """A sink that sends one request per alert update."""

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        return [self.send_one(it) for it in items]

    def send_one(self, item: Item) -> Outcome:
        raise NotImplementedError
