"""Tests of lstmfc.volatility.models: known answers by hand, arch/statsmodels run here, leak checks.

Reference figures (SP500 sample, fit through 2013-01-28, 746 one-step targets
2016-01-14 .. 2018-12-31, r^2 proxy) were measured independently with arch 8.0 by the
issue author.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmfc.core.errors import DataError
from lstmfc.stats.skill import diebold_mariano, diebold_mariano_differential
from lstmfc.volatility import models as vol
from tests.conftest import make_ohlcv

TRAIN_END = "2013-01-28"
FIRST_TARGET, LAST_TARGET = "2016-01-14", "2018-12-31"


@pytest.fixture(scope="module")
def sp500():
    from lstmfc.data.sources import read_sample

    series = vol.series_from_frame(read_sample("SP500")[0])
    train_last = vol.last_index_on_or_before(series.dates, TRAIN_END)
    origins = vol.origins_for_target_dates(series.dates, FIRST_TARGET, LAST_TARGET)
    return series, train_last, origins


def _arch_fit_params(returns, train_last, kind="GARCH", o=0, dist="normal"):
    from arch import arch_model

    fit = arch_model(
        returns[: train_last + 1], mean="Constant", vol=kind, p=1, o=o, q=1, dist=dist
    ).fit(disp="off")
    return fit.params.to_numpy()


# ---------------------------------------------------------------------------
# series, dates, origins
# ---------------------------------------------------------------------------


def test_series_and_origin_helpers_on_the_sample(sp500):
    series, train_last, origins = sp500
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


def test_series_from_frame_alignment():
    frame = make_ohlcv(30)
    s = vol.series_from_frame(frame)
    assert s.n == 29
    assert s.dates[0] == frame.index[1].to_datetime64()
    assert s.high[0] == frame["high"].iloc[1] and s.low[-1] == frame["low"].iloc[-1]
    assert s.returns[0] == pytest.approx(
        100 * math.log(frame["close"].iloc[1] / frame["close"].iloc[0]), rel=1e-12
    )


def test_origins_for_h_step_targets_stay_inside_the_series():
    dates = pd.bdate_range("2020-01-01", periods=20).to_numpy()
    o = vol.origins_for_target_dates(dates, "2020-01-01", "2021-01-01", horizon=3)
    assert o[0] == 0 and o[-1] == 16  # 16 + 3 = 19, the last index
    with pytest.raises(ValueError, match="no forecast origin"):
        vol.origins_for_target_dates(dates, "2022-01-01", "2022-02-01")


# ---------------------------------------------------------------------------
# proxies
# ---------------------------------------------------------------------------


def test_squared_return_proxies_by_hand():
    r = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    assert vol.squared_return_proxy(r, [0, 2]).tolist() == [4.0, 9.0]
    assert vol.squared_return_proxy(r, [0, 1], 3).tolist() == [4 + 0.25 + 9, 0.25 + 9 + 1]
    sq = vol.squared_return_proxy(r, [0, 1], 3, aggregate="square_of_sum")
    assert sq.tolist() == [(-2 + 0.5 + 3) ** 2, (0.5 + 3 - 1) ** 2]
    with pytest.raises(ValueError, match="origin 2 at position 1 is past 1"):
        vol.squared_return_proxy(r, [0, 2], 3)


def test_parkinson_by_hand():
    high = np.array([102.0, 110.0, 50.0])
    low = np.array([100.0, 100.0, 50.0])
    expect = [
        (100 * math.log(h / lo)) ** 2 / (4 * math.log(2)) for h, lo in zip(high, low, strict=True)
    ]
    assert vol.parkinson_variance(high, low) == pytest.approx(expect, rel=1e-13)
    assert expect[0] == pytest.approx(1.4143, rel=1e-4)  # (1.98026 %)^2 / 2.77259
    assert vol.parkinson_proxy(high, low, [0], 2) == pytest.approx([expect[1] + expect[2]])
    with pytest.raises(ValueError, match="high below low at position 0"):
        vol.parkinson_variance([1.0], [2.0])


def test_missing_high_low_raise_one_line_data_error():
    frame = make_ohlcv(40).drop(columns=["high", "low"])
    s = vol.series_from_frame(frame)
    assert s.high is None and s.low is None
    with pytest.raises(DataError) as err:
        vol.volatility_features(s, ["log_return", "log_range"])
    assert (
        str(err.value) == "volatility feature 'log_range' needs column 'high', which the data lacks"
    )
    with pytest.raises(DataError, match="needs column 'low'"):
        vol.parkinson_proxy(np.ones(5), None, [0])
    with pytest.raises(DataError, match="needs column 'high'"):
        vol.parkinson_proxy(None, np.ones(5), [0])
    with pytest.raises(DataError) as err:
        vol.series_from_frame(make_ohlcv(40).drop(columns=["low"]))
    assert str(err.value) == "volatility needs column 'low' together with 'high'"
    assert "\n" not in str(err.value)
    # features that need only closes still work
    assert set(vol.volatility_features(s, ["log_return", "rv5"])) == {"log_return", "rv5"}


# ---------------------------------------------------------------------------
# loss functions, Mincer-Zarnowitz, DM, MCS
# ---------------------------------------------------------------------------


def test_qlike_mse_mae_by_hand():
    proxy = np.array([1.0, 4.0, 0.0])
    f = np.array([2.0, 1.0, 0.5])
    ql = [math.log(2) + 0.5, 0.0 + 4.0, math.log(0.5) + 0.0]
    assert vol.qlike_losses(proxy, f) == pytest.approx(ql, rel=1e-14)
    assert vol.qlike(proxy, f) == pytest.approx(sum(ql) / 3, rel=1e-14)
    assert vol.mse_losses(proxy, f).tolist() == [1.0, 9.0, 0.25]
    assert vol.mse(proxy, f) == pytest.approx(10.25 / 3)
    mae = (abs(1 - math.sqrt(2)) + abs(2 - 1) + abs(0 - math.sqrt(0.5))) / 3
    assert vol.mae_vol(proxy, f) == pytest.approx(mae, rel=1e-14)
    with pytest.raises(ValueError, match="forecast must be > 0"):
        vol.qlike([1.0], [0.0])
    with pytest.raises(ValueError, match="proxy must be >= 0"):
        vol.mse([-1.0], [1.0])


def test_qlike_is_minimised_by_the_true_variance():
    # Patton (2011): E[QLIKE] is minimised at f = E[proxy]
    rng = np.random.default_rng(1)
    proxy = 2.0 * rng.standard_normal(200_000) ** 2
    scores = {f: vol.qlike(proxy, np.full(proxy.size, f)) for f in (1.5, 2.0, 2.5)}
    assert min(scores, key=scores.get) == 2.0


def test_mincer_zarnowitz_by_hand():
    from scipy import stats

    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    p = np.array([1.5, 1.0, 3.5, 3.0, 6.0, 5.0, 8.5, 7.0])
    lags = 1
    res = vol.mincer_zarnowitz(p, f, hac_lags=lags)
    b = np.sum((f - f.mean()) * (p - p.mean())) / np.sum((f - f.mean()) ** 2)
    a = p.mean() - b * f.mean()
    u = p - a - b * f
    r2 = 1 - np.sum(u**2) / np.sum((p - p.mean()) ** 2)
    # Newey-West (1987) sandwich, Bartlett weights 1 - l/(L+1), no small-sample correction
    x = np.column_stack([np.ones(8), f])
    s = sum(u[t] ** 2 * np.outer(x[t], x[t]) for t in range(8))
    for lag in range(1, lags + 1):
        w = 1 - lag / (lags + 1)
        for t in range(lag, 8):
            g = u[t] * u[t - lag] * np.outer(x[t], x[t - lag])
            s = s + w * (g + g.T)
    bread = np.linalg.inv(x.T @ x)
    cov = bread @ s @ bread
    diff = np.array([a - 0.0, b - 1.0])
    wald = float(diff @ np.linalg.solve(cov, diff))
    assert res["intercept"] == pytest.approx(a, rel=1e-10)
    assert res["slope"] == pytest.approx(b, rel=1e-10)
    assert res["r2"] == pytest.approx(r2, rel=1e-10)
    assert res["se_intercept"] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    assert res["se_slope"] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-10)
    assert res["wald_stat"] == pytest.approx(wald, rel=1e-10)
    assert res["wald_p_value"] == pytest.approx(stats.chi2.sf(wald, 2), rel=1e-10)
    assert res["n"] == 8 and res["hac_lags"] == 1
    json.dumps(res)
    flat = vol.mincer_zarnowitz(p, np.full(8, 2.0))
    assert flat["slope"] is None and "not identified" in flat["note"]
    nearly = vol.mincer_zarnowitz(p, 2.0 + 1e-9 * f)
    assert nearly["slope"] is None and nearly["wald_p_value"] is None


def test_dm_on_losses_matches_statsmodels_and_metrics_core():
    from statsmodels.tsa.stattools import diebold_mariano_test

    rng = np.random.default_rng(5)
    la, lb = rng.chisquare(1, size=(2, 120))
    lb = lb + 0.3
    res = vol.dm_on_losses(la, lb, 1)
    # statsmodels on absolute "errors" 0 - loss reproduces DM on the loss differential
    ref = diebold_mariano_test(
        np.zeros(120), la, lb, lags=0, criterion="mae", harvey_adj=True, horizon=1
    )
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value_two_sided == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.details["loss"] == "qlike" and res.verdict.endswith(
        f"garch_normal (p={res.p_value:.3g})"
    )


@pytest.mark.parametrize(("h", "loss"), [(1, "squared"), (3, "absolute"), (5, "squared")])
def test_diebold_mariano_calls_the_public_core_bit_identically(h, loss):
    rng = np.random.default_rng(h)
    y, f, b = rng.normal(size=(3, 60))
    e = (y - f) ** 2 - (y - b) ** 2 if loss == "squared" else np.abs(y - f) - np.abs(y - b)
    whole = diebold_mariano(y, f, b, horizon=h, loss=loss).to_dict()
    core = diebold_mariano_differential(e, horizon=h, loss=loss).to_dict()
    assert repr(whole) == repr(core)


def test_mcs_excludes_a_clearly_worse_model():
    rng = np.random.default_rng(11)
    n = 500
    losses = {
        "good_a": rng.chisquare(1, n),
        "good_b": rng.chisquare(1, n),
        "bad": rng.chisquare(1, n) + 1.0,
    }
    res = vol.model_confidence_set(losses, seed=42, reps=500)
    assert res["excluded"] == ["bad"]
    assert res["included"] == ["good_a", "good_b"]
    assert (
        res["p_values"]["bad"] < 0.10 <= min(res["p_values"]["good_a"], res["p_values"]["good_b"])
    )
    assert max(res["p_values"].values()) == 1.0
    assert vol.model_confidence_set(losses, seed=42, reps=500) == res  # seeded
    json.dumps(res)
    with pytest.raises(ValueError, match="at least 2 models"):
        vol.model_confidence_set({"a": np.ones(5)})


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def test_ewma_recursion_by_hand():
    r = np.array([1.0, -2.0, 0.5])
    s = vol.ewma_path(r, 0.9, 4.0)
    s1 = 0.9 * 4.0 + 0.1 * 1.0
    s2 = 0.9 * s1 + 0.1 * 4.0
    s3 = 0.9 * s2 + 0.1 * 0.25
    assert s == pytest.approx([4.0, s1, s2, s3], rel=1e-14)
    # the forecaster: started at the training variance, closed form of the recursion
    rng = np.random.default_rng(2)
    x = rng.normal(size=80)
    m = vol.EWMAForecaster().fit(x, 49, horizon=2)
    s0 = np.var(x[:50])
    lam = 0.94
    for t in (10, 49, 70):
        k = np.arange(t + 1)
        manual = lam ** (t + 1) * s0 + (1 - lam) * np.sum(lam ** (t - k) * x[k] ** 2)
        assert m.predict(x, [t])[0] == pytest.approx(2 * manual, rel=1e-12)
    assert m.params_ == {"lambda": 0.94, "initial_variance": s0}


@pytest.mark.parametrize("h", [1, 3])
def test_har_coefficients_match_statsmodels_ols(h):
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    r = rng.standard_t(5, size=700) * np.repeat(rng.uniform(0.5, 2.0, 35), 20)
    train_last = 499
    m = vol.HARForecaster().fit(r, train_last, horizon=h)
    r2 = pd.Series(r**2)
    design = pd.DataFrame(
        {"d": r2, "w": r2.rolling(5).mean(), "m": r2.rolling(22).mean()},
    )
    target = sum(r2.shift(-k) for k in range(1, h + 1))
    rows = np.arange(21, train_last - h + 1)  # targets r_{t+1..t+h} inside training
    ols = sm.OLS(target.iloc[rows].to_numpy(), sm.add_constant(design.iloc[rows].to_numpy()))
    coef = ols.fit().params
    got = [m.params_[k] for k in ("const", "beta_d", "beta_w", "beta_m")]
    assert got == pytest.approx(coef, rel=1e-8)
    assert m.params_["n_train_rows"] == rows.size
    o = np.array([21, 300, 650])
    expect = sm.add_constant(design.iloc[o].to_numpy(), has_constant="add") @ coef
    assert m.predict(r, o) == pytest.approx(expect, rel=1e-8)
    with pytest.raises(ValueError, match="origin 20 at position 0 is below 21"):
        m.predict(r, [20])


def test_rolling_and_constant_by_hand():
    rng = np.random.default_rng(4)
    r = rng.normal(size=100)
    m = vol.RollingForecaster(22).fit(r, 59, horizon=2)
    assert m.predict(r, [21, 80]) == pytest.approx(
        [2 * np.mean(r[0:22] ** 2), 2 * np.mean(r[59:81] ** 2)], rel=1e-13
    )
    c = vol.ConstantForecaster().fit(r, 59, horizon=3)
    assert c.predict(r, [5, 99]).tolist() == [3 * np.var(r[:60])] * 2
    # a flat stretch (22 zero returns) is floored at 1 % of the training variance
    flat = np.r_[r[:60], np.zeros(30)]
    m = vol.RollingForecaster(22).fit(flat, 59)
    for _ in range(2):
        assert m.predict(flat, [85, 40]).tolist() == [0.01 * np.var(r[:60]), np.mean(r[19:41] ** 2)]
        assert m.notes_ == ["1 forecasts floored at 0.01 x training variance"]


@pytest.mark.parametrize(
    ("name", "kind", "o", "dist"),
    [
        ("garch_normal", "GARCH", 0, "normal"),
        ("garch_t", "GARCH", 0, "t"),
        ("gjr_normal", "GARCH", 1, "normal"),
        ("gjr_t", "GARCH", 1, "t"),
        ("egarch_normal", "EGARCH", 1, "normal"),
        ("egarch_t", "EGARCH", 1, "t"),
    ],
)
def test_garch_family_one_step_matches_arch_fix_and_forecast(sp500, name, kind, o, dist):
    from arch import arch_model

    series, train_last, origins = sp500
    r = series.returns
    params = _arch_fit_params(r, train_last, kind, o, dist)
    fixed = arch_model(r, mean="Constant", vol=kind, p=1, o=o, q=1, dist=dist).fix(params)
    ref = fixed.forecast(horizon=1, start=int(origins[0]), reindex=False).variance.to_numpy()
    ref = ref[origins - origins[0], 0]
    fc = vol.forecast_baselines(r, train_last, origins, names=[name])[name]
    assert fc.converged and fc.notes == ()
    assert np.asarray(list(fc.params.values())) == pytest.approx(params, rel=1e-6)
    assert fc.variance == pytest.approx(ref, rel=1e-6)
    proxy = vol.squared_return_proxy(r, origins)
    assert vol.qlike(proxy, fc.variance) == pytest.approx(
        np.mean(np.log(ref) + r[origins + 1] ** 2 / ref), rel=1e-6
    )


def test_reference_table_sp500_within_5_percent(sp500):
    series, train_last, origins = sp500
    proxy = vol.squared_return_proxy(series.returns, origins)
    names = ["garch_normal", "ewma", "rolling22", "constant"]
    fc = vol.forecast_baselines(series.returns, train_last, origins, names=names)
    reference = {
        "garch_normal": (0.270, 2.72),
        "ewma": (0.341, 2.75),
        "rolling22": (0.439, 2.84),
        "constant": (0.945, 4.33),
    }
    for name, (q_ref, mse_ref) in reference.items():
        assert vol.qlike(proxy, fc[name].variance) == pytest.approx(q_ref, rel=0.05), name
        assert vol.mse(proxy, fc[name].variance) == pytest.approx(mse_ref, rel=0.05), name
    late = vol.last_index_on_or_before(series.dates, "2016-01-13")
    g = vol.forecast_baselines(series.returns, late, origins, names=["garch_normal"])
    assert vol.qlike(proxy, g["garch_normal"].variance) == pytest.approx(0.264, rel=0.05)


def test_garch_h_step_sums_arch_analytic_forecasts(sp500):
    from arch import arch_model

    series, train_last, origins = sp500
    r, o, h = series.returns, origins[:200], 5
    params = _arch_fit_params(r, train_last, "GARCH", 1, "t")
    fixed = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t").fix(params)
    ref = fixed.forecast(horizon=h, start=int(o[0]), reindex=False).variance.to_numpy()
    ref = ref[o - o[0]].sum(axis=1)
    m = vol.GarchForecaster("gjr", "t").fit(r, train_last, horizon=h)
    assert m.predict(r, o) == pytest.approx(ref, rel=1e-6)


def test_egarch_h_step_matches_arch_simulation_with_the_same_seed(sp500):
    from arch import arch_model
    from arch.univariate import StudentsT

    series, train_last, origins = sp500
    r, o, h = series.returns, origins[:40], 3
    params = _arch_fit_params(r, train_last, "EGARCH", 1, "t")
    full = arch_model(r[: o[-1] + 1], mean="Constant", vol="EGARCH", p=1, o=1, q=1, dist="t")
    ref = full.forecast(
        params,
        horizon=h,
        start=int(o[0]),
        method="simulation",
        simulations=1000,
        rng=StudentsT(seed=9).simulate(params[-1:]),
        reindex=False,
    ).variance.to_numpy()
    m = vol.GarchForecaster("egarch", "t", seed=9).fit(r, train_last, horizon=h)
    assert m.predict(r, o) == pytest.approx(ref[o - o[0]].sum(axis=1), rel=1e-6)


def test_garch_path_predictive_and_feature(sp500):
    from arch import arch_model
    from scipy import stats

    series, train_last, origins = sp500
    r = series.returns
    m = vol.GarchForecaster("garch", "t").fit(r, train_last)
    path = m.path(r)
    params = _arch_fit_params(r, train_last, "GARCH", 0, "t")
    fixed = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fix(params)
    # arch's fix() backcasts from starting-value residuals, forecast() (and this module)
    # from the fitted mean: the paths agree once the backcast has decayed (beta^300 ~ 0)
    assert path.variance[300:] == pytest.approx(fixed.conditional_volatility[300:] ** 2, rel=1e-6)
    ref_one_step = fixed.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    assert path.one_step == pytest.approx(ref_one_step, rel=1e-6)
    assert path.one_step[:-1] == pytest.approx(path.variance[1:], rel=1e-13)
    assert path.std_resid == pytest.approx((r - params[0]) / np.sqrt(path.variance), rel=1e-6)
    pred = m.predictive(r, origins)
    assert pred.variance == pytest.approx(m.predict(r, origins), rel=1e-13)
    assert pred.variance == pytest.approx(path.one_step[origins], rel=1e-13)
    nu = params[-1]
    assert pred.dist == "t" and pred.shape["nu"] == pytest.approx(nu, rel=1e-6)
    z = stats.t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu)  # unit-variance Student-t
    assert float(pred.ppf(0.01)) == pytest.approx(z, rel=1e-6)
    assert pred.quantile(0.01) == pytest.approx(params[0] + np.sqrt(pred.variance) * z, rel=1e-6)
    feat = vol.garch_variance_feature(r, train_last)
    ref = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1).fix(_arch_fit_params(r, train_last))
    ref_fc = ref.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    assert feat.shape == r.shape and feat == pytest.approx(ref_fc, rel=1e-6)


@pytest.mark.parametrize("h", [1, 5])
def test_no_look_ahead_for_any_baseline(sp500, h):
    series, train_last, _ = sp500
    r = series.returns
    origins = np.arange(train_last - 60, train_last + 300)
    cut = train_last + 150
    rng = np.random.default_rng(8)
    after_train = r.copy()
    after_train[train_last + 1 :] = 3.0 * r[train_last + 1 :] + rng.normal(
        size=r.size - train_last - 1
    )
    after_cut = r.copy()
    after_cut[cut + 1 :] = after_train[cut + 1 :]
    base = vol.forecast_baselines(r, train_last, origins, h)
    for perturbed, last_same in ((after_train, train_last), (after_cut, cut)):
        other = vol.forecast_baselines(perturbed, train_last, origins, h)
        for name in vol.BASELINES:
            assert other[name].params == base[name].params, name
            keep = origins <= last_same
            assert np.array_equal(other[name].variance[keep], base[name].variance[keep]), name
            if name != "constant":  # the test can fail: later forecasts do move
                assert not np.array_equal(other[name].variance[~keep], base[name].variance[~keep])


def test_convergence_failure_is_reported_not_printed(capsys):
    rng = np.random.default_rng(0)
    tiny = rng.normal(size=400) * 1e-4  # badly scaled: SLSQP stops with code 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = vol.GarchForecaster("garch", "normal").fit(tiny, 399)
    assert caught == []
    assert capsys.readouterr() == ("", "")
    assert m.converged_ is False
    assert any(n.startswith("ConvergenceWarning: ") for n in m.notes_)
    assert all("\n" not in n for n in m.notes_)


def test_forecasts_positive_and_report_json_ready():
    frame = make_ohlcv(700, seed=3)
    s = vol.series_from_frame(frame)
    origins = np.arange(450, 690)
    fc = vol.forecast_baselines(s.returns, 449, origins, 2)
    assert list(fc) == list(vol.BASELINES)
    for f in fc.values():
        assert f.variance.shape == (origins.size,) and np.all(f.variance > 0)
    proxy = vol.squared_return_proxy(s.returns, origins, 2)
    park = vol.parkinson_proxy(s.high, s.low, origins, 2)
    for p in (proxy, park):
        report = vol.evaluate_forecasts(fc, p, horizon=2, seed=1)
        text = json.dumps(report)
        assert "NaN" not in text and "Infinity" not in text
        assert set(report["mcs"]["included"]) | set(report["mcs"]["excluded"]) == set(fc)
        assert "dm_qlike_vs_benchmark" not in report["models"]["garch_normal"]
        assert report["models"]["ewma"]["dm_qlike_vs_benchmark"]["details"]["loss"] == "qlike"
    json.dumps({k: v.to_dict(arrays=True) for k, v in fc.items()})


def test_volatility_features_by_hand_and_causal():
    frame = make_ohlcv(60, seed=5)
    s = vol.series_from_frame(frame)
    feats = vol.volatility_features(s)
    assert list(feats) == list(vol.VOL_FEATURES)
    r = s.returns
    assert feats["log_return"][7] == r[7]
    assert feats["abs_return"][7] == abs(r[7]) and feats["squared_return"][7] == r[7] ** 2
    t = 30
    assert feats["log_range"][t] == pytest.approx(
        100 * math.log(frame["high"].iloc[t + 1] / frame["low"].iloc[t + 1]), rel=1e-13
    )
    assert feats["rv5"][t] == pytest.approx(np.mean(r[t - 4 : t + 1] ** 2), rel=1e-13)
    assert feats["rv22"][t] == pytest.approx(np.mean(r[t - 21 : t + 1] ** 2), rel=1e-13)
    assert np.isnan(feats["rv5"][:4]).all() and not np.isnan(feats["rv5"][4:]).any()
    assert np.isnan(feats["rv22"][:21]).all()
    # causal: altering the last 10 sessions changes nothing before them
    frame2 = frame.copy()
    frame2.iloc[-10:, :4] *= 1.3
    feats2 = vol.volatility_features(vol.series_from_frame(frame2))
    for name in vol.VOL_FEATURES:
        np.testing.assert_array_equal(feats2[name][:-10], feats[name][:-10])
    with pytest.raises(ValueError, match="unknown volatility feature 'rv10'"):
        vol.volatility_features(s, ["rv10"])


def test_bad_inputs_raise_one_line_value_errors():
    r = np.random.default_rng(0).normal(size=300)
    with pytest.raises(ValueError, match="too few training returns: 100"):
        vol.GarchForecaster().fit(r, 99)
    with pytest.raises(ValueError, match="not fitted"):
        vol.EWMAForecaster().predict(r, [5])
    with pytest.raises(ValueError, match="unknown volatility baseline 'garch_skewt'"):
        vol.make_forecaster("garch_skewt")
    with pytest.raises(ValueError, match="origins must be integer indices"):
        vol.squared_return_proxy(r, [1.5])
    bad = r.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="training returns has a non-finite value at position 3"):
        vol.ConstantForecaster().fit(bad, 100)
