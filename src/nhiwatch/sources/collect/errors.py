"""What a collector run can fail with; each message is already worded for the user and scrubbed."""

from __future__ import annotations

from nhiwatch.errors import SourceError


class CollectError(SourceError):
    """A run stopped: its checkpoint stays where the last committed page left it."""

    status: int | None = None  # the vendor's HTTP status, when it answered one


class AuthError(CollectError):
    """The vendor refused the credentials (HTTP 401) or their rights (HTTP 403)."""


class RateLimited(CollectError):
    """The vendor asked to wait longer than a run is allowed to, or retries ran out."""


class BadResponse(CollectError):
    """A response that is not what the API documents: too large, not JSON, the wrong shape."""


class RejectedRequest(CollectError):
    """The API refused the request itself (HTTP 400, 404, 410, or a vendor's "invalid cursor"): when the
    request carried a cursor stored by an earlier run, that cursor has most likely expired."""
