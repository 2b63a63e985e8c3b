"""Quantile levels and sets (lstmfc.quantiles.levels) and the quantile function between
levels (lstmfc.quantiles.quantile_function).

Known answers come from hand calculations (written out in the comments) and Gaussian
quantiles computed with scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from lstmfc.quantiles.levels import check_quantiles, monotone_quantiles, parse_levels
from lstmfc.quantiles.quantile_function import quantile_at
from lstmfc.quantiles.scoring import pinball_loss
from tests.quantile_data import LV, gaussian_set

# ---------------------------------------------------------------- levels


def test_parse_levels_sorts_and_defaults():
    assert parse_levels(None) == LV
    assert parse_levels("0.99, 0.01 0.5") == (0.01, 0.5, 0.99)
    assert parse_levels([0.9, 0.1]) == (0.1, 0.9)


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
        parse_levels(bad)
    assert "\n" not in str(info.value)


def test_check_quantiles_rejects_crossing_and_bad_shapes():
    q = np.array([[-0.02, 0.0, 0.02], [-0.02, -0.03, 0.02]])
    with pytest.raises(ValueError, match="cross at row 1: level 0.5 is below level 0.1"):
        check_quantiles(q, [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="3 levels for 2 quantile columns"):
        check_quantiles(q[:, :2], [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="strictly increasing"):
        check_quantiles(q[:1], [0.5, 0.1, 0.9])
    with pytest.raises(ValueError, match="must be 2-D"):
        check_quantiles(q[0], [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="length mismatch: y=3, Q rows=2"):
        pinball_loss([0.0, 0.0, 0.0], q[:1].repeat(2, 0), [0.1, 0.5, 0.9])


def test_monotone_quantiles_outward_and_sort_by_hand():
    levels = [0.01, 0.05, 0.5, 0.95, 0.99]
    q = np.array([[-0.01, -0.03, 0.00, 0.04, 0.02]])
    # anchor = the 0.5 column (0.00). Going down: running min of 0.00, -0.03, -0.01 ->
    # -0.03, -0.03 (the 1 % quantile drops to the 5 % one). Going up: running max of 0.00,
    # 0.04, 0.02 -> 0.04, 0.04 (the 99 % quantile rises to the 95 % one).
    np.testing.assert_array_equal(monotone_quantiles(q, levels), [[-0.03, -0.03, 0.0, 0.04, 0.04]])
    np.testing.assert_array_equal(
        monotone_quantiles(q, levels, method="sort"), [[-0.03, -0.01, 0.0, 0.02, 0.04]]
    )
    ok = np.array([[-0.03, -0.01, 0.0, 0.02, 0.04]])
    np.testing.assert_array_equal(monotone_quantiles(ok, levels), ok)
    with pytest.raises(ValueError, match="unknown method"):
        monotone_quantiles(q, levels, method="cummax")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False), min_size=7, max_size=7)
)
def test_monotone_outward_property(row):
    q = np.array([row])
    out = monotone_quantiles(q, LV)
    assert np.all(np.diff(out, axis=1) >= 0)
    c = 3  # the 0.5 column
    assert out[0, c] == q[0, c]
    assert np.all(out[0, :c] <= q[0, :c])  # lower quantiles only move down
    assert np.all(out[0, c + 1 :] >= q[0, c + 1 :])  # upper quantiles only move up


# ---------------------------------------------------------------- quantile function


def test_quantile_at_is_exact_for_gaussian_sets_and_knots():
    q = gaussian_set([0.001, -0.002], [0.02, 0.01])
    new = [0.001, 0.003, 0.02, 0.3, 0.7, 0.999]
    want = np.array([0.001, -0.002])[:, None] + np.array([0.02, 0.01])[:, None] * stats.norm.ppf(
        new
    )
    np.testing.assert_allclose(quantile_at(q, LV, new), want, rtol=0, atol=1e-14)
    # at a given level the column comes back bit for bit
    np.testing.assert_array_equal(quantile_at(q, LV, [0.025, 0.99]), q[:, [1, 6]])
    # limits of the quantile function outside (0, 1); per-row levels
    got = quantile_at(q, LV, np.array([[0.0, 1.0], [-0.1, 1.2]]))
    np.testing.assert_array_equal(got, [[-np.inf, np.inf], [-np.inf, np.inf]])


def test_quantile_at_non_gaussian_by_hand():
    # levels 0.1 / 0.5 / 0.9 -> z = -1.2816, 0, 1.2816; quantiles -2, 0, 4 (skewed)
    z9 = stats.norm.ppf(0.9)
    q = np.array([[-2.0, 0.0, 4.0]])
    lv = [0.1, 0.5, 0.9]
    # tau = 0.3: z = -0.5244 lies in the lower segment, slope 2 / z9
    assert quantile_at(q, lv, [0.3])[0, 0] == pytest.approx(
        stats.norm.ppf(0.3) * 2.0 / z9, abs=1e-15
    )
    # tau = 0.99 extrapolates the upper segment (slope 4 / z9) beyond z9
    assert quantile_at(q, lv, [0.99])[0, 0] == pytest.approx(
        4.0 + 4.0 / z9 * (stats.norm.ppf(0.99) - z9)
    )
