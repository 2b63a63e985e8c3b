"""Tests of lstmfc.volatility.series: percent log returns, the aligned series of an OHLC
frame, and forecast origins by date (known answers by hand)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstmfc.core.errors import DataError
from lstmfc.volatility import series as vs
from tests.conftest import make_ohlcv

TRAIN_END = "2013-01-28"
FIRST_TARGET, LAST_TARGET = "2016-01-14", "2018-12-31"


def test_series_and_origin_helpers_on_the_sample():
    from lstmfc.data.sources.sample import read_sample

    frame = read_sample("SP500")[0]
    series = vs.series_from_frame(frame)
    train_last = vs.last_index_on_or_before(series.dates, TRAIN_END)
    origins = vs.origins_for_target_dates(series.dates, FIRST_TARGET, LAST_TARGET)
    assert str(series.dates[train_last])[:10] == TRAIN_END
    assert origins.size == 746
    assert str(series.dates[origins[0] + 1])[:10] == FIRST_TARGET
    assert str(series.dates[origins[-1] + 1])[:10] == LAST_TARGET
    assert np.all(np.diff(origins) == 1)
    # returns[t] = 100 log(close_t / close_{t-1}), aligned with the session's close
    t = 1000
    assert series.returns[t] == pytest.approx(
        100 * math.log(series.close[t] / series.close[t - 1]), rel=1e-12
    )
    close = frame["close"].to_numpy()
    np.testing.assert_array_equal(vs.percent_log_returns(close), series.returns)


def test_percent_log_returns_by_hand_and_bad_closes():
    got = vs.percent_log_returns([100.0, 110.0, 99.0])
    assert got == pytest.approx([100 * math.log(1.1), 100 * math.log(0.9)], rel=1e-14)
    with pytest.raises(ValueError, match="close must be > 0 \\(position 1\\)"):
        vs.percent_log_returns([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="close needs at least 2 values"):
        vs.percent_log_returns([1.0])


def test_series_from_frame_alignment():
    frame = make_ohlcv(30)
    s = vs.series_from_frame(frame)
    assert s.n == 29
    assert s.dates[0] == frame.index[1].to_datetime64()
    assert s.high[0] == frame["high"].iloc[1] and s.low[-1] == frame["low"].iloc[-1]
    assert s.returns[0] == pytest.approx(
        100 * math.log(frame["close"].iloc[1] / frame["close"].iloc[0]), rel=1e-12
    )


def test_missing_high_or_low_raises_one_line_data_error():
    s = vs.series_from_frame(make_ohlcv(40).drop(columns=["high", "low"]))
    assert s.high is None and s.low is None
    with pytest.raises(DataError) as err:
        vs.series_from_frame(make_ohlcv(40).drop(columns=["low"]))
    assert str(err.value) == "volatility needs column 'low' together with 'high'"
    assert "\n" not in str(err.value)


def test_origins_for_h_step_targets_stay_inside_the_series():
    dates = pd.bdate_range("2020-01-01", periods=20).to_numpy()
    o = vs.origins_for_target_dates(dates, "2020-01-01", "2021-01-01", horizon=3)
    assert o[0] == 0 and o[-1] == 16  # 16 + 3 = 19, the last index
    with pytest.raises(ValueError, match="no forecast origin"):
        vs.origins_for_target_dates(dates, "2022-01-01", "2022-02-01")
