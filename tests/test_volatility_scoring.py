"""Tests of lstmfc.volatility.scoring: QLIKE, MSE and MAE by hand, Mincer-Zarnowitz against
a hand-computed Newey-West sandwich, Diebold-Mariano against statsmodels, and the Model
Confidence Set against ``arch.bootstrap.MCS`` called directly."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lstmfc.stats.skill import diebold_mariano, diebold_mariano_differential
from lstmfc.volatility import scoring as vs


def test_qlike_mse_mae_by_hand():
    proxy = np.array([1.0, 4.0, 0.0])
    f = np.array([2.0, 1.0, 0.5])
    ql = [math.log(2) + 0.5, 0.0 + 4.0, math.log(0.5) + 0.0]
    assert vs.qlike_losses(proxy, f) == pytest.approx(ql, rel=1e-14)
    assert vs.qlike(proxy, f) == pytest.approx(sum(ql) / 3, rel=1e-14)
    assert vs.mse_losses(proxy, f).tolist() == [1.0, 9.0, 0.25]
    assert vs.mse(proxy, f) == pytest.approx(10.25 / 3)
    mae = (abs(1 - math.sqrt(2)) + abs(2 - 1) + abs(0 - math.sqrt(0.5))) / 3
    assert vs.mae_vol(proxy, f) == pytest.approx(mae, rel=1e-14)
    with pytest.raises(ValueError, match="forecast must be > 0"):
        vs.qlike([1.0], [0.0])
    with pytest.raises(ValueError, match="proxy must be >= 0"):
        vs.mse([-1.0], [1.0])


def test_qlike_is_minimised_by_the_true_variance():
    # Patton (2011): E[QLIKE] is minimised at f = E[proxy]
    rng = np.random.default_rng(1)
    proxy = 2.0 * rng.standard_normal(200_000) ** 2
    scores = {f: vs.qlike(proxy, np.full(proxy.size, f)) for f in (1.5, 2.0, 2.5)}
    assert min(scores, key=scores.get) == 2.0


def test_mincer_zarnowitz_by_hand():
    from scipy import stats

    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    p = np.array([1.5, 1.0, 3.5, 3.0, 6.0, 5.0, 8.5, 7.0])
    lags = 1
    res = vs.mincer_zarnowitz(p, f, hac_lags=lags)
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
    flat = vs.mincer_zarnowitz(p, np.full(8, 2.0))
    assert flat["slope"] is None and "not identified" in flat["note"]
    nearly = vs.mincer_zarnowitz(p, 2.0 + 1e-9 * f)
    assert nearly["slope"] is None and nearly["wald_p_value"] is None


def test_dm_on_losses_matches_statsmodels_and_metrics_core():
    from statsmodels.tsa.stattools import diebold_mariano_test

    rng = np.random.default_rng(5)
    la, lb = rng.chisquare(1, size=(2, 120))
    lb = lb + 0.3
    res = vs.dm_on_losses(la, lb, 1)
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
    res = vs.model_confidence_set(losses, seed=42, reps=500)
    assert res["excluded"] == ["bad"]
    assert res["included"] == ["good_a", "good_b"]
    assert (
        res["p_values"]["bad"] < 0.10 <= min(res["p_values"]["good_a"], res["p_values"]["good_b"])
    )
    assert max(res["p_values"].values()) == 1.0
    assert vs.model_confidence_set(losses, seed=42, reps=500) == res  # seeded
    json.dumps(res)
    with pytest.raises(ValueError, match="at least 2 models"):
        vs.model_confidence_set({"a": np.ones(5)})


def _graded_losses() -> dict[str, np.ndarray]:
    """A fixed loss matrix (400 dates x 4 models): a common chi^2(1) part, independent
    N(0, 0.5^2) noise and mean offsets 0, 0.03, 0.06, 0.2 (intermediate MCS p-values)."""
    rng = np.random.default_rng(20)
    n = 400
    base = rng.chisquare(1, n)
    offsets = {"a": 0.0, "b": 0.03, "c": 0.06, "d": 0.2}
    return {k: base + off + rng.normal(0, 0.5, n) for k, off in offsets.items()}


@pytest.mark.parametrize("block_size", [None, 5])
def test_mcs_equals_arch_mcs_called_directly(block_size):
    """The wrapper is arch's MCS with the range statistic, the stationary bootstrap and the
    given seed: p-values, the set and the block length equal a direct arch call, and the
    pin tells the settings apart (max statistic, circular bootstrap, another seed)."""
    from arch.bootstrap import MCS

    losses = _graded_losses()
    frame = pd.DataFrame(losses)

    def direct(method="R", bootstrap="stationary", seed=7):
        kw = {"block_size": block_size, "method": method, "bootstrap": bootstrap, "seed": seed}
        mcs = MCS(frame, size=0.10, reps=500, **kw)
        mcs.compute()
        return {k: float(mcs.pvalues.loc[k].iloc[0]) for k in losses}, mcs

    res = vs.model_confidence_set(losses, size=0.10, reps=500, block_size=block_size, seed=7)
    want, ref = direct()
    assert res["p_values"] == want
    assert res["included"] == [k for k in losses if k in set(ref.included)]
    assert res["excluded"] == [k for k in losses if k in set(ref.excluded)]
    assert res["block_size"] == ref.block_size == (20 if block_size is None else 5)
    assert 0.0 < min(v for v in want.values() if v > 0) < max(want.values()) == 1.0
    for other in (direct(method="max")[0], direct(bootstrap="circular")[0], direct(seed=8)[0]):
        assert other != want
