"""Quantile scores, VaR/ES, backtests, conformal calibration and risk baselines.

Known answers come from hand calculations (written out in the comments), closed forms
(Gaussian ES and CRPS), independent libraries run here (scipy, arch, vartests) and the
figures the issue author measured on the bundled SP500 sample.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from lstmfc import risk

LV = risk.DEFAULT_LEVELS


def gaussian_set(mu, sigma, levels=LV):
    """Exact Gaussian quantiles, computed with scipy (independent of risk.py)."""
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float))
    return mu[:, None] + sigma[:, None] * stats.norm.ppf(np.asarray(levels))[None, :]


# ---------------------------------------------------------------- levels


def test_parse_levels_sorts_and_defaults():
    assert risk.parse_levels(None) == LV
    assert risk.parse_levels("0.99, 0.01 0.5") == (0.01, 0.5, 0.99)
    assert risk.parse_levels([0.9, 0.1]) == (0.1, 0.9)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0.1,1.0", "quantile level 1.0 is outside \\(0, 1\\)"),
        ([0.0, 0.5], "quantile level 0.0 is outside \\(0, 1\\)"),
        ("-0.1", "outside \\(0, 1\\)"),
        ("0.05,0.5,0.05", "quantile level 0.05 is given twice"),
        ("0.1,abc", "quantile level 'abc' is not a number"),
        ("", "quantile levels are empty"),
        ([float("nan")], "outside"),
    ],
)
def test_parse_levels_errors_are_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        risk.parse_levels(bad)
    assert "\n" not in str(info.value)


def test_check_quantiles_rejects_crossing_and_bad_shapes():
    q = np.array([[-0.02, 0.0, 0.02], [-0.02, -0.03, 0.02]])
    with pytest.raises(ValueError, match="cross at row 1: level 0.5 is below level 0.1"):
        risk.check_quantiles(q, [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="3 levels for 2 quantile columns"):
        risk.check_quantiles(q[:, :2], [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="strictly increasing"):
        risk.check_quantiles(q[:1], [0.5, 0.1, 0.9])
    with pytest.raises(ValueError, match="must be 2-D"):
        risk.check_quantiles(q[0], [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="length mismatch: y=3, Q rows=2"):
        risk.pinball_loss([0.0, 0.0, 0.0], q[:1].repeat(2, 0), [0.1, 0.5, 0.9])


def test_monotone_quantiles_outward_and_sort_by_hand():
    levels = [0.01, 0.05, 0.5, 0.95, 0.99]
    q = np.array([[-0.01, -0.03, 0.00, 0.04, 0.02]])
    # anchor = the 0.5 column (0.00). Going down: running min of 0.00, -0.03, -0.01 ->
    # -0.03, -0.03 (the 1 % quantile drops to the 5 % one). Going up: running max of 0.00,
    # 0.04, 0.02 -> 0.04, 0.04 (the 99 % quantile rises to the 95 % one).
    np.testing.assert_array_equal(
        risk.monotone_quantiles(q, levels), [[-0.03, -0.03, 0.0, 0.04, 0.04]]
    )
    np.testing.assert_array_equal(
        risk.monotone_quantiles(q, levels, method="sort"), [[-0.03, -0.01, 0.0, 0.02, 0.04]]
    )
    ok = np.array([[-0.03, -0.01, 0.0, 0.02, 0.04]])
    np.testing.assert_array_equal(risk.monotone_quantiles(ok, levels), ok)
    with pytest.raises(ValueError, match="unknown method"):
        risk.monotone_quantiles(q, levels, method="cummax")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False), min_size=7, max_size=7)
)
def test_monotone_outward_property(row):
    q = np.array([row])
    out = risk.monotone_quantiles(q, LV)
    assert np.all(np.diff(out, axis=1) >= 0)
    c = 3  # the 0.5 column
    assert out[0, c] == q[0, c]
    assert np.all(out[0, :c] <= q[0, :c])  # lower quantiles only move down
    assert np.all(out[0, c + 1 :] >= q[0, c + 1 :])  # upper quantiles only move up


# ---------------------------------------------------------------- interpolation, ES


def test_quantile_at_is_exact_for_gaussian_sets_and_knots():
    q = gaussian_set([0.001, -0.002], [0.02, 0.01])
    new = [0.001, 0.003, 0.02, 0.3, 0.7, 0.999]
    want = np.array([0.001, -0.002])[:, None] + np.array([0.02, 0.01])[:, None] * stats.norm.ppf(
        new
    )
    np.testing.assert_allclose(risk.quantile_at(q, LV, new), want, rtol=0, atol=1e-14)
    # at a given level the column comes back bit for bit
    np.testing.assert_array_equal(risk.quantile_at(q, LV, [0.025, 0.99]), q[:, [1, 6]])
    # limits of the quantile function outside (0, 1); per-row levels
    got = risk.quantile_at(q, LV, np.array([[0.0, 1.0], [-0.1, 1.2]]))
    np.testing.assert_array_equal(got, [[-np.inf, np.inf], [-np.inf, np.inf]])


def test_quantile_at_non_gaussian_by_hand():
    # levels 0.1 / 0.5 / 0.9 -> z = -1.2816, 0, 1.2816; quantiles -2, 0, 4 (skewed)
    z9 = stats.norm.ppf(0.9)
    q = np.array([[-2.0, 0.0, 4.0]])
    lv = [0.1, 0.5, 0.9]
    # tau = 0.3: z = -0.5244 lies in the lower segment, slope 2 / z9
    assert risk.quantile_at(q, lv, [0.3])[0, 0] == pytest.approx(
        stats.norm.ppf(0.3) * 2.0 / z9, abs=1e-15
    )
    # tau = 0.99 extrapolates the upper segment (slope 4 / z9) beyond z9
    assert risk.quantile_at(q, lv, [0.99])[0, 0] == pytest.approx(
        4.0 + 4.0 / z9 * (stats.norm.ppf(0.99) - z9)
    )


@pytest.mark.parametrize("a", [0.025, 0.01, 0.005, 0.03, 0.05, 0.3])
def test_es_matches_gaussian_closed_form(a):
    mu, sigma = np.array([0.0005, -0.001]), np.array([0.012, 0.03])
    q = gaussian_set(mu, sigma)
    # closed form: ES_a = mu - sigma * phi(z_a) / a  (Gaussian, lower tail)
    want = mu - sigma * stats.norm.pdf(stats.norm.ppf(a)) / a
    np.testing.assert_allclose(risk.expected_shortfall(q, LV, a), want, rtol=1e-12, atol=0)


def test_es_of_a_skewed_set_equals_the_integral_of_its_interpolant():
    q = np.array([[-0.09, -0.05, -0.03, 0.001, 0.02, 0.025, 0.03]])
    for a in (0.01, 0.025, 0.04):
        # independent: adaptive quadrature of (1/a) int_0^a q(u) du in u
        val, _ = integrate.quad(
            lambda u: risk.quantile_at(q, LV, [u])[0, 0], 0.0, a, points=[0.01, 0.025], limit=200
        )
        assert risk.expected_shortfall(q, LV, a)[0] == pytest.approx(val / a, rel=1e-7)
        assert risk.expected_shortfall(q, LV, a)[0] <= risk.value_at_risk(q, LV, a)[0]


def test_parametric_quantiles_against_scipy_and_arch():
    from arch.univariate import StudentsT

    lv = np.asarray(LV)
    got = risk.parametric_quantiles([0.0, 0.001], [0.01, 0.02], lv, dist="t", nu=5.0)
    arch_ppf = StudentsT().ppf(lv, np.array([5.0]))  # standardised t (unit variance)
    np.testing.assert_allclose(got[0], 0.01 * arch_ppf, rtol=1e-10)
    np.testing.assert_allclose(got[1], 0.001 + 0.02 * arch_ppf, rtol=1e-10)
    np.testing.assert_allclose(
        risk.parametric_quantiles(0.001, 0.02, lv), [0.001 + 0.02 * stats.norm.ppf(lv)]
    )
    with pytest.raises(ValueError, match="needs nu"):
        risk.parametric_quantiles(0.0, 0.01, lv, dist="t")
    with pytest.raises(ValueError, match="nu must be finite and > 2"):
        risk.parametric_quantiles(0.0, 0.01, lv, dist="t", nu=2.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        risk.parametric_quantiles(0.0, 0.0, lv)


# ---------------------------------------------------------------- scores


def test_pinball_by_hand():
    lv = [0.1, 0.5, 0.9]
    y = [0.01, -0.02]
    q = [[-0.02, 0.0, 0.02], [-0.03, -0.01, 0.01]]
    # row 0: u = y - q = 0.03, 0.01, -0.01 -> 0.1*0.03, 0.5*0.01, (0.9-1)*(-0.01)
    # row 1: u = 0.01, -0.01, -0.03         -> 0.1*0.01, (0.5-1)*(-0.01), (0.9-1)*(-0.03)
    want = [[0.003, 0.005, 0.001], [0.001, 0.005, 0.003]]
    np.testing.assert_allclose(risk.pinball_loss(y, q, lv), want, atol=1e-15)
    np.testing.assert_allclose(risk.pinball_loss_series(y, q, lv), [0.003, 0.003], atol=1e-15)
    np.testing.assert_allclose(
        risk.pinball_loss_series(y, q, lv, level=0.9), [0.001, 0.003], atol=1e-15
    )
    summary = risk.pinball_summary(y, q, lv)
    assert summary["mean"] == pytest.approx(0.003)
    assert summary["per_level"] == pytest.approx({"0.1": 0.002, "0.5": 0.005, "0.9": 0.002})
    with pytest.raises(ValueError, match="level 0.25 is not one of the quantile levels"):
        risk.pinball_loss_series(y, q, lv, level=0.25)


def test_winkler_and_intervals_by_hand():
    # 90 % interval [-0.02, 0.02], alpha = 0.1, 2/alpha = 20
    y = np.array([0.0, -0.03, 0.05, 0.02])
    lo, up = np.full(4, -0.02), np.full(4, 0.02)
    # inside: width 0.04; below by 0.01: 0.04 + 20*0.01; above by 0.03: 0.04 + 20*0.03;
    # on the upper bound: inside, 0.04
    np.testing.assert_allclose(
        risk.winkler_score(y, lo, up, 0.1), [0.04, 0.24, 0.64, 0.04], atol=1e-15
    )
    # Gneiting & Raftery (2007), sec. 6.2: the interval score is (2/alpha) times the sum of
    # the pinball losses of the bounds at alpha/2 and 1 - alpha/2
    pin = risk.pinball_loss(y, np.column_stack([lo, up]), [0.05, 0.95]).sum(axis=1)
    np.testing.assert_allclose(risk.winkler_score(y, lo, up, 0.1), pin / 0.05, atol=1e-15)
    q = np.column_stack([np.full(4, -0.05), lo, np.zeros(4), up, np.full(4, 0.06)])
    rows = risk.central_intervals(y, q, [0.01, 0.05, 0.5, 0.95, 0.99])
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
    got = risk.crps_from_quantiles(y, q, LV)
    np.testing.assert_allclose(got, want, rtol=2e-3)
    assert np.max(np.abs(got - want)) < 1e-3 * sigma


# ---------------------------------------------------------------- VaR backtests


def _kupiec_by_hand(x, n, a):
    pi = x / n
    ll0 = (x * math.log(a) if x else 0.0) + ((n - x) * math.log(1 - a) if n - x else 0.0)
    ll1 = (x * math.log(pi) if x else 0.0) + ((n - x) * math.log(1 - pi) if n - x else 0.0)
    return -2 * (ll0 - ll1)


def test_kupiec_by_hand_and_limits():
    hits = np.zeros(100, dtype=int)
    hits[[5, 40, 77]] = 1
    got = risk.kupiec_test(hits, 0.01)
    # LR = -2 [3 ln .01 + 97 ln .99 - 3 ln .03 - 97 ln .97] = 2.63235...
    assert got["statistic"] == pytest.approx(_kupiec_by_hand(3, 100, 0.01), rel=1e-12)
    assert got["statistic"] == pytest.approx(2.6323526, rel=1e-6)
    assert got["p_value"] == pytest.approx(stats.chi2.sf(2.6323526355544757, 1), rel=1e-6)
    assert (got["hits"], got["expected_hits"], got["note"]) == (3, pytest.approx(1.0), None)
    zero = risk.kupiec_test(np.zeros(50), 0.01)
    assert zero["statistic"] == pytest.approx(-2 * 50 * math.log(0.99))
    assert "zero hits" in zero["note"]
    every = risk.kupiec_test(np.ones(50), 0.01)
    assert every["statistic"] == pytest.approx(-2 * 50 * math.log(0.01))
    assert every["p_value"] < 1e-90 and "every date is a hit" in every["note"]
    with pytest.raises(ValueError, match="only 0 and 1"):
        risk.kupiec_test([0, 2], 0.01)


def test_kupiec_matches_vartests():
    # a dev dependency (pyproject [dev]): missing, this test fails rather than skips
    import vartests

    rng = np.random.default_rng(3)
    cases = [rng.random(n) < p for n, p in [(250, 0.01), (746, 0.02), (500, 0.05), (100, 0.2)]]
    cases += [np.zeros(250, bool), np.ones(30, bool), np.r_[np.ones(5), np.zeros(495)] > 0]
    for hits in cases:
        for a in (0.01, 0.025, 0.05):
            ours = risk.kupiec_test(hits.astype(int), a)
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
    got = risk.christoffersen_test(hits, 0.05)
    assert (got["n00"], got["n01"], got["n10"], got["n11"]) == (5, 1, 1, 2)
    assert got["pi01"] == pytest.approx(1 / 6) and got["pi11"] == pytest.approx(2 / 3)
    assert got["lr_ind"] == pytest.approx(lr_ind, rel=1e-12)
    assert got["p_value_ind"] == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-9)
    # LR_cc = LR_POF (3 hits in 10 at a = 5 %) + LR_ind, chi-square(2)
    lr_cc = _kupiec_by_hand(3, 10, 0.05) + lr_ind
    assert got["lr_cc"] == pytest.approx(lr_cc, rel=1e-12)
    assert got["p_value_cc"] == pytest.approx(stats.chi2.sf(lr_cc, 2), rel=1e-9)


def test_christoffersen_limits_do_not_crash():
    zero = risk.christoffersen_test(np.zeros(100), 0.01)
    assert zero["lr_ind"] == 0.0 and zero["pi11"] is None and "untestable" in zero["note"]
    assert zero["lr_cc"] == pytest.approx(-2 * 100 * math.log(0.99))
    every = risk.christoffersen_test(np.ones(20), 0.01)
    assert every["lr_ind"] == 0.0 and every["pi01"] is None and "untestable" in every["note"]
    one = risk.christoffersen_test([1], 0.01)
    assert one["lr_ind"] is None and one["p_value_cc"] is None and "at least 2" in one["note"]
    last_only = risk.christoffersen_test([0, 0, 0, 1], 0.01)  # the only hit is the last date
    assert last_only["lr_ind"] == 0.0 and last_only["pi11"] is None
    json.dumps([zero, every, one, last_only], allow_nan=False)


# ---------------------------------------------------------------- ES backtests


def test_z2_by_hand_and_critical_values():
    q = gaussian_set(np.zeros(4), np.ones(4))
    y = np.array([-3.0, 0.0, -2.0, 1.0])
    # a = 2.5 %: VaR = -1.95996, ES = -phi(1.95996) / 0.025 = -2.33780; hits at -3 and -2
    es = -stats.norm.pdf(stats.norm.ppf(0.025)) / 0.025
    z2 = 1 - ((-3.0) / es + (-2.0) / es) / (4 * 0.025)
    got = risk.acerbi_szekely_z2(y, q, LV, 0.025, n_sim=0)
    assert got["hits"] == 2
    assert got["statistic"] == pytest.approx(z2, rel=1e-12)
    assert got["p_value"] is None and got["critical_values"] == {"0.05": -0.70, "0.0001": -1.8}
    assert got["critical_values_apply"] is False
    # zero hits: Z2 = 1 exactly
    calm = risk.acerbi_szekely_z2(np.zeros(4), q, LV, 0.025, n_sim=50)
    assert calm["statistic"] == 1.0 and calm["p_value"] == 1.0 and "zero hits" in calm["note"]
    # an ES that is not negative makes the ratio meaningless
    up = risk.acerbi_szekely_z2(y, gaussian_set(np.full(4, 10.0), np.ones(4)), LV, 0.025)
    assert up["statistic"] is None and "not negative" in up["note"]


def test_z2_simulated_p_value_separates_right_and_wrong_models():
    rng = np.random.default_rng(11)
    n = 500
    sigma = np.full(n, 0.01)
    y = rng.normal(0.0, 0.01, n)
    right = risk.acerbi_szekely_z2(y, gaussian_set(np.zeros(n), sigma), LV, n_sim=500, seed=1)
    wrong = risk.acerbi_szekely_z2(y, gaussian_set(np.zeros(n), 0.6 * sigma), LV, n_sim=500, seed=1)
    assert right["p_value"] > 0.05
    assert wrong["p_value"] < 0.01 and wrong["statistic"] < right["statistic"]
    again = risk.acerbi_szekely_z2(y, gaussian_set(np.zeros(n), sigma), LV, n_sim=500, seed=1)
    assert again == right  # seeded


def test_mcneil_frey_by_hand_and_edges():
    y = np.array([-0.05, -0.01, -0.04, 0.02, -0.06, 0.0])
    var = np.full(6, -0.03)
    es = np.full(6, -0.04)
    # hits: -0.05, -0.04, -0.06 -> residuals y - ES = -0.01, 0.00, -0.02
    # mean -0.01, sd (ddof 1) 0.01, t = -0.01 / (0.01 / sqrt 3) = -sqrt(3)
    got = risk.mcneil_frey_test(y, var, es, n_boot=999, seed=0)
    assert got["hits"] == 3 and got["mean_residual"] == pytest.approx(-0.01)
    assert got["statistic"] == pytest.approx(-math.sqrt(3.0))
    assert 0 < got["p_value"] < 1 and got["standardised"] is False
    assert risk.mcneil_frey_test(y, var, es, n_boot=999, seed=0) == got
    scaled = risk.mcneil_frey_test(y, var, es, scale=np.full(6, 0.01), n_boot=99)
    assert scaled["mean_residual"] == pytest.approx(-1.0) and scaled["standardised"] is True
    few = risk.mcneil_frey_test(y, np.full(6, -0.055), es)
    assert few["hits"] == 1 and few["p_value"] is None and "at least 2" in few["note"]
    # residuals far below zero -> small p-value
    rng = np.random.default_rng(0)
    deep = risk.mcneil_frey_test(
        -0.05 + rng.normal(0, 0.002, 40) - 0.01, np.full(40, -0.03), np.full(40, -0.04)
    )
    assert deep["p_value"] < 0.01


# ---------------------------------------------------------------- report


def test_quantile_report_is_json_ready_even_when_degenerate():
    rng = np.random.default_rng(2)
    y = rng.normal(0, 0.01, 120)
    q = gaussian_set(np.zeros(120), np.full(120, 0.01))
    rep = risk.quantile_report(y, q, LV, n_sim=100, n_boot=99, horizon=2)
    text = json.dumps(rep, allow_nan=False)
    assert "overlapping" in rep["notes"][0]
    assert [r["alpha"] for r in rep["var"]] == [0.01, 0.025, 0.05]
    assert [r["alpha"] for r in rep["es"]] == [0.025, 0.01]
    assert rep["var"][0]["mean_var_loss_pct"] == pytest.approx(100 * 0.01 * 2.326348, rel=1e-5)
    # never a hit, and a hit every date
    for shift in (-1.0, 1.0):
        json.dumps(risk.quantile_report(y, q + shift, LV, n_sim=20, n_boot=9), allow_nan=False)
    assert json.loads(text)["n"] == 120


# ---------------------------------------------------------------- CQR


def test_cqr_shift_by_hand_on_ten_points():
    y = np.array([0.3, -0.1, 0.5, 0.0, -0.4, 0.2, 0.9, -0.2, 0.1, 0.4])
    lv = [0.1, 0.25, 0.5, 0.9]
    q = np.zeros((10, 4))  # scores e = y - 0 = y
    # sorted scores: -0.4 -0.2 -0.1 0.0 0.1 0.2 0.3 0.4 0.5 0.9   (n = 10, n + 1 = 11)
    # "tail": 0.1 -> floor(1.1) = 1 -> -0.4; 0.25 -> floor(2.75) = 2 -> -0.2;
    #         0.5 -> ceil(5.5) = 6 -> 0.2;   0.9 -> ceil(9.9) = 10 -> 0.9
    cal = risk.cqr_fit(y, q, lv)
    assert cal.ranks == (1, 2, 6, 10)
    assert cal.shifts == pytest.approx((-0.4, -0.2, 0.2, 0.9))
    assert cal.notes == ()
    # "ceil": 0.1 -> ceil(1.1) = 2 -> -0.2; 0.25 -> ceil(2.75) = 3 -> -0.1
    ceil = risk.cqr_fit(y, q, lv, rule="ceil")
    assert ceil.ranks == (2, 3, 6, 10)
    assert ceil.shifts == pytest.approx((-0.2, -0.1, 0.2, 0.9))
    # 0.05: floor(0.55) = 0 and 0.95: ceil(10.45) = 11 are out of 1..10 -> extreme + note
    thin = risk.cqr_fit(y, np.zeros((10, 2)), [0.05, 0.95])
    assert thin.shifts == pytest.approx((-0.4, 0.9)) and len(thin.notes) == 2
    assert "too few" in thin.notes[0]
    assert risk.CQRCalibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal


def test_cqr_apply_keeps_the_set_monotone():
    cal = risk.CQRCalibration(
        levels=(0.01, 0.05, 0.5, 0.95, 0.99),
        shifts=(0.02, -0.01, 0.0, 0.01, -0.02),
        ranks=(1, 1, 1, 1, 1),
        n_cal=10,
        rule="tail",
    )
    q = np.array([[-0.03, -0.02, 0.0, 0.02, 0.03]])
    # shifted: -0.01, -0.03, 0.00, 0.03, 0.01 -> crosses twice; outward fix:
    # down from 0.5: min(0, -0.03) = -0.03, min(-0.03, -0.01) = -0.03; up: 0.03, max -> 0.03
    np.testing.assert_allclose(cal.apply(q), [[-0.03, -0.03, 0.0, 0.03, 0.03]], atol=1e-15)
    rng = np.random.default_rng(5)
    raw = np.sort(rng.normal(0, 0.01, (200, 5)), axis=1)
    out = cal.apply(raw)
    assert np.all(np.diff(out, axis=1) >= 0)


def test_cqr_finite_sample_hit_rate():
    # exchangeable data, a biased base forecaster: the calibrated 10 % quantile is hit with
    # probability exactly r / (n + 1) = floor(25 * 0.1) / 25 = 0.08 (<= 0.1), and the 90 %
    # quantile is exceeded with probability 1 - ceil(22.5) / 25 = 0.08
    rng = np.random.default_rng(7)
    reps, n = 6000, 24
    data = rng.standard_t(4, size=(reps, n + 1)) * 0.01 + 0.003
    base = np.array([[-0.005, 0.005]])
    below = above = 0
    for row in data:
        cal = risk.cqr_fit(row[:n], np.repeat(base, n, axis=0), [0.1, 0.9])
        lo, hi = cal.apply(base)[0]
        below += row[n] < lo
        above += row[n] > hi
    se = math.sqrt(0.08 * 0.92 / reps)
    assert abs(below / reps - 0.08) < 4 * se
    assert abs(above / reps - 0.08) < 4 * se


# ---------------------------------------------------------------- ACI


def test_aci_three_steps_by_hand():
    lv = [0.1, 0.5, 0.9]
    q_row = stats.norm.ppf(lv)  # standard normal set: read-offs are Phi^-1(tau_t) exactly
    q = np.tile(q_row, (3, 1))
    y = np.array([-2.0, 0.0, -3.0])
    res = risk.adaptive_conformal(y, q, lv, gamma=0.1, clip=None)
    # tau = 0.1: t1 tau 0.1, q = -1.2816, y=-2 <= q hit -> 0.1 + 0.1 (0.1 - 1) = 0.01
    #            t2 tau 0.01, q = -2.3263, y=0 miss    -> 0.01 + 0.1 * 0.1 = 0.02
    #            t3 tau 0.02, q = -2.0537, y=-3 hit    -> 0.02 - 0.09 = -0.07
    # tau = 0.5: 0.5 (q 0, hit) -> 0.45 (q -0.1257, miss) -> 0.5 (q 0, hit) -> 0.45
    # tau = 0.9: 0.9 (hit) -> 0.89 (q 1.2265, hit) -> 0.88 (q 1.1750, hit) -> 0.87
    want_tau = np.array([[0.1, 0.5, 0.9], [0.01, 0.45, 0.89], [0.02, 0.5, 0.88]])
    np.testing.assert_allclose(res.tau_path, want_tau, atol=1e-15)
    np.testing.assert_allclose(res.forecasts, stats.norm.ppf(want_tau), atol=1e-12)
    np.testing.assert_array_equal(res.hits, [[1, 1, 1], [0, 0, 1], [1, 1, 1]])
    assert res.state.tau_t == pytest.approx((-0.07, 0.45, 0.87))
    assert res.state.n_updates == 3 and res.state.n_hits == (2, 2, 3)
    # a working level below 0 gives the trivial forecast -inf (never hit) without clip ...
    nxt = risk.aci_forecast(res.state, q_row)
    assert nxt[0] == -np.inf and nxt[1] == pytest.approx(stats.norm.ppf(0.45))
    # ... and the 0.1 % quantile with the default clip 0.001; the state is not clipped
    clipped = risk.adaptive_conformal(y, q, lv, gamma=0.1)
    assert clipped.state.tau_t == pytest.approx((-0.07, 0.45, 0.87))
    nxt = risk.aci_forecast(clipped.state, q_row)
    assert nxt[0] == pytest.approx(stats.norm.ppf(0.001)) and np.all(np.isfinite(nxt))
    summary = res.summary()
    assert summary["per_level"]["0.1"]["outside_unit_interval"] == 0  # t = 4 is not issued
    json.dumps(summary, allow_nan=False)
    with pytest.raises(ValueError, match="clip must lie in"):
        risk.aci_init(lv, clip=0.5)


def test_aci_uses_only_realised_outcomes():
    rng = np.random.default_rng(4)
    n = 60
    y = rng.normal(0, 0.01, n)
    q = gaussian_set(np.zeros(n), np.full(n, 0.01))
    base = risk.adaptive_conformal(y, q, LV, gamma=0.01)
    t = 30
    y2 = y.copy()
    y2[t] = -0.2  # a crash on date t: every lower quantile is hit
    other = risk.adaptive_conformal(y2, q, LV, gamma=0.01)
    np.testing.assert_array_equal(other.forecasts[: t + 1], base.forecasts[: t + 1])
    np.testing.assert_array_equal(other.tau_path[: t + 1], base.tau_path[: t + 1])
    # ... and changes every later one of the lower levels (their working level fell)
    assert np.all(other.forecasts[t + 1 :, :3] < base.forecasts[t + 1 :, :3])


def test_aci_daily_update_matches_the_batch_run_and_round_trips():
    rng = np.random.default_rng(9)
    n = 40
    y = rng.normal(0, 0.01, n)
    q = gaussian_set(rng.normal(0, 0.001, n), np.full(n, 0.01))
    batch = risk.adaptive_conformal(y, q, LV)
    state = risk.aci_init(LV)
    for t in range(n):  # what predict does: forecast, log, and later absorb the outcome
        issued = risk.aci_forecast(state, q[t])
        np.testing.assert_array_equal(issued, batch.forecasts[t])
        state = risk.ACIState.from_dict(json.loads(json.dumps(state.to_dict())))
        state = risk.aci_update(state, y[t], issued)
    assert state == batch.state
    # continuing from a stored state equals one run over both halves
    first = risk.adaptive_conformal(y[:20], q[:20], LV)
    second = risk.adaptive_conformal(y[20:], q[20:], LV, state=first.state)
    np.testing.assert_array_equal(second.forecasts, batch.forecasts[20:])
    with pytest.raises(ValueError, match="gamma must be > 0"):
        risk.aci_init(LV, gamma=0.0)


# ---------------------------------------------------------------- baselines


CLOSES = np.array([100.0, 101.0, 99.0, 102.0, 103.0, 101.0, 104.0, 100.0])


def test_historical_simulation_by_hand():
    r = np.log(CLOSES[1:] / CLOSES[:-1])  # r[i] = log(c[i+1] / c[i])
    lv = [0.1, 0.5, 0.9]
    # origin 5, window 4, h = 1: the returns ending at rows 2, 3, 4, 5 = r[1:5]
    got = risk.historical_simulation(CLOSES, [5, 6], levels=lv, window=4)
    np.testing.assert_allclose(got[0], np.quantile(r[1:5], lv))
    np.testing.assert_allclose(got[1], np.quantile(r[2:6], lv))
    # h = 2: overlapping 2-session returns ending at rows 4..7 (origin 7, window 4)
    r2 = np.log(CLOSES[[4, 5, 6, 7]] / CLOSES[[2, 3, 4, 5]])
    np.testing.assert_allclose(
        risk.historical_simulation(CLOSES, [7], horizon=2, levels=lv, window=4)[0],
        np.quantile(r2, lv),
    )
    # a forecast at t never reads a later close
    later = CLOSES.copy()
    later[6:] *= 1.3
    np.testing.assert_array_equal(
        risk.historical_simulation(later, [5], levels=lv, window=4), got[:1]
    )
    with pytest.raises(ValueError, match="too little history"):
        risk.historical_simulation(CLOSES, [3], window=4)


def test_ewma_volatility_by_hand():
    r = np.log(CLOSES[1:] / CLOSES[:-1])
    # training origins 0..2, h = 1 -> training returns dated rows 1..3 = r[0:3]
    v1 = np.var(r[0:3])
    v2 = 0.94 * v1 + 0.06 * r[0] ** 2  # forecast for the return of row 2, made at row 1
    v3 = 0.94 * v2 + 0.06 * r[1] ** 2
    v4 = 0.94 * v3 + 0.06 * r[2] ** 2
    got = risk.ewma_volatility(CLOSES, [0, 1, 2, 3], [0, 1, 2])
    np.testing.assert_allclose(got, np.sqrt([v1, v2, v3, v4]), rtol=1e-12)
    # h = 3, zero mean: q = sqrt(3) * sigma * z
    q3 = risk.ewma_gaussian(CLOSES, [3], [0, 1, 2], horizon=3, levels=[0.05, 0.95])
    # training returns for h = 3 reach row 2 + 3 = 5: r[0:5]
    w1 = np.var(r[0:5])
    w4 = 0.94 * (0.94 * (0.94 * w1 + 0.06 * r[0] ** 2) + 0.06 * r[1] ** 2) + 0.06 * r[2] ** 2
    np.testing.assert_allclose(q3[0], math.sqrt(3 * w4) * stats.norm.ppf([0.05, 0.95]))
    qm = risk.ewma_gaussian(CLOSES, [3], [0, 1, 2], levels=[0.5], mean="train")
    assert qm[0, 0] == pytest.approx(np.mean(r[0:3]))


def test_unconditional_quantiles_by_hand():
    lv = [0.25, 0.75]
    got = risk.unconditional_quantiles(CLOSES, [5, 6], [0, 1, 2, 3], levels=lv, horizon=2)
    sample = np.log(CLOSES[[2, 3, 4, 5]] / CLOSES[[0, 1, 2, 3]])
    np.testing.assert_allclose(got, np.tile(np.quantile(sample, lv), (2, 1)))


def test_ewma_reference_row_on_sp500():
    """Issue author's figures: SP500 sample, 746 test dates 2016-01-14..2018-12-31, EWMA(0.94)
    started from the variance of the training returns through 2013-01-28, zero mean: 1 % VaR
    14 hits (7.5 expected, Kupiec p 0.032), 5 % VaR 31 hits (37.3 expected, p 0.28)."""
    from lstmfc.sources import read_sample

    frame, _ = read_sample("SP500")
    closes = frame["close"].to_numpy()
    dates = frame.index
    last_train = int(np.searchsorted(dates, "2013-01-28"))
    first, last = (int(np.searchsorted(dates, d)) for d in ("2016-01-14", "2018-12-31"))
    origins = np.arange(first - 1, last)  # targets are the next session
    assert origins.size == 746
    y = np.log(closes[origins + 1] / closes[origins])
    q = risk.ewma_gaussian(closes, origins, np.arange(last_train), levels=LV)
    rep = risk.quantile_report(y, q, LV, n_sim=50, n_boot=99)
    k1, k5 = rep["var"][0]["kupiec"], rep["var"][2]["kupiec"]
    assert (k1["hits"], k5["hits"]) == (14, 31)
    assert k1["expected_hits"] == pytest.approx(7.46) and k5["expected_hits"] == pytest.approx(37.3)
    assert round(k1["p_value"], 3) == 0.032 and round(k5["p_value"], 2) == 0.28


# ---------------------------------------------------------------- Diebold-Mariano


def test_pinball_dm_test_uses_the_exact_loss_differential():
    rng = np.random.default_rng(8)
    n = 300
    y = rng.normal(0, 0.01, n)
    good = gaussian_set(np.zeros(n), np.full(n, 0.01))
    bad = gaussian_set(np.zeros(n), np.full(n, 0.02))
    d = risk.pinball_loss_differential(y, good, bad, LV)
    res = risk.pinball_dm_test(y, good, bad, LV, benchmark="wide")
    assert res["details"]["mean_loss_differential"] == np.mean(d)
    # h = 1 by hand: DM = mean(d) / sqrt(var0(d) / n), HLN factor sqrt((n - 1) / n), t(n-1)
    dm = np.mean(d) / math.sqrt(np.var(d) / n) * math.sqrt((n - 1) / n)
    assert res["statistic"] == pytest.approx(dm, rel=1e-10)
    assert res["p_value"] == pytest.approx(stats.t.cdf(dm, n - 1), rel=1e-9)
    assert res["verdict"].startswith("beats wide") and res["details"]["loss"] == "pinball"
    one = risk.pinball_dm_test(y, good, bad, LV, level=0.01, horizon=2)
    assert one["details"]["level"] == 0.01 and one["details"]["horizon"] == 2
    # the fallback through metrics.diebold_mariano(loss="absolute") gives the same test
    lm = risk.pinball_loss_series(y, good, LV, level=0.01)
    lb = risk.pinball_loss_series(y, bad, LV, level=0.01)
    via_abs = risk._dm_via_absolute_loss(lm, lb, horizon=2, alpha=0.05, benchmark="benchmark")
    assert via_abs["statistic"] == pytest.approx(one["statistic"], rel=1e-12)
    assert via_abs["details"]["mean_loss_differential"] == np.mean(lm - lb)
