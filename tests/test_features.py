"""Feature columns: known values, warm-up, causality (no look-ahead). The targets:
tests/test_targets.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmfc.core.errors import DataError
from lstmfc.dataset.features import (
    FEATURE_SETS,
    GARCH_KEYS,
    WARMUP_ROWS,
    build_features,
    feature_columns,
    parse_features,
    warmup_rows,
)
from lstmfc.dataset.garch_feature import fit_garch_feature
from lstmfc.volatility.garch11 import garch11_one_step
from lstmfc.volatility.models import garch_variance_feature
from tests.conftest import make_ohlcv

# ``garch`` needs parameters fit on training rows (``prepare`` fits them): tested with
# them below and in tests/test_vol_head.py.
ALL = tuple(name for name in FEATURE_SETS if name != "garch")

# Wilder's RSI worked example as published by StockCharts ("RSI" ChartSchool article,
# cs-rsi.xls): 33 closes and the RSI(14) from the 15th close on. The spreadsheet rounds
# its intermediate averages to 2 decimals, so it differs from exact arithmetic by < 0.1.
RSI_CLOSES = [
    44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89,
    46.03, 45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25,
    45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13,
]  # fmt: skip
RSI_STOCKCHARTS = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
    54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def _raw_from_close(close) -> pd.DataFrame:
    close = np.asarray(close, dtype="float64")
    idx = pd.bdate_range("2021-01-04", periods=len(close), name="date")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
        index=idx,
    )


def _wilder_rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    """Textbook Wilder RSI: seed with the mean of the first n changes, then smooth."""
    d = np.diff(close)
    gain, loss = np.clip(d, 0, None), np.clip(-d, 0, None)
    out = np.full(len(close), np.nan)
    ag, al = gain[:n].mean(), loss[:n].mean()
    out[n] = 100 - 100 / (1 + ag / al)
    for i in range(n, len(d)):
        ag = (ag * (n - 1) + gain[i]) / n
        al = (al * (n - 1) + loss[i]) / n
        out[i + 1] = 100 - 100 / (1 + ag / al)
    return out


# ------------------------------------------------------------------ parsing
def test_parse_features_keeps_order_drops_repeats_and_case():
    assert parse_features("RSI, close,rsi") == ("rsi", "close")
    assert parse_features(["close,macd", "bbp"]) == ("close", "macd", "bbp")


def test_feature_columns_drop_repeated_columns():
    assert feature_columns("close,ohlcv,volume") == [
        "close",
        "open",
        "high",
        "low",
        "volume_log1p",
    ]
    assert feature_columns("macd,logret") == ["macd", "macd_signal", "macd_hist", "logret"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("close,foo", "unknown feature 'foo'; valid features: close, ohlcv, logret, volume, "
         "rsi, macd, bbp, absret, sqret, logrange, rv5, rv22, garch"),
        (" , ", "no features given; valid features: close, ohlcv, logret, volume, rsi, "
         "macd, bbp, absret, sqret, logrange, rv5, rv22, garch"),
    ],
)  # fmt: skip
def test_parse_features_errors(spec, message):
    with pytest.raises(DataError) as exc:
        parse_features(spec)
    assert str(exc.value) == message


# ------------------------------------------------------------------ frame
def test_build_features_layout_and_warmup():
    raw = make_ohlcv(300)
    frame, warm = build_features(raw, ALL)
    assert list(frame.columns) == feature_columns(ALL)
    assert all(str(d) == "float64" for d in frame.dtypes)
    assert frame.index.name == "date"
    assert warm == 33 == warmup_rows(ALL)
    assert len(frame) == 300 - 33
    assert frame.index[0] == raw.index[33]
    assert np.isfinite(frame.to_numpy()).all()


@pytest.mark.parametrize("name", ALL)
def test_warmup_of_each_feature_set_matches_its_lookback(name):
    frame, warm = build_features(make_ohlcv(120), [name])
    assert warm == WARMUP_ROWS[name]
    assert list(frame.columns) == list(FEATURE_SETS[name])


def test_rsi_matches_wilder_textbook_example():
    frame, warm = build_features(_raw_from_close(RSI_CLOSES), ["rsi"])
    rsi = frame["rsi_14"].to_numpy()
    assert warm == 14
    # first value by hand: gains 0.06+0.72+0.50+0.27+0.32+0.42+0.24+0.14+0.67 = 3.34,
    # losses 0.25+0.54+0.19+0.42 = 1.40 over the first 14 changes
    assert rsi[0] == pytest.approx(100 - 100 / (1 + 3.34 / 1.40), abs=1e-9)
    assert round(rsi[0], 2) == 70.46
    np.testing.assert_allclose(rsi, _wilder_rsi(np.array(RSI_CLOSES))[14:], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rsi, RSI_STOCKCHARTS, atol=0.1)


def test_macd_is_ema12_minus_ema26_over_close():
    raw = make_ohlcv(600, seed=3)
    frame, warm = build_features(raw, ["macd"])
    c = raw["close"]
    ema = lambda s, n: s.ewm(span=n, adjust=False).mean()  # noqa: E731
    line = ema(c, 12) - ema(c, 26)
    signal = ema(line, 9)
    tail = slice(300, None)  # the EMA seeds (SMA vs first value) have decayed by then
    got = frame.iloc[300 - warm :]
    np.testing.assert_allclose(got["macd"], (line / c).iloc[tail], atol=1e-10)
    np.testing.assert_allclose(got["macd_signal"], (signal / c).iloc[tail], atol=1e-10)
    np.testing.assert_allclose(got["macd_hist"], ((line - signal) / c).iloc[tail], atol=1e-10)


def test_bollinger_pctb_matches_rolling_formula():
    raw = make_ohlcv(200, seed=4)
    frame, warm = build_features(raw, ["bbp"])
    c = raw["close"]
    mid, sd = c.rolling(20).mean(), c.rolling(20).std(ddof=0)
    expected = ((c - (mid - 2 * sd)) / (4 * sd)).iloc[warm:]
    assert warm == 19
    np.testing.assert_allclose(frame["bb_pctb"], expected, rtol=1e-9)


def test_bollinger_pctb_of_flat_prices_is_one_half():
    frame, _ = build_features(_raw_from_close([50.0] * 30), ["bbp"])
    assert (frame["bb_pctb"] == 0.5).all()


def test_logret_and_volume_exact():
    raw = make_ohlcv(50)
    frame, warm = build_features(raw, ["logret", "volume"])
    assert warm == 1
    c = raw["close"].to_numpy()
    np.testing.assert_array_equal(frame["logret"], np.log(c[1:] / c[:-1]))
    np.testing.assert_array_equal(frame["volume_log1p"], np.log1p(raw["volume"].to_numpy()[1:]))


def test_missing_column_and_bad_prices_are_data_errors():
    raw = make_ohlcv(60).drop(columns="volume")
    with pytest.raises(DataError) as exc:
        build_features(raw, ["close", "volume"])
    assert str(exc.value) == "raw data has no 'volume' column (needed by feature 'volume')"
    raw = make_ohlcv(60)
    raw.iloc[5, raw.columns.get_loc("close")] = 0.0
    with pytest.raises(DataError) as exc:
        build_features(raw, ["close"])
    assert str(exc.value) == "raw data has an invalid close value (0.0) on 2020-01-08"


def test_unordered_or_repeated_dates_are_data_errors():
    raw = make_ohlcv(30)
    swapped = raw.iloc[[0, 1, 2, 4, 3, 5]]
    with pytest.raises(DataError) as exc:
        build_features(swapped, ["close"])
    assert str(exc.value) == "raw dates are not strictly increasing (at 2020-01-06)"
    repeated = raw.iloc[[0, 1, 1, 2]]
    with pytest.raises(DataError, match=r"not strictly increasing \(at 2020-01-02\)"):
        build_features(repeated, ["close"])


# ------------------------------------------------------------- causality
def _check_causal(build, raw: pd.DataFrame, t: int, factor: float) -> None:
    """Assert rows <= t of build(raw) ignore rows after t (changed or removed)."""
    full = build(raw)
    changed = raw.copy()
    changed.iloc[t + 1 :] = changed.iloc[t + 1 :] * factor
    upto = raw.index[t]
    pd.testing.assert_frame_equal(full.loc[:upto], build(changed).loc[:upto], check_exact=True)
    pd.testing.assert_frame_equal(full.loc[:upto], build(raw.iloc[: t + 1]), check_exact=True)


@settings(max_examples=40, deadline=None)
@given(
    t=st.integers(min_value=0, max_value=248),
    factor=st.floats(min_value=0.2, max_value=5.0).filter(lambda f: f != 1.0),
    seed=st.integers(0, 1000),
)
def test_features_at_t_use_only_rows_up_to_t(t, factor, seed):
    _check_causal(lambda r: build_features(r, ALL)[0], make_ohlcv(250, seed=seed), t, factor)


def test_causality_check_catches_a_look_ahead_feature():
    """The same check fails for a feature that peeks ahead (a centred moving average)."""

    def peeking(r):
        frame, _ = build_features(r, ALL)
        return frame.assign(centred=r["close"].rolling(5, center=True, min_periods=1).mean())

    with pytest.raises(AssertionError):
        _check_causal(peeking, make_ohlcv(250), 100, 2.0)


# ------------------------------------------------------------------ garch
def _bollerslev_by_hand(r: np.ndarray, p: dict) -> np.ndarray:
    """GARCH(1,1) one-step variances written out (Bollerslev 1986): sigma2_0 from the
    backcast, then sigma2_{t+1} = omega + alpha * (r_t - mu)**2 + beta * sigma2_t."""
    s = p["omega"] + p["alpha"] * p["backcast"] + p["beta"] * p["backcast"]
    out = []
    for x in r:
        s = p["omega"] + p["alpha"] * (x - p["mu"]) ** 2 + p["beta"] * s
        out.append(s)
    return np.array(out)


def test_garch_feature_is_the_volatility_package_filter_with_stored_parameters():
    raw = make_ohlcv(600, seed=11)
    r = 100 * np.diff(np.log(raw["close"].to_numpy()))
    params = fit_garch_feature(raw, 400)  # returns ending at raw rows 1..400
    assert params["fit_rows"] == [0, 400] and set(GARCH_KEYS) <= set(params)
    frame, warm = build_features(raw, ["garch"], garch=params)
    assert warm == 1 and len(frame) == 599
    # the fit-and-filter of lstmfc.volatility bit for bit (arch's own recursion)
    np.testing.assert_array_equal(frame["garch"], garch_variance_feature(r, 399))
    # and the recursion written out by hand, up to float rounding
    np.testing.assert_allclose(frame["garch"], _bollerslev_by_hand(r, params), rtol=1e-12)
    np.testing.assert_array_equal(garch11_one_step(r, params), frame["garch"])
    assert garch11_one_step(r[:0], params).shape == (0,)
