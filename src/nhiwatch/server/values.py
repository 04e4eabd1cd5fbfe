"""Validated types for values the API accepts: a bad value is a 4xx with a reason, never a 500.

Times are ISO 8601 and must lie between 1970 and 2200 once converted to UTC (the store keeps naive UTC
timestamps; year 1 with an offset, or year 9999, cannot be converted or compared safely); page offsets
stay within what DuckDB's ``OFFSET`` takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from nhiwatch.errors import ConfigError

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)
MAX_OFFSET = 10**12


def _bounded(t: datetime) -> datetime:
    """``t`` as naive UTC, if it lies between 1970 and 2200."""
    if t.tzinfo is not None:
        try:
            t = t.astimezone(UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise ValueError("time out of range: use a time between 1970 and 2200") from None
    if not EARLIEST <= t < LATEST:
        raise ValueError("time out of range: use a time between 1970 and 2200")
    return t


def utc_time(t: datetime) -> datetime:
    """As the validator, for values that arrive outside pydantic (console forms): ConfigError (400)."""
    try:
        return _bounded(t)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


UtcTime = Annotated[datetime, AfterValidator(_bounded)]
"""An ISO 8601 time between 1970 and 2200, as naive UTC (a time without an offset is taken as UTC)."""

Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
