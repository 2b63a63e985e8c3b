"""Tests of lstmfc.volatility.proxies: squared-return and Parkinson proxies by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmfc.core.errors import DataError
from lstmfc.volatility import proxies as vp


def test_squared_return_proxies_by_hand():
    r = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    assert vp.squared_return(r).tolist() == [1.0, 4.0, 0.25, 9.0, 1.0]
    assert vp.squared_return_proxy(r, [0, 2]).tolist() == [4.0, 9.0]
    assert vp.squared_return_proxy(r, [0, 1], 3).tolist() == [4 + 0.25 + 9, 0.25 + 9 + 1]
    sq = vp.squared_return_proxy(r, [0, 1], 3, aggregate="square_of_sum")
    assert sq.tolist() == [(-2 + 0.5 + 3) ** 2, (0.5 + 3 - 1) ** 2]
    with pytest.raises(ValueError, match="origin 2 at position 1 is past 1"):
        vp.squared_return_proxy(r, [0, 2], 3)
    with pytest.raises(ValueError, match="origins must be integer indices"):
        vp.squared_return_proxy(r, [1.5])
    with pytest.raises(ValueError, match="unknown aggregate 'mean'"):
        vp.squared_return_proxy(r, [0], aggregate="mean")


def test_parkinson_by_hand():
    high = np.array([102.0, 110.0, 50.0])
    low = np.array([100.0, 100.0, 50.0])
    expect = [
        (100 * math.log(h / lo)) ** 2 / (4 * math.log(2)) for h, lo in zip(high, low, strict=True)
    ]
    assert vp.parkinson_variance(high, low) == pytest.approx(expect, rel=1e-13)
    assert expect[0] == pytest.approx(1.4143, rel=1e-4)  # (1.98026 %)^2 / 2.77259
    assert vp.parkinson_proxy(high, low, [0], 2) == pytest.approx([expect[1] + expect[2]])
    with pytest.raises(ValueError, match="high below low at position 0"):
        vp.parkinson_variance([1.0], [2.0])


def test_missing_high_low_raise_one_line_data_error():
    with pytest.raises(DataError, match="needs column 'low'"):
        vp.parkinson_proxy(np.ones(5), None, [0])
    with pytest.raises(DataError) as err:
        vp.parkinson_proxy(None, np.ones(5), [0])
    assert str(err.value) == "the Parkinson proxy needs column 'high', which the data lacks"
