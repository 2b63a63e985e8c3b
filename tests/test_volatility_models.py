"""Tests of lstmfc.volatility.models, built by the registry of lstmfc.forecasters.vol
(``make_forecaster``, as the vol head's baselines are): known answers by hand,
arch/statsmodels run here, leak checks.

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

from lstmfc.forecasters.vol import BASELINES, make_forecaster
from lstmfc.volatility import models as vol
from lstmfc.volatility.garch11 import garch11_one_step
from lstmfc.volatility.proxies import squared_return_proxy
from lstmfc.volatility.scoring import mse, qlike
from lstmfc.volatility.series import (
    last_index_on_or_before,
    origins_for_target_dates,
    series_from_frame,
)
from tests.conftest import make_ohlcv

TRAIN_END = "2013-01-28"
FIRST_TARGET, LAST_TARGET = "2016-01-14", "2018-12-31"


@pytest.fixture(scope="module")
def sp500():
    from lstmfc.data.sources.sample import read_sample

    series = series_from_frame(read_sample("SP500")[0])
    train_last = last_index_on_or_before(series.dates, TRAIN_END)
    origins = origins_for_target_dates(series.dates, FIRST_TARGET, LAST_TARGET)
    return series, train_last, origins


def _fit_predict(name, returns, train_last, origins, horizon=1):
    """What :class:`lstmfc.forecasters.vol.VolBaseline` runs: the registry's forecaster,
    fit on ``returns[: train_last + 1]``, forecasting ``origins``."""
    model = make_forecaster(name).fit(returns, train_last, horizon)
    return model, model.predict(returns, origins)


def _arch_fit_params(returns, train_last, kind="GARCH", o=0, dist="normal"):
    from arch import arch_model

    fit = arch_model(
        returns[: train_last + 1], mean="Constant", vol=kind, p=1, o=o, q=1, dist=dist
    ).fit(disp="off")
    return fit.params.to_numpy()


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
    m, variance = _fit_predict(name, r, train_last, origins)
    assert m.converged_ and m.notes_ == []
    assert np.asarray(list(m.params_.values())) == pytest.approx(params, rel=1e-6)
    assert variance == pytest.approx(ref, rel=1e-6)
    proxy = squared_return_proxy(r, origins)
    assert qlike(proxy, variance) == pytest.approx(
        np.mean(np.log(ref) + r[origins + 1] ** 2 / ref), rel=1e-6
    )


def _arch_garch_scores(returns, train_last, origins) -> tuple[float, float]:
    """QLIKE and MSE of a GARCH(1,1) fit by arch directly on ``returns[: train_last + 1]``
    and forecasting ``origins`` with those parameters fixed."""
    from arch import arch_model

    params = _arch_fit_params(returns, train_last)
    fixed = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1).fix(params)
    fc = fixed.forecast(horizon=1, start=int(origins[0]), reindex=False).variance.to_numpy()
    var, y = fc[origins - origins[0], 0], returns[origins + 1] ** 2
    return float(np.mean(np.log(var) + y / var)), float(np.mean((y - var) ** 2))


def test_reference_table_sp500_pins_the_fit_window(sp500):
    """The issue's figures to their published digits, and each row against an independent
    computation on exactly the expected training window (returns up to 2013-01-28) to
    1e-9. Fitting one return earlier or later moves the GARCH and constant QLIKE by about
    5e-4 relative, far beyond that tolerance, so the check tells neighbouring fit windows
    apart (the old 5 % tolerance also passed a fit through 2016-01-13)."""
    series, train_last, origins = sp500
    r = series.returns
    y = r[origins + 1] ** 2
    reference = {
        "garch_normal": (0.270, 2.72),
        "ewma": (0.341, 2.75),
        "rolling22": (0.439, 2.84),
        "constant": (0.945, 4.33),
    }
    scores = {}
    for name, (q_ref, mse_ref) in reference.items():
        _, f = _fit_predict(name, r, train_last, origins)
        scores[name] = (qlike(y, f), mse(y, f))
        assert scores[name][0] == pytest.approx(q_ref, abs=0.0005), name
        assert scores[name][1] == pytest.approx(mse_ref, abs=0.005), name

    def constant_scores(tl):  # h * var(training returns), population variance
        v = np.var(r[: tl + 1])
        return float(np.mean(np.log(v) + y / v)), float(np.mean((y - v) ** 2))

    # EWMA and rolling22 forget the training window by 2016 (0.94^700 ~ 1e-19): by hand
    # with pandas; s_0 = training variance, s_{t+1} = 0.94 s_t + 0.06 r_t^2
    s0 = np.var(r[: train_last + 1])
    ewma = pd.Series(np.r_[s0, r**2]).ewm(alpha=0.06, adjust=False).mean().to_numpy()
    rolling = pd.Series(r**2).rolling(22).mean().to_numpy()
    by_hand = {"ewma": ewma[origins + 1], "rolling22": rolling[origins]}
    for name, f in by_hand.items():
        want = (float(np.mean(np.log(f) + y / f)), float(np.mean((y - f) ** 2)))
        assert scores[name] == pytest.approx(want, rel=1e-9), name
    for name, independent in (("garch_normal", _arch_garch_scores), ("constant", None)):
        exact = {}
        for tl in (train_last - 1, train_last, train_last + 1):
            exact[tl] = independent(r, tl, origins) if independent else constant_scores(tl)
        assert scores[name] == pytest.approx(exact[train_last], rel=1e-9), name
        for tl in (train_last - 1, train_last + 1):  # the neighbouring windows differ
            assert abs(exact[tl][0] / scores[name][0] - 1) > 1e-4, (name, tl)
            _, f = _fit_predict(name, r, tl, origins)
            assert qlike(y, f) == pytest.approx(exact[tl][0], rel=1e-9), (name, tl)
    late = last_index_on_or_before(series.dates, "2016-01-13")
    _, g = _fit_predict("garch_normal", r, late, origins)
    assert qlike(y, g) == pytest.approx(0.264, abs=0.0005)
    assert qlike(y, g) == pytest.approx(_arch_garch_scores(r, late, origins)[0], rel=1e-9)


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


def test_garch11_one_step_from_stored_parameters_equals_arch_filtering(sp500):
    """The stored-parameter filter (the vol head's live GARCH forecast) reproduces arch's
    own recursion (compute_variance, through GarchForecaster.path) on the whole series,
    and the stored parameters are those of the fit."""
    series, train_last, _ = sp500
    r = series.returns
    m = vol.GarchForecaster("garch", "normal").fit(r, train_last)
    params = vol.garch11_parameters(m)
    json.dumps(params)
    assert params["alpha"] == m.params_["alpha[1]"] and params["converged"] is True
    # arch's backcast of the demeaned training returns, computed here independently
    from arch.univariate import GARCH

    train = r[: train_last + 1]
    assert params["backcast"] == float(GARCH().backcast(train - params["mu"]))
    assert "nu" not in params and params["dist"] == "normal"
    got = garch11_one_step(r, params)
    np.testing.assert_allclose(got, m.path(r).one_step, rtol=1e-12)
    # by hand for the first two closes: sigma2_0 = omega + (alpha + beta) * backcast
    w, a, b, bc = (params[k] for k in ("omega", "alpha", "beta", "backcast"))
    e = r[:2] - params["mu"]
    s0 = w + (a + b) * bc
    s1 = w + a * e[0] ** 2 + b * s0
    assert got[:2] == pytest.approx([s1, w + a * e[1] ** 2 + b * s1], rel=1e-14)
    changed = r.copy()
    changed[4000:] *= 2.0
    np.testing.assert_array_equal(garch11_one_step(changed, params)[:4000], got[:4000])


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
    for name in BASELINES:
        model, base = _fit_predict(name, r, train_last, origins, h)
        for perturbed, last_same in ((after_train, train_last), (after_cut, cut)):
            other_model, other = _fit_predict(name, perturbed, train_last, origins, h)
            assert other_model.params_ == model.params_, name
            keep = origins <= last_same
            assert np.array_equal(other[keep], base[keep]), name
            if name != "constant":  # the test can fail: later forecasts do move
                assert not np.array_equal(other[~keep], base[~keep]), name


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


def test_every_baseline_forecasts_a_positive_variance():
    """Every registry baseline, h = 2, on a synthetic series; its parameters are JSON-ready
    (the head's scoring of these forecasts: tests/test_vol_head.py)."""
    s = series_from_frame(make_ohlcv(700, seed=3))
    origins = np.arange(450, 690)
    for name in BASELINES:
        model, f = _fit_predict(name, s.returns, 449, origins, 2)
        assert f.shape == (origins.size,) and np.all(f > 0), name
        text = json.dumps({"params": model.params_, "notes": model.notes_})
        assert "NaN" not in text and "Infinity" not in text


def test_bad_inputs_raise_one_line_value_errors():
    r = np.random.default_rng(0).normal(size=300)
    with pytest.raises(ValueError, match="too few training returns: 100"):
        vol.GarchForecaster().fit(r, 99)
    with pytest.raises(ValueError, match="not fitted"):
        vol.EWMAForecaster().predict(r, [5])
    with pytest.raises(ValueError, match="unknown volatility baseline 'garch_skewt'"):
        make_forecaster("garch_skewt")
    with pytest.raises(ValueError, match="unknown GARCH kind 'figarch'"):
        vol.GarchForecaster("figarch")
    with pytest.raises(ValueError, match="origins must be integer indices"):
        vol.EWMAForecaster().fit(r, 100).predict(r, [1.5])
    bad = r.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="training returns has a non-finite value at position 3"):
        vol.ConstantForecaster().fit(bad, 100)
