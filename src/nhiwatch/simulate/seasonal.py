"""A seasonal company: the calendar effects a long simulation should hold (120 days and more).

Every integration keeps the public holidays of the country of its time zone (from the ``holidays``
package) and the inventory says so (a company-wide ``country`` and the exceptions); jobs fed by people
(business-hours and event-driven ones) idle on holidays and work off part of what was held back on the next
business day; integrations with a month-end close run a heavier quarter close on top, and those that declare
their month end declare their quarter end too. Drawn from its own RNG, so a company that is not seasonal is
byte-identical to before.
"""

from __future__ import annotations

import random
from collections import Counter

from nhiwatch.simulate.model import Integration

SEASONAL_DAYS = 120  # a simulation this long is seasonal unless told otherwise
TZ_COUNTRY = {
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Los_Angeles": "US",
    "America/Toronto": "CA",
    "America/Sao_Paulo": "BR",
    "Europe/London": "GB",
    "Europe/Berlin": "DE",
    "Europe/Paris": "FR",
    "Europe/Dublin": "IE",
    "Asia/Tokyo": "JP",
    "Asia/Kolkata": "IN",
    "Asia/Singapore": "SG",
    "Australia/Sydney": "AU",
}


def make_seasonal(company: list[Integration], rng: random.Random) -> str:
    """Give ``company`` its calendars, catch-up and quarter closes; returns the company-wide country."""
    for integ in company:
        integ.country = TZ_COUNTRY.get(integ.tz, "US")
        if integ.pattern in ("business", "event"):
            integ.catch_up_share = rng.uniform(0.3, 1.0)
        if integ.month_end:
            integ.quarter_end_factor = rng.uniform(1.5, 3.0)
    counts = Counter(i.country for i in company if not i.shadow)
    return counts.most_common(1)[0][0] if counts else "US"


__all__ = ["SEASONAL_DAYS", "TZ_COUNTRY", "make_seasonal"]
