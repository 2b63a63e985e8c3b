"""Baselines: hand-calculated values on small series, causality and train-only fitting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstmfc.forecasters.base import direction_targets, log_return_features, logret_targets
from lstmfc.forecasters.direction import (
    DriftSignClassifier,
    LastSignClassifier,
    LogisticWindowClassifier,
    MajorityClassifier,
    direction_baselines,
)
from lstmfc.forecasters.price import (
    DriftForecaster,
    EMAForecaster,
    NaiveForecaster,
    OLSForecaster,
    SMAForecaster,
    price_baselines,
)

CLOSES = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])


def random_closes(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))


# ---------------------------------------------------------------- helpers


def test_log_return_features_hand_values():
    c = np.array([100.0, 110.0, 99.0, 99.0])
    x = log_return_features(c, [2, 3], lookback=2)
    expected = np.array(
        [
            [math.log(110 / 100), math.log(99 / 110)],
            [math.log(99 / 110), 0.0],
        ]
    )
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="too little history: the first usable row is 2"):
        log_return_features(c, [1], lookback=2)


def test_targets_hand_values():
    c = np.array([100.0, 110.0, 99.0, 99.0])
    np.testing.assert_allclose(logret_targets(c, [0, 1], 2), [math.log(0.99), math.log(0.9)])
    np.testing.assert_array_equal(direction_targets(c, [0, 1, 2], 1), [1, 0, 0])  # tie = 0
    with pytest.raises(ValueError, match="end row 3 is past the last usable row 2"):
        direction_targets(c, [3], 1)


# ---------------------------------------------------------------- price baselines


def test_naive_forecast_is_last_close():
    m = NaiveForecaster().fit(CLOSES, [0, 1, 2], horizon=1)
    np.testing.assert_array_equal(m.forecast(CLOSES, [3, 5]), [13.0, 15.0])


def test_drift_forecast_hand_values():
    # closes 100, 101, 103, 102, 105, 104; training windows end at rows 0, 1, 2; h = 1:
    # the span runs from row 0 to the last training target, row 3:
    # mu = log(102 / 100) / 3 = 0.00660087577 (hand computation), the mean of
    # log(101/100), log(103/101), log(102/103)
    c = np.array([100.0, 101.0, 103.0, 102.0, 105.0, 104.0])
    m = DriftForecaster().fit(c, [0, 1, 2], horizon=1)
    mu = (math.log(101 / 100) + math.log(103 / 101) + math.log(102 / 103)) / 3
    assert m.mu_ == pytest.approx(0.00660087577, abs=1e-11) and m.mu_ == pytest.approx(mu)
    # forecast at row 4 (close 105) for row 5: 105 * exp(mu) = 105.6953845
    assert m.forecast(c, [4])[0] == pytest.approx(105 * math.exp(mu), rel=1e-12)
    assert m.forecast(c, [4])[0] == pytest.approx(105.6953845, abs=1e-6)
    # h = 2: span rows 0..4, mu = log(105/100)/4, forecast close[t] * exp(2 mu)
    m2 = DriftForecaster().fit(c, [0, 1, 2], horizon=2)
    assert m2.mu_ == pytest.approx(math.log(1.05) / 4)
    assert m2.forecast(c, [3])[0] == pytest.approx(102 * 1.05**0.5)
    # the direction version calls up when mu > 0; P(up) = Phi(mu / sigma) for h = 1
    d = DriftSignClassifier().fit(c, [0, 1, 2], horizon=1)
    r = np.diff(np.log(c[:4]))
    from scipy.stats import norm

    assert d.forecast(c, [4, 5])[0] == pytest.approx(norm.cdf(mu / r.std()))
    assert list(d.calls(c, [4, 5])) == [1, 1]
    falling = c[::-1].copy()
    assert list(DriftSignClassifier().fit(falling, [0, 1, 2], 1).calls(falling, [4])) == [0]


def test_sma_hand_values():
    m = SMAForecaster(k=3).fit(CLOSES, [2, 3], horizon=1)
    np.testing.assert_allclose(m.forecast(CLOSES, [2, 4, 5]), [11.0, 13.0, 14.0])
    with pytest.raises(ValueError, match="end row 1 has too little history"):
        m.forecast(CLOSES, [1])


def test_ema_hand_values_and_pandas_equivalence():
    m = EMAForecaster(span=3).fit(np.array([10.0, 20.0, 30.0]), [0], horizon=1)
    # alpha = 2 / (3 + 1) = 0.5: 10, 0.5*20 + 0.5*10 = 15, 0.5*30 + 0.5*15 = 22.5
    np.testing.assert_allclose(m.forecast([10.0, 20.0, 30.0], [0, 1, 2]), [10.0, 15.0, 22.5])

    c = random_closes(200)
    rows = np.arange(200)
    expected = pd.Series(c).ewm(span=20, adjust=False).mean().to_numpy()
    got = EMAForecaster(20).fit(c, [0, 1], 1).forecast(c, rows)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_ols_slope_matches_closed_form_least_squares():
    # lookback 1, horizon 1: regress r[t+1] on r[t] over training rows; closed form slope.
    c = random_closes(40, seed=3)
    r = np.diff(np.log(c))  # r[s-1] = log(c[s]/c[s-1])
    train = np.arange(1, 25)  # t = 1..24: feature r[t-1] = log(c[t]/c[t-1]), target r[t]
    x, y = r[train - 1], r[train]
    slope = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    intercept = y.mean() - slope * x.mean()

    m = OLSForecaster(lookback=1).fit(c, train, horizon=1)
    assert m.coef_[0] == pytest.approx(slope, rel=1e-10)
    assert m.intercept_ == pytest.approx(intercept, rel=1e-10, abs=1e-15)
    test_rows = np.array([30, 35])
    expected = c[test_rows] * np.exp(intercept + slope * r[test_rows - 1])
    np.testing.assert_allclose(m.forecast(c, test_rows), expected, rtol=1e-12)


def test_ols_fits_h_step_log_return_on_window_returns():
    # horizon 2, lookback 3: same coefficients as least squares of log(c[t+2]/c[t])
    c = random_closes(120, seed=5)
    rows = np.arange(3, 100)
    m = OLSForecaster(lookback=3).fit(c, rows, horizon=2)
    x = log_return_features(c, rows, 3)
    y = np.log(c[rows + 2] / c[rows])
    design = np.column_stack([np.ones(rows.size), x])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(m.coef_, beta[1:], rtol=1e-8, atol=1e-12)
    assert m.intercept_ == pytest.approx(beta[0], rel=1e-8, abs=1e-14)


# ---------------------------------------------------------------- direction baselines


def test_majority_classifier_hand_values():
    c = np.array([10.0, 11.0, 12.0, 11.5, 12.5, 13.0, 12.0])
    # directions for t = 0..4 (h = 1): up, up, down, up, up -> up rate 0.8
    m = MajorityClassifier().fit(c, [0, 1, 2, 3, 4], horizon=1)
    assert m.up_rate_ == pytest.approx(0.8)
    np.testing.assert_allclose(m.forecast(c, [5, 6]), [0.8, 0.8])
    np.testing.assert_array_equal(m.calls(c, [5, 6]), [1, 1])

    falling = c[::-1].copy()  # 12, 13, 12.5, 11.5, 12, 11, 10: up, down, down, up, down
    m = MajorityClassifier().fit(falling, [0, 1, 2, 3, 4], horizon=1)
    assert m.up_rate_ == pytest.approx(0.4)
    np.testing.assert_array_equal(m.calls(falling, [5]), [0])

    even = np.array([10.0, 11.0, 10.0, 11.0, 10.0])  # up, down, up, down: a 0.5 tie
    m = MajorityClassifier().fit(even, [0, 1, 2, 3], horizon=1)
    assert m.up_rate_ == 0.5
    np.testing.assert_array_equal(m.calls(even, [4]), [0])  # strict > 0.5, as sklearn


def test_last_sign_classifier_hand_values():
    c = np.array([10.0, 11.0, 10.5, 10.5, 12.0])
    m = LastSignClassifier().fit(c, [1, 2], horizon=1)
    np.testing.assert_array_equal(m.calls(c, [1, 2, 3, 4]), [1, 0, 0, 1])  # flat -> 0
    np.testing.assert_array_equal(m.forecast(c, [1, 2]), [1.0, 0.0])
    with pytest.raises(ValueError, match="end row 0 has too little history"):
        m.calls(c, [0])


def test_logistic_learns_a_persistent_direction():
    # synthetic series whose next return has the sign of the last one 90% of the time
    rng = np.random.default_rng(1)
    n = 600
    signs = np.empty(n)
    signs[0] = 1.0
    for i in range(1, n):
        signs[i] = signs[i - 1] if rng.random() < 0.9 else -signs[i - 1]
    c = 100.0 * np.exp(np.cumsum(signs * rng.uniform(0.002, 0.01, n)))
    train, test = np.arange(5, 400), np.arange(400, n - 1)
    m = LogisticWindowClassifier(lookback=5).fit(c, train, horizon=1)
    assert m.coef_.shape == (5,)
    assert m.coef_[-1] > 0 and abs(m.coef_[-1]) == max(abs(m.coef_))  # last return dominates
    proba = m.forecast(c, test)
    assert proba.shape == (test.size,) and np.all((proba >= 0) & (proba <= 1))
    accuracy = np.mean(m.calls(c, test) == direction_targets(c, test, 1))
    assert accuracy > 0.8


# ---------------------------------------------------------------- leakage / causality


@pytest.mark.parametrize(
    ("make", "params"),
    [
        (lambda: OLSForecaster(lookback=5), lambda m: np.r_[m.coef_, m.intercept_]),
        (lambda: LogisticWindowClassifier(lookback=5), lambda m: m.coef_.copy()),
        (lambda: MajorityClassifier(), lambda m: np.array([m.up_rate_])),
        (lambda: DriftForecaster(), lambda m: np.array([m.mu_, m.sigma_])),
        (lambda: DriftSignClassifier(), lambda m: np.array([m.mu_, m.sigma_])),
    ],
)
def test_fit_sees_training_rows_only(make, params):
    c = random_closes(300, seed=7)
    train = np.arange(10, 200)
    h = 3
    before = params(make().fit(c, train, horizon=h))

    changed = c.copy()
    changed[train.max() + h + 1 :] *= np.random.default_rng(9).uniform(0.5, 2.0, 300 - 203)
    after = params(make().fit(changed, train, horizon=h))
    np.testing.assert_array_equal(before, after)

    # the test can fail: flipping the direction of the last training target changes the fit
    touched = c.copy()
    last = train.max()
    touched[last + h] = c[last] * (0.5 if c[last + h] > c[last] else 2.0)
    assert not np.array_equal(before, params(make().fit(touched, train, horizon=h)))


@pytest.mark.parametrize(
    "model",
    [
        NaiveForecaster(),
        SMAForecaster(5),
        EMAForecaster(5),
        OLSForecaster(5),
        DriftForecaster(),
        MajorityClassifier(),
        DriftSignClassifier(),
        LastSignClassifier(),
        LogisticWindowClassifier(5),
    ],
    ids=lambda m: f"{type(m).__name__}",
)
def test_prediction_at_t_reads_closes_up_to_t_only(model):
    c = random_closes(200, seed=11)
    model.fit(c, np.arange(10, 120), horizon=1)
    rows = np.arange(150, 170)
    base = model.forecast(c, rows)
    for i, t in enumerate(rows):
        future = c.copy()
        future[t + 1 :] *= 3.0
        # batch vs single-row BLAS calls may differ in the last bit, hence rtol
        np.testing.assert_allclose(model.forecast(future, [t]), base[i], rtol=1e-12)
    # the test can fail: changing the close at t itself moves every forecast but the
    # constant ones (majority class, sign of the drift)
    if not isinstance(model, MajorityClassifier | DriftSignClassifier):
        moved = c.copy()
        moved[rows[-1]] *= 0.5
        assert model.forecast(moved, rows[-1:])[0] != base[-1]


# ---------------------------------------------------------------- errors and sets


def test_input_errors():
    c = random_closes(50)
    with pytest.raises(ValueError, match="NaiveForecaster is not fitted"):
        NaiveForecaster().forecast(c, [3])
    with pytest.raises(ValueError, match=r"closes must be finite and > 0 \(row 2: nan\)"):
        NaiveForecaster().fit(np.r_[1.0, 2.0, np.nan], [0], 1)
    with pytest.raises(ValueError, match=r"closes must be finite and > 0 \(row 1: -2.0\)"):
        NaiveForecaster().fit([1.0, -2.0, 3.0], [0], 1)
    with pytest.raises(ValueError, match="closes must be 1-D"):
        NaiveForecaster().fit(c.reshape(5, 10), [0], 1)
    with pytest.raises(ValueError, match="horizon must be an integer >= 1, got 0"):
        NaiveForecaster().fit(c, [0], 0)
    with pytest.raises(ValueError, match="end row 49 is past the last usable row 48"):
        OLSForecaster(3).fit(c, [10, 49], 1)
    with pytest.raises(ValueError, match="end_rows is empty"):
        NaiveForecaster().fit(c, [], 1)
    with pytest.raises(ValueError, match="SMA window k must be an integer >= 1"):
        SMAForecaster(0)
    with pytest.raises(ValueError, match="one class"):
        LogisticWindowClassifier(2).fit(np.arange(1.0, 30.0), np.arange(3, 20), 1)


def test_standard_baseline_sets():
    prices = price_baselines(lookback=30, sma_k=10, ema_span=15)
    assert list(prices) == ["naive", "drift", "sma", "ema", "ols"]
    assert prices["sma"].k == 10 and prices["ema"].span == 15 and prices["ols"].lookback == 30
    assert repr(prices["ols"]) == "OLSForecaster(lookback=30)"
    directions = direction_baselines(lookback=30)
    assert list(directions) == ["majority", "drift", "last_sign", "logistic"]
    assert directions["logistic"].lookback == 30
