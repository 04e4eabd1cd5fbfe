"""Human units for explanations and the console: sizes, counts, ratios, durations, local times, nouns.

Every number an analyst reads goes through here, so "18,674,933 bytes" reads "18.7 MB", a bound of
74,979.5 reads "75.0 KB" or "74,980", and "1 prefix(s)" reads "1 prefix". Sizes are decimal (1 KB =
1,000 bytes), as vendors bill and report them.

>>> size(18_674_933)
'18.7 MB'
>>> count(74_979.5)
'74,980'
>>> ratio(39, 13, "the usual maximum")
'3× the usual maximum'
>>> local_time(datetime(2026, 2, 3, 2, 12, tzinfo=UTC), "Europe/Berlin")
'03:12 Europe/Berlin (02:12 UTC)'
>>> plural(2, "prefix")
'2 prefixes'
>>> article("egress burst")
'an egress burst'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")

_IRREGULAR = {
    "identity": "identities",
    "person": "people",
    "child": "children",
    "is": "are",
    "was": "were",
    "has": "have",
    "this": "these",
}

# Words that start with a vowel letter but a consonant sound, and the reverse.
_A_BEFORE = ("uni", "use", "usa", "usu", "uti", "one", "once", "eu", "ewe", "ubiq", "uganda", "ukr")
_AN_BEFORE = ("hour", "honest", "honour", "honor", "heir")
# Capital letters whose spoken name starts with a vowel sound: "an SSO", "an HTTP", "an MFA".
_VOWEL_SOUND_LETTERS = set("AEFHILMNORSX")


def size(n_bytes: float) -> str:
    """A byte count in B, KB, MB, GB, TB or PB, one decimal above bytes.

    >>> size(0), size(999), size(1000), size(1_536_000), size(2.5e12)
    ('0 B', '999 B', '1.0 KB', '1.5 MB', '2.5 TB')
    """
    if not math.isfinite(n_bytes):
        return "an unknown size"
    sign = "-" if n_bytes < 0 else ""
    value = abs(float(n_bytes))
    if round(value) < 1000:
        return f"{sign}{round(value):d} B"
    unit = ""
    for unit in _SIZE_UNITS:
        value /= 1000.0
        # Promote before printing "1000.0 KB": round first, as the reader sees it.
        if round(value, 1) < 1000 or unit == _SIZE_UNITS[-1]:
            break
    return f"{sign}{value:,.1f} {unit}"


def count(n: float) -> str:
    """A count rounded to a whole number with thousands separators.

    >>> count(18_674_933), count(3), count(2.5), count(-1200)
    ('18,674,933', '3', '2', '-1,200')
    """
    if not math.isfinite(n):
        return "an unknown number of"
    return f"{round(n):,d}"


def number(x: float, decimals: int = 1) -> str:
    """A measurement with thousands separators and at most ``decimals`` decimals, trailing zeros dropped.

    >>> number(4.0), number(4.25, 2), number(12_345.67)
    ('4', '4.25', '12,345.7')
    """
    if not math.isfinite(x):
        return "unknown"
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def times(factor: float) -> str:
    """A multiplier: one decimal under 10, whole above, "×" after.

    >>> times(3.0), times(4.24), times(12.6), times(1234.0)
    ('3×', '4.2×', '13×', '1,234×')
    """
    if not math.isfinite(factor):
        return "many times"
    return f"{number(factor, 1 if factor < 10 else 0)}×"


def ratio(observed: float, usual: float, of: str = "the usual") -> str:
    """How many times ``usual`` the ``observed`` value is, said against ``of``.

    >>> ratio(42, 10), ratio(39, 13, "the usual maximum"), ratio(5, 0)
    ('4.2× the usual', '3× the usual maximum', 'where there is usually none')
    """
    if usual <= 0 or not math.isfinite(usual):
        return "where there is usually none"
    return f"{times(observed / usual)} {of}"


def duration(span: timedelta | float) -> str:
    """A duration in its two largest units, e.g. "2 hours 5 minutes"; ``span`` in seconds if a number.

    >>> duration(45), duration(60), duration(timedelta(hours=2, minutes=5, seconds=9)), duration(86400 * 3)
    ('45 seconds', '1 minute', '2 hours 5 minutes', '3 days')
    """
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    if not math.isfinite(seconds):
        return "an unknown time"
    total = round(abs(seconds))
    if total == 0:
        return "0 seconds"
    parts: list[str] = []
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, total = divmod(total, length)
        if amount:
            parts.append(plural(amount, unit))
        elif parts:
            break  # "2 days 3 seconds" would hide the hours between them
        if len(parts) == 2:
            break
    return " ".join(parts)


def zone(name: str | None) -> ZoneInfo | None:
    """The time zone called ``name``, or None for a missing or unknown name (read as UTC)."""
    if not name or name.upper() == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def local_time(ts: datetime, tz: str | None, with_date: bool = False) -> str:
    """``ts`` in the zone ``tz`` with the zone's name, then in UTC; naive times are read as UTC.

    >>> local_time(datetime(2026, 7, 3, 2, 12), "Europe/Berlin", with_date=True)
    '2026-07-03 04:12 Europe/Berlin (02:12 UTC)'
    >>> local_time(datetime(2026, 7, 3, 2, 12), None)
    '02:12 UTC'
    """
    utc = _utc(ts)
    fmt = "%Y-%m-%d %H:%M" if with_date else "%H:%M"
    info = zone(tz)
    if info is None:
        return f"{utc:{fmt}} UTC"
    local = utc.astimezone(info)
    utc_fmt = fmt if local.date() != utc.date() and with_date else "%H:%M"
    return f"{local:{fmt}} {tz} ({utc:{utc_fmt}} UTC)"


def utc_time(ts: datetime, with_date: bool = True) -> str:
    """``ts`` in UTC, e.g. "2026-02-03 02:12 UTC"."""
    return f"{_utc(ts):{'%Y-%m-%d %H:%M' if with_date else '%H:%M'}} UTC"


def plural_of(noun: str) -> str:
    """The plural of an English noun (of its last word), for the nouns explanations use.

    >>> [plural_of(w) for w in ("prefix", "address", "identity", "day", "batch", "detection", "API key")]
    ['prefixes', 'addresses', 'identities', 'days', 'batches', 'detections', 'API keys']
    >>> plural_of("kind of action")
    'kinds of action'
    """
    if " of " in noun:
        head, _, tail = noun.partition(" of ")
        return f"{plural_of(head)} of {tail}"
    head, _, last = noun.rpartition(" ")
    lower = last.lower()
    if lower in _IRREGULAR:
        word = _IRREGULAR[lower]
    elif lower.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def plural(n: float, noun: str, many: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: "1 resource", "13 resources", "2 prefixes".

    >>> plural(1, "resource"), plural(13, "resource"), plural(0, "prefix"), plural(1200, "call")
    ('1 resource', '13 resources', '0 prefixes', '1,200 calls')
    """
    shown = count(n)
    word = noun if shown in ("1", "-1") else (many or plural_of(noun))
    return f"{shown} {word}"


def article(phrase: str) -> str:
    """``phrase`` with "a" or "an" before it, by sound: "an egress burst", "a user", "an hour", "an SSO login".

    >>> article("egress burst"), article("user agent"), article("hour"), article("SSO login"), article("GitHub app")
    ('an egress burst', 'a user agent', 'an hour', 'an SSO login', 'a GitHub app')
    """
    word = phrase.split(" ", 1)[0]
    lower = word.lower()
    if not word:
        return phrase
    if len(word) > 1 and word.isupper() and word.isalpha():
        an = word[0] in _VOWEL_SOUND_LETTERS
    elif lower.startswith(_AN_BEFORE):
        an = True
    elif lower.startswith(_A_BEFORE):
        an = False
    elif word[0].isdigit():
        digits = "".join(c for c in word if c.isdigit())
        # "an 8", "an 80", "an 11", "an 18,000"; but "a 110", "a 1,100"
        an = digits.startswith("8") or (digits.startswith(("11", "18")) and len(digits) % 3 == 2)
    else:
        an = lower[0] in "aeiou"
    return f"{'an' if an else 'a'} {phrase}"


def amount(value: float, unit: str) -> str:
    """A measured quantity, ``unit`` a singular noun: ``byte`` as a size, ``second``/``minute``/``hour``/``day``
    as a duration, anything else as a count of that noun ("250,000 records", "1 failure").

    >>> amount(18_674_933, "byte"), amount(120, "second"), amount(31.4, "day"), amount(1, "record")
    ('18.7 MB', '2 minutes', '31 days', '1 record')
    """
    if unit == "byte":
        return size(value)
    if unit == "day" and abs(value) >= 1:
        return plural(value, "day")
    scale = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}.get(unit)
    if scale is not None:
        return duration(value * scale)
    return plural(value, unit)


def measure(
    observed: float,
    bound: float,
    unit: str,
    direction: str = "above",
    *,
    usual: float | None = None,
    largest: float | None = None,
) -> dict[str, float | str | None]:
    """What a detector compared, kept in a finding's details so its text can be checked against it:
    ``observed`` was ``direction`` (above / below) ``bound``, in ``unit`` (a singular noun, see :func:`amount`)."""
    return {
        "observed": float(observed),
        "bound": float(bound),
        "unit": unit,
        "direction": direction,
        "usual": None if usual is None else float(usual),
        "largest": None if largest is None else float(largest),
    }


def span(first: datetime, last: datetime, tz: str | None = None) -> str:
    """A stretch of time, in the zone ``tz`` with UTC beside it; one date when it fits in one day.

    >>> span(datetime(2026, 10, 6, 3, 0), datetime(2026, 10, 6, 3, 13))
    '2026-10-06 03:00–03:13 UTC'
    >>> span(datetime(2026, 10, 6, 3, 0), datetime(2026, 10, 6, 3, 0), "Europe/Berlin")
    '2026-10-06 05:00 Europe/Berlin (03:00 UTC)'
    """
    a, b = _utc(first), _utc(last)
    info = zone(tz)
    la, lb = (a, b) if info is None else (a.astimezone(info), b.astimezone(info))
    name = "UTC" if info is None else tz
    if f"{la:%Y-%m-%d %H:%M}" == f"{lb:%Y-%m-%d %H:%M}":
        local = f"{la:%Y-%m-%d %H:%M} {name}"
        utc = f"{a:%H:%M} UTC"
    elif la.date() == lb.date():
        local = f"{la:%Y-%m-%d %H:%M}–{lb:%H:%M} {name}"
        utc = (
            f"{a:%H:%M}–{b:%H:%M} UTC" if a.date() == b.date() else f"{a:%H:%M} UTC to {b:%Y-%m-%d %H:%M} UTC"
        )
    else:
        local = f"{la:%Y-%m-%d %H:%M} {name} to {lb:%Y-%m-%d %H:%M} {name}"
        utc = f"{a:%Y-%m-%d %H:%M} UTC to {b:%Y-%m-%d %H:%M} UTC"
    return local if info is None else f"{local} ({utc})"
