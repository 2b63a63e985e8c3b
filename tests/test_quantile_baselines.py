"""Quantile baselines (lstmfc.forecasters.quantile): the computations by hand, the
Forecaster adapters fitted on training rows and forecasting causally, GARCH against
``arch`` run here, the live GARCH recursion, and the EWMA shared with the vol head.

Known answers come from hand calculations, scipy, ``arch`` and the figures the issue
author measured on the bundled SP500 sample.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from lstmfc.forecasters.quantile import (
    EWMAGaussianQuantiles,
    GarchQuantiles,
    HistoricalSimulationQuantiles,
    UnconditionalQuantiles,
    ewma_gaussian,
    garch_live_params,
    garch_live_quantiles,
    historical_simulation,
    parametric_quantiles,
    unconditional_quantiles,
)
from lstmfc.quantiles.report import ReportOptions, quantile_report
from lstmfc.volatility.models import EWMAForecaster
from tests.quantile_data import LV, closes_series

# ---------------------------------------------------------------- location-scale plug-in


def test_parametric_quantiles_against_scipy_and_arch():
    from arch.univariate import StudentsT

    lv = np.asarray(LV)
    got = parametric_quantiles([0.0, 0.001], [0.01, 0.02], lv, dist="t", nu=5.0)
    arch_ppf = StudentsT().ppf(lv, np.array([5.0]))  # standardised t (unit variance)
    np.testing.assert_allclose(got[0], 0.01 * arch_ppf, rtol=1e-10)
    np.testing.assert_allclose(got[1], 0.001 + 0.02 * arch_ppf, rtol=1e-10)
    np.testing.assert_allclose(
        parametric_quantiles(0.001, 0.02, lv), [0.001 + 0.02 * stats.norm.ppf(lv)]
    )
    with pytest.raises(ValueError, match="needs nu"):
        parametric_quantiles(0.0, 0.01, lv, dist="t")
    with pytest.raises(ValueError, match="nu must be finite and > 2"):
        parametric_quantiles(0.0, 0.01, lv, dist="t", nu=2.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        parametric_quantiles(0.0, 0.0, lv)


# ---------------------------------------------------------------- the computations by hand


CLOSES = np.array([100.0, 101.0, 99.0, 102.0, 103.0, 101.0, 104.0, 100.0])


def test_historical_simulation_by_hand():
    r = np.log(CLOSES[1:] / CLOSES[:-1])  # r[i] = log(c[i+1] / c[i])
    lv = [0.1, 0.5, 0.9]
    # origin 5, window 4, h = 1: the returns ending at rows 2, 3, 4, 5 = r[1:5]
    got = historical_simulation(CLOSES, [5, 6], levels=lv, window=4)
    np.testing.assert_allclose(got[0], np.quantile(r[1:5], lv))
    np.testing.assert_allclose(got[1], np.quantile(r[2:6], lv))
    # h = 2: overlapping 2-session returns ending at rows 4..7 (origin 7, window 4)
    r2 = np.log(CLOSES[[4, 5, 6, 7]] / CLOSES[[2, 3, 4, 5]])
    np.testing.assert_allclose(
        historical_simulation(CLOSES, [7], horizon=2, levels=lv, window=4)[0],
        np.quantile(r2, lv),
    )
    # a forecast at t never reads a later close
    later = CLOSES.copy()
    later[6:] *= 1.3
    np.testing.assert_array_equal(historical_simulation(later, [5], levels=lv, window=4), got[:1])
    with pytest.raises(ValueError, match="too little history"):
        historical_simulation(CLOSES, [3], window=4)


def test_ewma_gaussian_by_hand():
    r = np.log(CLOSES[1:] / CLOSES[:-1])
    # training origins 0..2, h = 1 -> training returns dated rows 1..3 = r[0:3]
    v1 = np.var(r[0:3])
    v2 = 0.94 * v1 + 0.06 * r[0] ** 2  # forecast for the return of row 2, made at row 1
    v3 = 0.94 * v2 + 0.06 * r[1] ** 2
    v4 = 0.94 * v3 + 0.06 * r[2] ** 2
    got = ewma_gaussian(CLOSES, [0, 1, 2, 3], [0, 1, 2], levels=[0.05])[:, 0]
    expect = np.sqrt([v1, v2, v3, v4]) * stats.norm.ppf(0.05)
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # h = 3, zero mean: q = sqrt(3) * sigma * z
    q3 = ewma_gaussian(CLOSES, [3], [0, 1, 2], horizon=3, levels=[0.05, 0.95])
    # training returns for h = 3 reach row 2 + 3 = 5: r[0:5]
    w1 = np.var(r[0:5])
    w4 = 0.94 * (0.94 * (0.94 * w1 + 0.06 * r[0] ** 2) + 0.06 * r[1] ** 2) + 0.06 * r[2] ** 2
    np.testing.assert_allclose(q3[0], math.sqrt(3 * w4) * stats.norm.ppf([0.05, 0.95]))
    qm = ewma_gaussian(CLOSES, [3], [0, 1, 2], levels=[0.5], mean="train")
    assert qm[0, 0] == pytest.approx(np.mean(r[0:3]))


def test_unconditional_quantiles_by_hand():
    lv = [0.25, 0.75]
    got = unconditional_quantiles(CLOSES, [5, 6], [0, 1, 2, 3], levels=lv, horizon=2)
    sample = np.log(CLOSES[[2, 3, 4, 5]] / CLOSES[[0, 1, 2, 3]])
    np.testing.assert_allclose(got, np.tile(np.quantile(sample, lv), (2, 1)))


def test_ewma_reference_row_on_sp500():
    """Issue author's figures: SP500 sample, 746 test dates 2016-01-14..2018-12-31, EWMA(0.94)
    started from the variance of the training returns through 2013-01-28, zero mean: 1 % VaR
    14 hits (7.5 expected, Kupiec p 0.032), 5 % VaR 31 hits (37.3 expected, p 0.28)."""
    from lstmfc.data.sources.sample import read_sample

    frame, _ = read_sample("SP500")
    closes = frame["close"].to_numpy()
    dates = frame.index
    last_train = int(np.searchsorted(dates, "2013-01-28"))
    first, last = (int(np.searchsorted(dates, d)) for d in ("2016-01-14", "2018-12-31"))
    origins = np.arange(first - 1, last)  # targets are the next session
    assert origins.size == 746
    y = np.log(closes[origins + 1] / closes[origins])
    q = ewma_gaussian(closes, origins, np.arange(last_train), levels=LV)
    rep = quantile_report(y, q, LV, options=ReportOptions(n_sim=50, n_boot=99))
    k1, k5 = rep["var"][0]["kupiec"], rep["var"][2]["kupiec"]
    assert (k1["hits"], k5["hits"]) == (14, 31)
    assert k1["expected_hits"] == pytest.approx(7.46) and k5["expected_hits"] == pytest.approx(37.3)
    assert round(k1["p_value"], 3) == 0.032 and round(k5["p_value"], 2) == 0.28


# ---------------------------------------------------------------- the Forecaster adapters


def _baselines(levels=LV):
    return [
        HistoricalSimulationQuantiles(levels),
        EWMAGaussianQuantiles(levels),
        GarchQuantiles(levels, "normal"),
        GarchQuantiles(levels, "t"),
        UnconditionalQuantiles(levels),
    ]


@pytest.mark.parametrize("idx", range(5), ids=["hs250", "ewma", "garch_n", "garch_t", "uncond"])
def test_baselines_fit_on_training_rows_and_predict_causally(idx):
    c = closes_series(600)
    train = np.arange(260, 400)
    a = _baselines()[idx].fit(c, train, 1)
    later = c.copy()
    later[401:] *= np.exp(np.linspace(0.0, 0.3, later.size - 401))  # after the last target
    b = _baselines()[idx].fit(later, train, 1)
    assert json.dumps(a.get_params(), sort_keys=True) == json.dumps(b.get_params(), sort_keys=True)
    q = a.forecast(c, np.array([420, 500, 550]))
    np.testing.assert_array_equal(b.forecast(c, np.array([420, 500, 550])), q)
    assert q.shape == (3, 7) and np.all(np.diff(q, axis=1) >= 0)
    # a forecast at row t reads closes[: t + 1] only
    d = c.copy()
    d[501:] *= 1.5
    np.testing.assert_array_equal(a.forecast(d, np.array([420, 500])), q[:2])


def test_garch_t_quantiles_match_arch_directly():
    """GarchQuantiles against arch run here: fit on the training returns, fixed-parameter
    one-step forecast on the full series, quantiles mu + sigma * StudentsT.ppf."""
    from arch import arch_model
    from arch.univariate import StudentsT

    c = closes_series(600, seed=2)
    train = np.arange(300, 449)  # last training target: row 449
    b = GarchQuantiles(LV, "t").fit(c, train, 1)
    r = 100.0 * np.diff(np.log(c))
    res = arch_model(r[:449], mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
        disp="off"
    )
    np.testing.assert_allclose(
        [b.get_params()["params"][k] for k in res.params.index], res.params, rtol=1e-6
    )
    fc = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False).fix(
        res.params
    )
    f = fc.forecast(horizon=1, start=520, reindex=False)
    rows = np.arange(521, 560)  # origin row t: last return r[t - 1]
    sigma = np.sqrt(f.variance.to_numpy()[: rows.size, 0])
    z = StudentsT().ppf(np.asarray(LV), [res.params["nu"]])
    expect = (res.params["mu"] + sigma[:, None] * z[None, :]) / 100.0
    np.testing.assert_allclose(b.forecast(c, rows), expect, rtol=1e-7, atol=1e-12)


def test_live_garch_recursion_equals_the_fitted_forecaster():
    c = closes_series(600, seed=3)
    train = np.arange(10, 400)
    for h in (1, 3):
        live = garch_live_params(c, train, h, LV)
        b = GarchQuantiles(LV, "t").fit(c, train, h)
        np.testing.assert_allclose(
            garch_live_quantiles(live, c[:551], LV, h),
            b.forecast(c, np.array([550]))[0],
            rtol=1e-9,
        )


def test_ewma_baseline_is_the_vol_heads_ewma_on_sp500():
    """One EWMA: the EWMA-normal quantiles' volatility is the vol head's EWMA baseline
    (lstmfc.volatility.models.EWMAForecaster, percent returns) divided by 100, for the
    same training span (returns up to the last training target) and origins; origins
    from row 1 on, where the start value (the training variance) still shows."""
    from lstmfc.data.sources.sample import read_sample

    frame, _ = read_sample("SP500")
    c = frame["close"].to_numpy()
    r = 100.0 * np.diff(np.log(c))  # r[i]: close row i -> i + 1
    train = np.arange(300, 3000)
    for h in (1, 5):
        rows = np.arange(1, c.size)
        q = EWMAGaussianQuantiles([0.05]).fit(c, train, h).forecast(c, rows)[:, 0]
        vol = EWMAForecaster().fit(r, int(train.max()) + h - 1, horizon=h)
        variance = vol.predict(r, rows - 1)  # origin row t: last return r[t - 1], %^2
        np.testing.assert_allclose(q, np.sqrt(variance) / 100.0 * stats.norm.ppf(0.05), rtol=1e-12)
