"""Small, dependency-free tail probabilities and deviation scales shared by baselines and detections.

Everything here is pure and cheap: detections compute candidate rows in SQL and call these only on the
few rows that survive, never per event.
"""

from __future__ import annotations

import math


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam).

    >>> round(poisson_sf(1, 1.0), 4)
    0.6321
    >>> poisson_sf(0, 3.0)
    1.0
    >>> poisson_sf(5, 0.0)
    0.0
    """
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    # sum the lower tail in log space; beyond the mode the upper tail is summed directly (more accurate)
    if k > lam:
        term = math.exp(k * math.log(lam) - lam - math.lgamma(k + 1))
        total, i = 0.0, k
        while term > total * 1e-15 and i < k + 10_000:
            total += term
            i += 1
            term *= lam / i
        return min(1.0, total)
    lower = sum(math.exp(i * math.log(lam) - lam - math.lgamma(i + 1)) for i in range(k))
    return max(0.0, 1.0 - lower)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p).

    >>> round(binom_sf(24, 24, 0.5), 10) == round(0.5**24, 10)
    True
    >>> binom_sf(0, 10, 0.1)
    1.0
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    return min(
        1.0,
        sum(
            math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
            for i in range(k, n + 1)
        ),
    )


def dev_from_p(p: float, scale: float = 12.0) -> float:
    """Map a tail probability to a 0..1 deviation: 1e-3 -> 0.25, 1e-6 -> 0.5, 1e-12 or less -> 1.

    >>> dev_from_p(1e-6)
    0.5
    """
    if p <= 0:
        return 1.0
    return round(max(0.0, min(1.0, -math.log10(p) / scale)), 3)


def dev_from_ratio(ratio: float) -> float:
    """Map how many times a bound was exceeded to 0..1: at the bound 0.5, 10x 0.75, 100x or more 1.

    >>> dev_from_ratio(10)
    0.75
    """
    if ratio <= 0:
        return 0.0
    return round(max(0.0, min(1.0, 0.5 + 0.25 * math.log10(ratio))), 3)


def fmt(x: float | int | None) -> str:
    """Human-readable number: thousands separators, at most one decimal.

    >>> fmt(41200.0), fmt(2.25), fmt(None)
    ('41,200', '2.2', '-')
    """
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.1f}"
