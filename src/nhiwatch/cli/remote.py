"""A client of the running ``nhiwatch serve`` that holds the store: what the read commands use instead.

It signs in with the server file's local credential (:mod:`nhiwatch.server.local`). A refusal is the
server's one-line ``detail`` as the command's error (exit 2); a server that does not answer is a one-line
message naming it. Nothing the server returns is trusted beyond JSON: the row builders format it exactly
as they format what they read from the store.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from nhiwatch.cli.common import fail
from nhiwatch.redact import redact
from nhiwatch.server.local import ServerFile

TIMEOUT = httpx.Timeout(300.0, connect=5.0)  # an evaluation or a large listing may take a while


class Remote:
    """The HTTP API of the server in ``server``, for the store ``db``."""

    def __init__(self, server: ServerFile, db: Path) -> None:
        self.server = server
        self.db = db
        self._client = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.credential}"},
            timeout=TIMEOUT,
            trust_env=False,  # a proxy from the environment must never see the local credential
            follow_redirects=False,
        )

    def __enter__(self) -> Remote:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.close()

    @staticmethod
    def part(value: str) -> str:
        """``value`` as one path segment."""
        return quote(value, safe="")

    def request(self, method: str, path: str, *, not_found: str | None = None, **kwargs: Any) -> Any:
        """The JSON answer; a refusal is the server's ``detail`` (or ``not_found`` for a 404) and exit 2."""
        try:
            r = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise fail(
                f"the store {self.db} is held by nhiwatch serve (pid {self.server.pid}) at "
                f"{self.server.url}, which did not answer ({type(exc).__name__}); "
                "wait for it to start, or stop it and run this again"
            ) from None
        if r.status_code == 404 and not_found is not None:
            raise fail(not_found)
        if r.status_code >= 400:
            raise fail(_detail(r))
        try:
            return r.json()
        except ValueError:
            raise fail(f"nhiwatch serve at {self.server.url} sent an answer that is not JSON") from None

    def get(self, path: str, params: dict[str, Any] | None = None, *, not_found: str | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self.request("GET", path, params=query, not_found=not_found)

    def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged listing (``total``, ``limit``, ``offset``)."""
        out: list[Any] = []
        while True:
            page = self.get(path, {**(params or {}), "limit": 1000, "offset": len(out)})
            items = page.get(key, []) if isinstance(page, dict) else []
            out += items
            if not items or len(out) >= int(page.get("total", 0)):
                return out


def _detail(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # a validation error: where and why, never the input
        detail = "; ".join(
            f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg', '')}"
            for d in detail
            if isinstance(d, dict)
        )
    return redact(str(detail)) if detail else f"the server answered {r.status_code}"
