"""The small statistics shared by baselines and detections, and their doctests."""

from __future__ import annotations

import doctest
import math

import pytest

import nhiwatch.baseline.stats as stats
import nhiwatch.detectors._hours as hours
import nhiwatch.detectors._novelty as novelty


@pytest.mark.parametrize("module", [stats, hours, novelty])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(("k", "lam"), [(1, 0.5), (3, 2.0), (10, 3.0), (50, 40.0), (2, 30.0)])
def test_poisson_tail_matches_the_sum(k: int, lam: float) -> None:
    direct = 1 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))
    assert stats.poisson_sf(k, lam) == pytest.approx(direct, rel=1e-6, abs=1e-12)


def test_binomial_tail_matches_the_sum() -> None:
    n, p = 24, 0.3
    direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(10, n + 1))
    assert stats.binom_sf(10, n, p) == pytest.approx(direct, rel=1e-9)


def test_deviation_scales_are_monotone_and_bounded() -> None:
    ps = [stats.dev_from_p(10.0**-e) for e in range(0, 20)]
    rs = [stats.dev_from_ratio(r) for r in (0.5, 1, 2, 10, 100, 1e4)]
    assert ps == sorted(ps) and rs == sorted(rs)
    assert all(0 <= x <= 1 for x in ps + rs)
