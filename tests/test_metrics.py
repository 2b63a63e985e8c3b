"""Metrics, skill tests and trading view: known answers from hand calculations, published
reference values and independent library computations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from lstmfc.stats.metrics import (
    direction_metrics,
    directional_accuracy,
    mae,
    mape,
    price_metrics,
    rmse,
    roc_auc,
    theils_u,
)
from lstmfc.stats.outcome import Outcome
from lstmfc.stats.skill import binomial_test, diebold_mariano, pesaran_timmermann
from lstmfc.stats.trading import buy_and_hold, long_flat_backtest, price_to_signal

# ---------------------------------------------------------------- price metrics

Y = [100.0, 102.0, 101.0]  # close[t+1]
F = [101.0, 101.0, 103.0]  # forecasts: errors -1, +1, -2
C = [100.0, 100.0, 102.0]  # close[t]: naive errors 0, +2, -1


def test_price_metrics_hand_values():
    assert rmse(Y, F) == pytest.approx(math.sqrt(2.0))  # sqrt((1 + 1 + 4) / 3)
    assert mae(Y, F) == pytest.approx(4.0 / 3.0)
    assert mape(Y, F) == pytest.approx(100.0 * (1 / 100 + 1 / 102 + 2 / 101) / 3)
    assert theils_u(Y, F, C) == pytest.approx(math.sqrt(2.0) / math.sqrt(5.0 / 3.0))
    # realised up: no (tie), yes, no; forecast up: yes, yes, yes -> 1 of 3 right
    assert directional_accuracy(Y, F, C) == pytest.approx(1.0 / 3.0)
    got = price_metrics(Y, F, C)
    assert got == pytest.approx(
        {
            "rmse": math.sqrt(2.0),
            "mae": 4.0 / 3.0,
            "mape": 100.0 * (1 / 100 + 1 / 102 + 2 / 101) / 3,
            "directional_accuracy": 1.0 / 3.0,
            "theils_u": math.sqrt(6.0 / 5.0),
        }
    )
    assert price_metrics(Y, C, C)["theils_u"] == pytest.approx(1.0)


def test_directional_accuracy_no_change_forecast_scores_half():
    y, c = [11.0, 9.0, 10.0, 12.0], [10.0, 10.0, 10.0, 10.0]
    assert directional_accuracy(y, c, c) == 0.5  # naive makes no call
    # up right, down right, no call, up wrong-way
    assert directional_accuracy(y, [10.5, 9.5, 10.0, 9.0], c) == pytest.approx(2.5 / 4)


def test_price_to_signal():
    np.testing.assert_array_equal(price_to_signal([10.5, 9.5, 10.0], [10.0] * 3), [1, 0, 0])


def test_price_metric_errors():
    with pytest.raises(ValueError, match="length mismatch: y_true=3, y_pred=2"):
        rmse(Y, F[:2])
    with pytest.raises(ValueError, match="y_true is empty"):
        mae([], [])
    with pytest.raises(ValueError, match="y_pred has a non-finite value at position 1"):
        rmse(Y, [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="MAPE undefined: y_true is 0 at position 1"):
        mape([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="naive forecast has zero RMSE"):
        theils_u(Y, F, Y)
    with pytest.raises(ValueError, match="must be 1-D"):
        rmse(np.ones((2, 2)), np.ones((2, 2)))


# ---------------------------------------------------------------- direction metrics


def test_direction_metrics_hand_values():
    y = [1, 0, 1, 1]
    p = [0.8, 0.4, 0.3, 0.9]  # calls 1, 0, 0, 1
    got = direction_metrics(y, p)
    assert got["accuracy"] == pytest.approx(0.75)
    assert got["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert got["brier"] == pytest.approx((0.04 + 0.16 + 0.49 + 0.01) / 4)
    assert got["log_loss"] == pytest.approx(
        -(math.log(0.8) + math.log(0.6) + math.log(0.3) + math.log(0.9)) / 4
    )
    assert got["roc_auc"] == pytest.approx(2 / 3)  # positives .8 .3 .9 vs negative .4
    assert got["up_rate"] == 0.75 and got["note"] is None
    # explicit calls override the threshold
    assert direction_metrics(y, p, y_pred=[1, 1, 1, 1])["accuracy"] == 0.75
    assert direction_metrics(y, p, threshold=0.35)["accuracy"] == 0.5
    # a probability of exactly 0.5 calls "not up" (strict >, as scikit-learn's predict)
    assert direction_metrics([0, 0, 1], [0.5, 0.5, 0.6])["accuracy"] == 1.0


def test_single_class_test_set_is_handled():
    auc, reason = roc_auc([1, 1, 1], [0.2, 0.6, 0.9])
    assert auc is None
    assert reason == "ROC AUC undefined: every test target is up (one class only)"
    got = direction_metrics([0, 0], [0.2, 0.6])
    assert got["roc_auc"] is None
    assert got["note"].startswith("ROC AUC undefined: every test target is not-up")
    assert got["accuracy"] == 0.5 and got["balanced_accuracy"] == 0.5
    json.dumps(got)


def test_direction_metric_errors():
    with pytest.raises(ValueError, match=r"y_true must contain only 0 and 1 \(position 1: 2.0\)"):
        direction_metrics([1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"proba must lie in \[0, 1\]"):
        direction_metrics([1, 0], [0.5, 1.5])
    with pytest.raises(ValueError, match="length mismatch"):
        direction_metrics([1, 0], [0.5])


# ---------------------------------------------------------------- Diebold-Mariano


def test_dm_known_answer_h1_squared_loss():
    # y = 0, model errors 0..5, naive errors 0,2,3,3,5,6: d = 0,-3,-5,0,-9,-11
    # d_bar = -14/3, gamma_0 = 948/54, DM = d_bar / sqrt(gamma_0 / 6) = -2.72818...
    # HLN factor sqrt((6 + 1 - 2) / 6) -> DM* = -2.4905, two-sided p (t, 5 df) = 0.05513,
    # the reference values of R forecast::dm.test's formula as reproduced in the
    # edoannunziata/dieboldmariano test suite.
    res = diebold_mariano([0.0] * 6, [0, 1, 2, 3, 4, 5], [0, 2, 3, 3, 5, 6])
    dm = (-14 / 3) / math.sqrt(948 / 54 / 6)
    assert res.statistic == pytest.approx(dm * math.sqrt(5 / 6), rel=1e-12)
    assert res.statistic == pytest.approx(-2.4905, abs=5e-5)
    assert res.p_value_two_sided == pytest.approx(0.05513, abs=5e-6)
    assert res.p_value == pytest.approx(res.p_value_two_sided / 2)
    assert res.verdict == "beats naive (p=0.0276)"
    assert res.details["df"] == 5 and res.details["variance_estimator"] == "acf"


P1 = [0.3675225224615024, 0.5450608127223211, 0.22044990720021074, 0.8688743471040006,
      0.6072512228948467, 0.8582283746501538, 0.41662295816718187, 0.3812100211114714,
      0.7185133356116706, 0.30827323290318875, 0.4297093624074402, 0.8615974488577858,
      0.7240514514808826, 0.3450839595261038, 0.19675301374013598]  # fmt: skip
P2 = [0.12794132529988733, 0.3679643204341153, 0.768715420996091, 0.09972248964114683,
      0.27197653636654284, 0.28797629010039505, 0.9160213458582482, 0.6112628048698798,
      0.5452873235576241, 0.06785907231746158, 0.6072666485541124, 0.6241575753989782,
      0.39998026828867217, 0.19895665605941748, 0.8094941215215619]  # fmt: skip


def test_dm_known_answer_h3_absolute_loss():
    # reference (same source): h = 3, absolute loss, DM* = 1.2109, one-sided p = 0.877
    res = diebold_mariano([0.0] * 15, P1, P2, horizon=3, loss="absolute")
    assert res.statistic == pytest.approx(1.2109, abs=5e-5)
    assert res.p_value == pytest.approx(0.877, abs=5e-4)
    assert res.verdict == "no skill over naive"


def test_dm_h3_matches_statsmodels_uniform_kernel_hac():
    # independent computation: t-stat of a constant-only OLS with a truncated (uniform
    # kernel) HAC variance over h-1 = 2 lags, times the HLN factor
    from statsmodels.regression.linear_model import OLS

    d = np.abs(P1) - np.abs(P2)
    hac = OLS(d, np.ones_like(d)).fit(cov_type="HAC", cov_kwds={"maxlags": 2, "kernel": "uniform"})
    n, h = 15, 3
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    res = diebold_mariano(np.zeros(n), P1, P2, horizon=h, loss="absolute")
    assert res.statistic == pytest.approx(hln * hac.tvalues[0], rel=1e-10)


@pytest.mark.parametrize(("loss", "criterion"), [("squared", "mse"), ("absolute", "mae")])
def test_dm_h1_matches_statsmodels(loss, criterion):
    from statsmodels.tsa.stattools import diebold_mariano_test

    rng = np.random.default_rng(4)
    y, f, b = rng.normal(size=(3, 80))
    ref = diebold_mariano_test(y, f, b, lags=0, criterion=criterion, harvey_adj=True, horizon=1)
    res = diebold_mariano(y, f, b, loss=loss)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value_two_sided == pytest.approx(ref.pvalue, rel=1e-10)


def test_dm_verdicts_on_synthetic_forecasts():
    rng = np.random.default_rng(0)
    y = 100 + np.cumsum(rng.normal(size=300))
    naive = np.r_[100.0, y[:-1]]
    noise = rng.normal(size=300)
    # a model that is naive plus noise is significantly worse
    worse = diebold_mariano(y, naive + 2.0 * noise, naive)
    assert worse.outcome is Outcome.WORSE and worse.verdict.startswith("worse than naive (p=")
    assert worse.details["p_value_worse"] < 0.05 < worse.p_value
    # a model that saw the future beats naive
    better = diebold_mariano(y, y + 0.1 * noise, naive)
    assert better.outcome is Outcome.BEATS and better.p_value < 0.05
    # a model barely different from naive: no skill, said plainly
    same = diebold_mariano(y, naive + 1e-3 * noise, naive)
    assert same.verdict == "no skill over naive"
    assert same.p_value >= 0.05
    json.dumps(same.to_dict())


def test_dm_identical_forecasts_have_no_statistic():
    y = [1.0, 2.0, 3.0, 4.0]
    res = diebold_mariano(y, [1.5, 2.5, 2.5, 4.5], [1.5, 2.5, 2.5, 4.5])
    assert res.statistic is None and res.p_value is None
    assert res.verdict == "no skill over naive"
    assert "zero variance" in res.note


def test_dm_falls_back_to_bartlett_when_truncated_variance_is_negative():
    # d alternates 1, 3, 1, 3 ... (naive loss 0): gamma_0 = 1, gamma_1 = -(n-1)/n, so
    # gamma_0 + 2 gamma_1 < 0 at h = 2; Bartlett: (gamma_0 + gamma_1) / n = 1 / n**2
    n, h = 20, 2
    d = np.tile([1.0, 3.0], n // 2)
    res = diebold_mariano(np.zeros(n), np.sqrt(d), np.zeros(n), horizon=h)
    assert res.details["variance_estimator"] == "bartlett"
    assert "Bartlett" in res.note
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert res.statistic == pytest.approx(hln * 2.0 / math.sqrt(1 / n**2), rel=1e-10)
    assert res.outcome is Outcome.WORSE


def test_dm_errors():
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        diebold_mariano([1, 2], [1, 2], [1, 2], loss="huber")
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        diebold_mariano([1, 2], [1, 2], [1, 2], horizon=0)
    with pytest.raises(ValueError, match=r"too few forecasts \(3\) for a Diebold-Mariano test"):
        diebold_mariano([1, 2, 3], [1, 2, 3], [1, 2, 4], horizon=3)
    with pytest.raises(ValueError, match="length mismatch"):
        diebold_mariano([1, 2, 3], [1, 2], [1, 2, 3])


# ---------------------------------------------------------------- direction skill tests


def test_pesaran_timmermann_hand_computation():
    y = [1, 1, 0, 0, 1, 0, 1, 1]
    p = [1, 0, 0, 0, 1, 1, 1, 0]
    # hits 5/8; py = 5/8, pz = 1/2 -> P* = 1/2; v = P*(1-P*)/8 = 1/32;
    # w = (2py-1)^2 pz(1-pz)/8 + (2pz-1)^2 py(1-py)/8 = (1/16)(1/4)/8 = 1/512
    stat = (5 / 8 - 1 / 2) / math.sqrt(1 / 32 - 1 / 512)
    res = pesaran_timmermann(y, p)
    assert res.statistic == pytest.approx(stat, rel=1e-12)
    assert res.statistic == pytest.approx(0.73030, abs=5e-6)
    assert res.p_value == pytest.approx(stats.norm.sf(stat), rel=1e-12)
    assert res.p_value_two_sided == pytest.approx(2 * stats.norm.sf(stat), rel=1e-12)
    assert res.details["hit_rate"] == 5 / 8 and res.details["hit_rate_if_independent"] == 0.5
    assert res.verdict == "no skill over chance"


def test_pesaran_timmermann_detects_skill_and_handles_constant_calls():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    p = np.where(rng.random(400) < 0.8, y, 1 - y)  # right 80% of the time
    res = pesaran_timmermann(y, p)
    assert res.outcome is Outcome.BEATS and res.p_value < 1e-6

    always_up = pesaran_timmermann(y, np.ones(400, dtype=int))
    assert always_up.statistic is None and always_up.p_value is None
    assert always_up.verdict == "no skill over chance"
    assert always_up.note == "test undefined: all predictions are the same class"
    one_class = pesaran_timmermann(np.ones(400, dtype=int), p)
    assert one_class.note == "test undefined: all outcomes are the same class"


def test_binomial_test_known_answers():
    y = [1] * 10
    # 8 of 10 right: P(X >= 8 | n=10, p=.5) = (45 + 10 + 1) / 1024
    res = binomial_test(y, [1] * 8 + [0] * 2)
    assert res.statistic == 0.8
    assert res.p_value == pytest.approx(56 / 1024, rel=1e-12)
    assert res.verdict == "no skill over chance"
    res = binomial_test(y, [1] * 9 + [0])
    assert res.p_value == pytest.approx(11 / 1024, rel=1e-12)
    assert res.verdict == "beats chance (p=0.0107)"
    res = binomial_test(y, [1] * 9 + [0], p0=0.9, benchmark="majority")
    assert res.verdict == "no skill over majority" and res.details["k"] == 9
    with pytest.raises(ValueError, match=r"p0 must lie in \(0, 1\), got 1"):
        binomial_test(y, y, p0=1)


# ---------------------------------------------------------------- trading view

SIGNAL = [1, 0, 1, 1]
LOGRET = [0.10, -0.05, 0.02, -0.01]


def test_long_flat_backtest_hand_values():
    res = long_flat_backtest(SIGNAL, LOGRET)
    strat = np.array([0.10, 0.0, 0.02, -0.01])
    simple = np.expm1(strat)
    assert res["total_return"] == pytest.approx(math.exp(0.11) - 1)
    assert res["annualised_return"] == pytest.approx(math.exp(252 * 0.11 / 4) - 1)
    vol = np.std(simple, ddof=1)
    assert res["annualised_volatility"] == pytest.approx(vol * math.sqrt(252))
    assert res["sharpe"] == pytest.approx(simple.mean() / vol * math.sqrt(252))
    assert res["max_drawdown"] == pytest.approx(1 - math.exp(-0.01))  # peak 0.12 -> 0.11
    assert res["hit_rate"] == pytest.approx(2 / 3)  # long periods: +0.10, +0.02, -0.01
    assert res["n_trades"] == 3  # in, out, in
    assert res["exposure"] == 0.75 and res["n_periods"] == 4
    json.dumps(res)


def test_transaction_costs_are_charged_per_position_change():
    res = long_flat_backtest(SIGNAL, LOGRET, cost_bps=10.0)
    total_log = 0.11 + 3 * math.log(1 - 0.001)
    assert res["total_return"] == pytest.approx(math.exp(total_log) - 1)
    assert res["cost_bps"] == 10.0
    hold = buy_and_hold(LOGRET, cost_bps=10.0)
    assert hold["n_trades"] == 1 and hold["exposure"] == 1.0
    assert hold["total_return"] == pytest.approx(math.exp(0.06 + math.log(0.999)) - 1)
    # drawdown: wealth .999e^.10, .999e^.05 ... peak-to-trough e^.10 -> e^.05
    assert hold["max_drawdown"] == pytest.approx(1 - math.exp(-0.05))
    assert hold["hit_rate"] == 0.5


def test_backtest_horizon_uses_non_overlapping_periods():
    res = long_flat_backtest([1, 0, 0, 1, 1], [0.02, 0.5, -0.03, 0.5, 0.04], horizon=2)
    # rows 0, 2, 4: long +0.02, flat, long +0.04 -> 3 trades, 126 periods per year
    assert res["n_periods"] == 3 and res["periods_per_year"] == 126.0
    assert res["total_return"] == pytest.approx(math.exp(0.06) - 1)
    assert res["annualised_return"] == pytest.approx(math.exp(126 * 0.02) - 1)
    assert res["n_trades"] == 3


def test_never_long_has_no_sharpe_or_hit_rate():
    res = long_flat_backtest([0, 0, 0], [0.01, -0.02, 0.03])
    assert res["sharpe"] is None and res["hit_rate"] is None
    assert res["total_return"] == 0.0 and res["max_drawdown"] == 0.0 and res["n_trades"] == 0


def test_backtest_errors():
    with pytest.raises(ValueError, match=r"cost_bps must lie in \[0, 10000\), got -1"):
        long_flat_backtest(SIGNAL, LOGRET, cost_bps=-1)
    with pytest.raises(ValueError, match=r"signal must contain only 0 and 1 \(position 0"):
        long_flat_backtest([0.5, 1, 1, 1], LOGRET)
    with pytest.raises(ValueError, match="length mismatch: signal=3, realised_logret=4"):
        long_flat_backtest([1, 1, 1], LOGRET)
