"""VaR and ES from quantile sets (lstmfc.quantiles.var_es), their backtests
(lstmfc.quantiles.backtests) and the full report (lstmfc.quantiles.report).

Known answers come from hand calculations (written out in the comments), closed forms
(Gaussian ES), numerical integration with scipy and the ``vartests`` package run here.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from lstmfc.quantiles.backtests import (
    acerbi_szekely_z2,
    christoffersen_test,
    kupiec_test,
    mcneil_frey_test,
)
from lstmfc.quantiles.quantile_function import quantile_at
from lstmfc.quantiles.report import ReportOptions, quantile_report
from lstmfc.quantiles.var_es import expected_shortfall, value_at_risk
from tests.quantile_data import LV, gaussian_set

# ---------------------------------------------------------------- VaR and ES


@pytest.mark.parametrize("a", [0.025, 0.01, 0.005, 0.03, 0.05, 0.3])
def test_es_matches_gaussian_closed_form(a):
    mu, sigma = np.array([0.0005, -0.001]), np.array([0.012, 0.03])
    q = gaussian_set(mu, sigma)
    # closed form: ES_a = mu - sigma * phi(z_a) / a  (Gaussian, lower tail)
    want = mu - sigma * stats.norm.pdf(stats.norm.ppf(a)) / a
    np.testing.assert_allclose(expected_shortfall(q, LV, a), want, rtol=1e-12, atol=0)


def test_es_of_a_skewed_set_equals_the_integral_of_its_interpolant():
    q = np.array([[-0.09, -0.05, -0.03, 0.001, 0.02, 0.025, 0.03]])
    for a in (0.01, 0.025, 0.04):
        # independent: adaptive quadrature of (1/a) int_0^a q(u) du in u
        val, _ = integrate.quad(
            lambda u: quantile_at(q, LV, [u])[0, 0], 0.0, a, points=[0.01, 0.025], limit=200
        )
        assert expected_shortfall(q, LV, a)[0] == pytest.approx(val / a, rel=1e-7)
        assert expected_shortfall(q, LV, a)[0] <= value_at_risk(q, LV, a)[0]


# ---------------------------------------------------------------- VaR backtests


def _kupiec_by_hand(x, n, a):
    pi = x / n
    ll0 = (x * math.log(a) if x else 0.0) + ((n - x) * math.log(1 - a) if n - x else 0.0)
    ll1 = (x * math.log(pi) if x else 0.0) + ((n - x) * math.log(1 - pi) if n - x else 0.0)
    return -2 * (ll0 - ll1)


def test_kupiec_by_hand_and_limits():
    hits = np.zeros(100, dtype=int)
    hits[[5, 40, 77]] = 1
    got = kupiec_test(hits, 0.01)
    # LR = -2 [3 ln .01 + 97 ln .99 - 3 ln .03 - 97 ln .97] = 2.63235...
    assert got["statistic"] == pytest.approx(_kupiec_by_hand(3, 100, 0.01), rel=1e-12)
    assert got["statistic"] == pytest.approx(2.6323526, rel=1e-6)
    assert got["p_value"] == pytest.approx(stats.chi2.sf(2.6323526355544757, 1), rel=1e-6)
    assert (got["hits"], got["expected_hits"], got["note"]) == (3, pytest.approx(1.0), None)
    zero = kupiec_test(np.zeros(50), 0.01)
    assert zero["statistic"] == pytest.approx(-2 * 50 * math.log(0.99))
    assert "zero hits" in zero["note"]
    every = kupiec_test(np.ones(50), 0.01)
    assert every["statistic"] == pytest.approx(-2 * 50 * math.log(0.01))
    assert every["p_value"] < 1e-90 and "every date is a hit" in every["note"]
    with pytest.raises(ValueError, match="only 0 and 1"):
        kupiec_test([0, 2], 0.01)


def test_kupiec_matches_vartests():
    # a dev dependency (pyproject [dev]): missing, this test fails rather than skips
    import vartests

    rng = np.random.default_rng(3)
    cases = [rng.random(n) < p for n, p in [(250, 0.01), (746, 0.02), (500, 0.05), (100, 0.2)]]
    cases += [np.zeros(250, bool), np.ones(30, bool), np.r_[np.ones(5), np.zeros(495)] > 0]
    for hits in cases:
        for a in (0.01, 0.025, 0.05):
            ours = kupiec_test(hits.astype(int), a)
            theirs = vartests.kupiec_test(hits.astype(int), risk_conf_level=1 - a)
            assert ours["hits"] == theirs["violations"]
            assert ours["statistic"] == pytest.approx(theirs["statistic"], rel=1e-9, abs=1e-12)
            assert ours["p_value"] == pytest.approx(theirs["p-value"], rel=1e-9, abs=1e-300)


def test_christoffersen_hand_example():
    hits = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]
    # transitions (t-1, t): 00 00 01 11 11 10 00 00 00 -> n00=5, n01=1, n10=1, n11=2
    # pi01 = 1/6, pi11 = 2/3, pi = 3/9 = 1/3
    # LR_ind = -2 ln[(2/3)^6 (1/3)^3 / ((5/6)^5 (1/6)^1 (1/3)^1 (2/3)^2)]
    #        = -2 [4 ln(2/3) + 2 ln(1/3) - 5 ln(5/6) - ln(1/6)] = 2.231436
    lr_ind = -2 * (
        4 * math.log(2 / 3) + 2 * math.log(1 / 3) - 5 * math.log(5 / 6) - math.log(1 / 6)
    )
    assert lr_ind == pytest.approx(2.231436, abs=1e-6)
    got = christoffersen_test(hits, 0.05)
    assert (got["n00"], got["n01"], got["n10"], got["n11"]) == (5, 1, 1, 2)
    assert got["pi01"] == pytest.approx(1 / 6) and got["pi11"] == pytest.approx(2 / 3)
    assert got["lr_ind"] == pytest.approx(lr_ind, rel=1e-12)
    assert got["p_value_ind"] == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-9)
    # LR_cc = LR_POF (3 hits in 10 at a = 5 %) + LR_ind, chi-square(2)
    lr_cc = _kupiec_by_hand(3, 10, 0.05) + lr_ind
    assert got["lr_cc"] == pytest.approx(lr_cc, rel=1e-12)
    assert got["p_value_cc"] == pytest.approx(stats.chi2.sf(lr_cc, 2), rel=1e-9)


def test_christoffersen_limits_do_not_crash():
    zero = christoffersen_test(np.zeros(100), 0.01)
    assert zero["lr_ind"] == 0.0 and zero["pi11"] is None and "untestable" in zero["note"]
    assert zero["lr_cc"] == pytest.approx(-2 * 100 * math.log(0.99))
    every = christoffersen_test(np.ones(20), 0.01)
    assert every["lr_ind"] == 0.0 and every["pi01"] is None and "untestable" in every["note"]
    one = christoffersen_test([1], 0.01)
    assert one["lr_ind"] is None and one["p_value_cc"] is None and "at least 2" in one["note"]
    last_only = christoffersen_test([0, 0, 0, 1], 0.01)  # the only hit is the last date
    assert last_only["lr_ind"] == 0.0 and last_only["pi11"] is None
    json.dumps([zero, every, one, last_only], allow_nan=False)


# ---------------------------------------------------------------- ES backtests


def test_z2_by_hand_and_critical_values():
    q = gaussian_set(np.zeros(4), np.ones(4))
    y = np.array([-3.0, 0.0, -2.0, 1.0])
    # a = 2.5 %: VaR = -1.95996, ES = -phi(1.95996) / 0.025 = -2.33780; hits at -3 and -2
    es = -stats.norm.pdf(stats.norm.ppf(0.025)) / 0.025
    z2 = 1 - ((-3.0) / es + (-2.0) / es) / (4 * 0.025)
    got = acerbi_szekely_z2(y, q, LV, 0.025, n_sim=0)
    assert got["hits"] == 2
    assert got["statistic"] == pytest.approx(z2, rel=1e-12)
    assert got["p_value"] is None and got["critical_values"] == {"0.05": -0.70, "0.0001": -1.8}
    assert got["critical_values_apply"] is False
    # zero hits: Z2 = 1 exactly
    calm = acerbi_szekely_z2(np.zeros(4), q, LV, 0.025, n_sim=50)
    assert calm["statistic"] == 1.0 and calm["p_value"] == 1.0 and "zero hits" in calm["note"]
    # an ES that is not negative makes the ratio meaningless
    up = acerbi_szekely_z2(y, gaussian_set(np.full(4, 10.0), np.ones(4)), LV, 0.025)
    assert up["statistic"] is None and "not negative" in up["note"]


def test_z2_simulated_p_value_separates_right_and_wrong_models():
    rng = np.random.default_rng(11)
    n = 500
    sigma = np.full(n, 0.01)
    y = rng.normal(0.0, 0.01, n)
    right = acerbi_szekely_z2(y, gaussian_set(np.zeros(n), sigma), LV, n_sim=500, seed=1)
    wrong = acerbi_szekely_z2(y, gaussian_set(np.zeros(n), 0.6 * sigma), LV, n_sim=500, seed=1)
    assert right["p_value"] > 0.05
    assert wrong["p_value"] < 0.01 and wrong["statistic"] < right["statistic"]
    again = acerbi_szekely_z2(y, gaussian_set(np.zeros(n), sigma), LV, n_sim=500, seed=1)
    assert again == right  # seeded


def test_mcneil_frey_by_hand_and_edges():
    y = np.array([-0.05, -0.01, -0.04, 0.02, -0.06, 0.0])
    var = np.full(6, -0.03)
    es = np.full(6, -0.04)
    # hits: -0.05, -0.04, -0.06 -> residuals y - ES = -0.01, 0.00, -0.02
    # mean -0.01, sd (ddof 1) 0.01, t = -0.01 / (0.01 / sqrt 3) = -sqrt(3)
    got = mcneil_frey_test(y, var, es, n_boot=999, seed=0)
    assert got["hits"] == 3 and got["mean_residual"] == pytest.approx(-0.01)
    assert got["statistic"] == pytest.approx(-math.sqrt(3.0))
    assert 0 < got["p_value"] < 1 and got["standardised"] is False
    assert mcneil_frey_test(y, var, es, n_boot=999, seed=0) == got
    scaled = mcneil_frey_test(y, var, es, scale=np.full(6, 0.01), n_boot=99)
    assert scaled["mean_residual"] == pytest.approx(-1.0) and scaled["standardised"] is True
    few = mcneil_frey_test(y, np.full(6, -0.055), es)
    assert few["hits"] == 1 and few["p_value"] is None and "at least 2" in few["note"]
    # residuals far below zero -> small p-value
    rng = np.random.default_rng(0)
    deep = mcneil_frey_test(
        -0.05 + rng.normal(0, 0.002, 40) - 0.01, np.full(40, -0.03), np.full(40, -0.04)
    )
    assert deep["p_value"] < 0.01


# ---------------------------------------------------------------- report


def test_quantile_report_is_json_ready_even_when_degenerate():
    rng = np.random.default_rng(2)
    y = rng.normal(0, 0.01, 120)
    q = gaussian_set(np.zeros(120), np.full(120, 0.01))
    rep = quantile_report(y, q, LV, horizon=2, options=ReportOptions(n_sim=100, n_boot=99))
    text = json.dumps(rep, allow_nan=False)
    assert "overlapping" in rep["notes"][0]
    assert [r["alpha"] for r in rep["var"]] == [0.01, 0.025, 0.05]
    assert [r["alpha"] for r in rep["es"]] == [0.025, 0.01]
    assert rep["var"][0]["mean_var_loss_pct"] == pytest.approx(100 * 0.01 * 2.326348, rel=1e-5)
    # never a hit, and a hit every date
    for shift in (-1.0, 1.0):
        json.dumps(
            quantile_report(y, q + shift, LV, options=ReportOptions(n_sim=20, n_boot=9)),
            allow_nan=False,
        )
    assert json.loads(text)["n"] == 120
