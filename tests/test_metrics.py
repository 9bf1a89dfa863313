"""The code-size metrics, checked by hand."""

from __future__ import annotations

import math

import pytest

from supersonic.envs.llvm.metrics import GEOMEAN_FLOOR, geomean, leaderboard_metric, oz_ratio


def test_leaderboard_metric_by_hand() -> None:
    # -O0 has 1000 instructions, -Oz 600: matching -Oz scores 1, halfway 0.5, beating it > 1.
    assert leaderboard_metric(1000, 600, 600) == 1.0
    assert leaderboard_metric(1000, 600, 800) == 0.5
    assert leaderboard_metric(1000, 600, 500) == 1.25
    assert leaderboard_metric(1000, 600, 1000) == 0.0
    assert leaderboard_metric(1000, 600, 1100) == -0.25
    # When -Oz gains nothing the denominator is 1, not 0.
    assert leaderboard_metric(10, 10, 8) == 2.0


def test_oz_ratio_by_hand() -> None:
    assert oz_ratio(600, 600) == 1.0
    assert oz_ratio(600, 500) == 1.2
    assert oz_ratio(600, 0) == 600.0  # never divides by zero


def test_geomean() -> None:
    g = geomean([1.0, 4.0])
    assert g.value == pytest.approx(2.0) and g.count == 2 and g.floored == 0
    floored = geomean([0.0, 1.0])
    assert floored.floored == 1
    assert floored.value == pytest.approx(math.sqrt(GEOMEAN_FLOOR))
    assert math.isnan(geomean([]).value)
    with pytest.raises(ValueError):
        geomean([float("inf")])
