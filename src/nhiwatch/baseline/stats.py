"""Small, dependency-free tail probabilities and deviation scales shared by baselines and detections.

Everything here is pure and cheap: detections compute candidate rows in SQL and call these only on the
few rows that survive, never per event.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence


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


def rank_sum_sf(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Mann-Whitney test: P(U >= observed) that ``x`` is stochastically larger than ``y``.

    ``U`` counts the pairs where an ``x`` beats a ``y`` (ties count a half). Under the null every
    arrangement of the pooled ranks is equally likely, so for small ``x`` the tail is exact (the
    Gaussian binomial coefficient counts arrangements by ``U``; a tie's half is rounded down, which errs
    towards "not significant"); beyond ``EXACT_MAX_N1`` values of ``x`` the normal approximation with tie
    correction is used.

    >>> round(rank_sum_sf([9, 8], [1, 2, 3, 4, 5]), 4)   # both above all five: 1 / C(7, 2)
    0.0476
    >>> rank_sum_sf([1, 2], [5, 6, 7])
    1.0
    >>> rank_sum_sf([], [1.0])
    1.0
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 1.0
    ys = sorted(y)
    u = 0.0
    for v in x:
        below, upto = bisect.bisect_left(ys, v), bisect.bisect_right(ys, v)
        u += below + 0.5 * (upto - below)
    if n1 <= EXACT_MAX_N1:
        counts = _u_counts(n1, n2)
        k = math.floor(u)
        return min(1.0, sum(counts[k:]) / math.comb(n1 + n2, n1))
    pooled = sorted([*x, *y])
    n = n1 + n2
    ties = 0
    i = 0
    while i < n:
        j = bisect.bisect_right(pooled, pooled[i])
        t = j - i
        ties += t**3 - t
        i = j
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


EXACT_MAX_N1 = 9


@functools.lru_cache(maxsize=256)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """Arrangements of ``n1`` + ``n2`` ranks by U: the coefficients of the Gaussian binomial
    ``[n1 + n2 choose n1]_q = prod_{i=1..n1} (1 - q^(n2 + i)) / (1 - q^i)``."""
    deg = n1 * n2
    poly = [1] + [0] * deg
    for i in range(1, n1 + 1):
        a = n2 + i
        for k in range(deg, a - 1, -1):  # times (1 - q^a)
            poly[k] -= poly[k - a]
        for k in range(i, deg + 1):  # divided by (1 - q^i): a running sum with stride i
            poly[k] += poly[k - i]
    return tuple(poly)
