"""Reading what a vendor says about its rate limits: how long to wait, and whether a 403 means "slow down".

``Retry-After`` (seconds or an HTTP date) comes first; else the reset time of ``X-RateLimit-Reset``
(GitHub) or ``X-Rate-Limit-Reset`` (Okta), epoch seconds. Hostile values (not numbers, NaN, infinities,
dates in the past) give None or 0, never an exception or a negative wait.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

import httpx


def budget_spent(headers: httpx.Headers) -> bool:
    """``X-RateLimit-Remaining: 0`` (GitHub) or ``X-Rate-Limit-Remaining: 0`` (Okta)."""
    remaining = header(headers, "x-ratelimit-remaining", "x-rate-limit-remaining")
    return remaining is not None and remaining.strip() == "0"


def header(headers: httpx.Headers, *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def rate_limited_403(status: int, headers: httpx.Headers, body: bytes) -> bool:
    """GitHub's primary and secondary rate limits answer 403; Google's per-user quota does too."""
    if status != 403:
        return False
    if "retry-after" in headers:
        return True
    if budget_spent(headers):
        return True
    head = body[:4096].lower()
    return b"ratelimitexceeded" in head or b"secondary rate limit" in head


def asked_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds the vendor asks to wait: Retry-After first, then the rate-limit reset time."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        text = retry_after.strip()
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(seconds):
                return max(0.0, seconds)
        try:
            return max(0.0, parsedate_to_datetime(text).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass  # unreadable: fall back to the reset header or our own backoff
    return reset_in(headers, now)


def reset_in(headers: httpx.Headers, now: float) -> float | None:
    reset = header(headers, "x-ratelimit-reset", "x-rate-limit-reset")
    if reset is None:
        return None
    try:
        at = float(reset.strip())
    except ValueError:
        return None
    if not math.isfinite(at):  # NaN, infinities from a hostile header
        return None
    return max(0.0, at - now)
