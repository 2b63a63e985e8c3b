"""Target columns (the only ones that read rows after ``t``): hand-computed step-1
targets, the path columns of later steps, and the Parkinson range-variance target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstmfc.core.errors import DataError, UsageError
from lstmfc.dataset.targets import (
    TARGET_COLUMNS,
    add_path_targets,
    build_targets,
    path_columns,
    step_frame,
    target_frame,
)
from lstmfc.volatility.proxies import parkinson_proxy
from tests.conftest import make_ohlcv


def test_targets_hand_computed():
    close = pd.Series(
        [10.0, 11.0, 11.0, 9.0, 12.0], index=pd.bdate_range("2024-01-01", periods=5, name="date")
    )
    tg = build_targets(close, 2)
    assert list(tg.columns) == ["target_date", "target_price", "target_logret", "target_direction"]
    assert list(tg["target_date"][:3]) == list(close.index[2:])
    assert tg["target_date"][3:].isna().all()
    np.testing.assert_array_equal(tg["target_price"][:3], [11.0, 9.0, 12.0])
    np.testing.assert_allclose(
        tg["target_logret"][:3], np.log([11 / 10, 9 / 11, 12 / 11]), rtol=0, atol=0
    )
    assert str(tg["target_direction"].dtype) == "Int8"
    assert tg["target_direction"][:3].tolist() == [1, 0, 1]
    assert tg["target_direction"][3:].isna().all()
    assert tg["target_price"][3:].isna().all() and tg["target_logret"][3:].isna().all()


def test_flat_close_is_direction_zero():
    close = pd.Series([5.0, 5.0, 6.0], index=pd.bdate_range("2024-01-01", periods=3))
    assert build_targets(close, 1)["target_direction"][:2].tolist() == [0, 1]


@pytest.mark.parametrize("h", [0, -1, 1.5])
def test_bad_horizon(h):
    with pytest.raises(UsageError):
        build_targets(pd.Series([1.0, 2.0]), h)


def test_path_columns_hold_the_close_h_plus_k_minus_1_sessions_ahead():
    close = pd.Series(
        [10.0, 11.0, 11.0, 9.0, 12.0, 13.0],
        index=pd.bdate_range("2024-01-01", periods=6, name="date"),
    )
    tg = target_frame(close, 1)
    add_path_targets(tg, 1, 3)
    assert path_columns(3) == (
        "target_date_3",
        "target_price_3",
        "target_logret_3",
        "target_direction_3",
    )
    assert list(tg.columns) == [*TARGET_COLUMNS, *path_columns(2), *path_columns(3)]
    # step 3 of h = 1 lies 3 sessions ahead: closes 9, 12, 13 for origins 0..2
    np.testing.assert_array_equal(tg["target_price_3"][:3], [9.0, 12.0, 13.0])
    assert list(tg["target_date_3"][:3]) == list(close.index[3:])
    np.testing.assert_array_equal(tg["target_logret_3"][:3], np.log([9 / 10, 12 / 11, 13 / 11]))
    assert tg["target_direction_3"][:3].tolist() == [0, 1, 1]
    assert tg["target_price_3"][3:].isna().all() and tg["target_direction_3"][3:].isna().all()
    # step_frame shows step 2 under the base names, as a one-step head scores it
    s2 = step_frame(tg.iloc[:4], 2)
    assert list(s2.columns) == list(TARGET_COLUMNS)
    np.testing.assert_array_equal(s2["target_price"], [11.0, 9.0, 12.0, 13.0])
    assert s2["target_direction"].dtype == np.int8


def test_parkinson_target_by_hand_and_against_the_volatility_proxy():
    raw = make_ohlcv(300, seed=3)
    hi, lo = raw["high"].to_numpy(), raw["low"].to_numpy()
    tf = target_frame(raw["close"], 3, raw["high"], raw["low"])
    assert list(tf.columns) == [*TARGET_COLUMNS, "target_parkinson"]
    pv = (100 * np.log(hi / lo)) ** 2 / (4 * math.log(2))  # Parkinson (1980) by hand
    np.testing.assert_allclose(
        tf["target_parkinson"][:-3], pv[1:-2] + pv[2:-1] + pv[3:], rtol=1e-10
    )
    assert tf["target_parkinson"][-3:].isna().all()
    exact = parkinson_proxy(hi, lo, np.arange(300 - 3), 3)  # exact per-window sums
    np.testing.assert_allclose(tf["target_parkinson"][:-3], exact, rtol=1e-10)


def test_parkinson_target_of_a_high_a_rounding_below_the_low_is_zero_range():
    close = pd.Series([10.0, 10.0, 10.0], index=pd.bdate_range("2024-01-01", periods=3))
    high = np.array([11.0, 10.0 * (1 - 1e-10), 12.0])  # validate.py admits 1e-9 relative
    low = np.array([9.0, 10.0, 8.0])
    tf = target_frame(close, 1, high, low)
    pv = (100 * np.log(12.0 / 8.0)) ** 2 / (4 * math.log(2))
    np.testing.assert_array_equal(tf["target_parkinson"][:1], [0.0])
    np.testing.assert_allclose(tf["target_parkinson"][1:2], [pv], rtol=1e-12)
    with pytest.raises(DataError, match="target_parkinson"):
        target_frame(close, 1, np.array([11.0, np.nan, 12.0]), low)
    with pytest.raises(UsageError):
        target_frame(close, 0, high, low)
