"""Scoring rules of quantile forecasts and the pinball Diebold-Mariano test
(lstmfc.quantiles.scoring).

Known answers come from hand calculations (written out in the comments), closed forms
(Gaussian CRPS) and the DM statistic computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lstmfc.quantiles.scoring import (
    central_intervals,
    crps_from_quantiles,
    pinball_dm_test,
    pinball_loss,
    pinball_loss_differential,
    pinball_loss_series,
    pinball_summary,
    winkler_score,
)
from lstmfc.stats.skill import diebold_mariano
from tests.quantile_data import LV, gaussian_set

# ---------------------------------------------------------------- scores


def test_pinball_by_hand():
    lv = [0.1, 0.5, 0.9]
    y = [0.01, -0.02]
    q = [[-0.02, 0.0, 0.02], [-0.03, -0.01, 0.01]]
    # row 0: u = y - q = 0.03, 0.01, -0.01 -> 0.1*0.03, 0.5*0.01, (0.9-1)*(-0.01)
    # row 1: u = 0.01, -0.01, -0.03         -> 0.1*0.01, (0.5-1)*(-0.01), (0.9-1)*(-0.03)
    want = [[0.003, 0.005, 0.001], [0.001, 0.005, 0.003]]
    np.testing.assert_allclose(pinball_loss(y, q, lv), want, atol=1e-15)
    np.testing.assert_allclose(pinball_loss_series(y, q, lv), [0.003, 0.003], atol=1e-15)
    np.testing.assert_allclose(pinball_loss_series(y, q, lv, level=0.9), [0.001, 0.003], atol=1e-15)
    summary = pinball_summary(y, q, lv)
    assert summary["mean"] == pytest.approx(0.003)
    assert summary["per_level"] == pytest.approx({"0.1": 0.002, "0.5": 0.005, "0.9": 0.002})
    with pytest.raises(ValueError, match="level 0.25 is not one of the quantile levels"):
        pinball_loss_series(y, q, lv, level=0.25)


def test_winkler_and_intervals_by_hand():
    # 90 % interval [-0.02, 0.02], alpha = 0.1, 2/alpha = 20
    y = np.array([0.0, -0.03, 0.05, 0.02])
    lo, up = np.full(4, -0.02), np.full(4, 0.02)
    # inside: width 0.04; below by 0.01: 0.04 + 20*0.01; above by 0.03: 0.04 + 20*0.03;
    # on the upper bound: inside, 0.04
    np.testing.assert_allclose(winkler_score(y, lo, up, 0.1), [0.04, 0.24, 0.64, 0.04], atol=1e-15)
    # Gneiting & Raftery (2007), sec. 6.2: the interval score is (2/alpha) times the sum of
    # the pinball losses of the bounds at alpha/2 and 1 - alpha/2
    pin = pinball_loss(y, np.column_stack([lo, up]), [0.05, 0.95]).sum(axis=1)
    np.testing.assert_allclose(winkler_score(y, lo, up, 0.1), pin / 0.05, atol=1e-15)
    q = np.column_stack([np.full(4, -0.05), lo, np.zeros(4), up, np.full(4, 0.06)])
    rows = central_intervals(y, q, [0.01, 0.05, 0.5, 0.95, 0.99])
    assert [r["nominal"] for r in rows] == [0.98, 0.9]
    r98, r90 = rows
    # 98 %: [-0.05, 0.06] holds all four; width 0.11; score = width
    assert r98["coverage"] == 1.0 and r98["mean_width"] == pytest.approx(0.11)
    assert r98["winkler"] == pytest.approx(0.11)
    # 90 %: three of four inside (0.0, 0.02 on the bound, -0.03 below, 0.05 above -> 2 of 4)
    assert r90["coverage"] == 0.5 and r90["below"] == 0.25 and r90["above"] == 0.25
    assert r90["winkler"] == pytest.approx((0.04 + 0.24 + 0.64 + 0.04) / 4)


def test_crps_matches_gaussian_closed_form():
    mu, sigma = 0.001, 0.02
    y = np.array([0.0, 0.01, -0.05, 0.08])
    q = gaussian_set(np.full(4, mu), np.full(4, sigma))
    z = (y - mu) / sigma
    # Gneiting, Raftery, Westveld & Goldman (2005, MWR 133), CRPS of N(mu, sigma^2)
    want = sigma * (
        z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi)
    )
    got = crps_from_quantiles(y, q, LV)
    np.testing.assert_allclose(got, want, rtol=2e-3)
    assert np.max(np.abs(got - want)) < 1e-3 * sigma


# ---------------------------------------------------------------- Diebold-Mariano


def test_pinball_dm_test_uses_the_exact_loss_differential():
    rng = np.random.default_rng(8)
    n = 300
    y = rng.normal(0, 0.01, n)
    good = gaussian_set(np.zeros(n), np.full(n, 0.01))
    bad = gaussian_set(np.zeros(n), np.full(n, 0.02))
    d = pinball_loss_differential(y, good, bad, LV)
    res = pinball_dm_test(y, good, bad, LV, benchmark="wide")
    assert res["details"]["mean_loss_differential"] == np.mean(d)
    # h = 1 by hand: DM = mean(d) / sqrt(var0(d) / n), HLN factor sqrt((n - 1) / n), t(n-1)
    dm = np.mean(d) / math.sqrt(np.var(d) / n) * math.sqrt((n - 1) / n)
    assert res["statistic"] == pytest.approx(dm, rel=1e-10)
    assert res["p_value"] == pytest.approx(stats.t.cdf(dm, n - 1), rel=1e-9)
    assert (
        res["outcome"] == "beats"
        and res["verdict"].startswith("beats wide")
        and res["details"]["loss"] == "pinball"
    )
    one = pinball_dm_test(y, good, bad, LV, level=0.01, horizon=2)
    assert one["details"]["level"] == 0.01 and one["details"]["horizon"] == 2
    # metrics.diebold_mariano(loss="absolute") on the non-negative pinball losses,
    # |0 - L_model| - |0 - L_benchmark|, is the same differential and the same test
    lm = pinball_loss_series(y, good, LV, level=0.01)
    lb = pinball_loss_series(y, bad, LV, level=0.01)
    via_abs = diebold_mariano(np.zeros(n), lm, lb, loss="absolute", horizon=2).to_dict()
    assert via_abs["statistic"] == pytest.approx(one["statistic"], rel=1e-12)
    assert via_abs["details"]["mean_loss_differential"] == np.mean(lm - lb)
