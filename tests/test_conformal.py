"""Conformal calibration of quantile forecasts (lstmfc.quantiles.conformal): CQR, ACI
one day at a time, over a split, and with delayed feedback (``aci_walk``).

Known answers come from hand calculations (written out in the comments) and
finite-sample coverage on simulated data.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from lstmfc.forecasters.quantile import parametric_quantiles
from lstmfc.quantiles.conformal import (
    ACIState,
    CQRCalibration,
    aci_forecast,
    aci_init,
    aci_update,
    aci_walk,
    adaptive_conformal,
    cqr_fit,
)
from tests.quantile_data import LV, gaussian_set

# ---------------------------------------------------------------- CQR


def test_cqr_shift_by_hand_on_ten_points():
    y = np.array([0.3, -0.1, 0.5, 0.0, -0.4, 0.2, 0.9, -0.2, 0.1, 0.4])
    lv = [0.1, 0.25, 0.5, 0.9]
    q = np.zeros((10, 4))  # scores e = y - 0 = y
    # sorted scores: -0.4 -0.2 -0.1 0.0 0.1 0.2 0.3 0.4 0.5 0.9   (n = 10, n + 1 = 11)
    # "tail": 0.1 -> floor(1.1) = 1 -> -0.4; 0.25 -> floor(2.75) = 2 -> -0.2;
    #         0.5 -> ceil(5.5) = 6 -> 0.2;   0.9 -> ceil(9.9) = 10 -> 0.9
    cal = cqr_fit(y, q, lv)
    assert cal.ranks == (1, 2, 6, 10)
    assert cal.shifts == pytest.approx((-0.4, -0.2, 0.2, 0.9))
    assert cal.notes == ()
    # "ceil": 0.1 -> ceil(1.1) = 2 -> -0.2; 0.25 -> ceil(2.75) = 3 -> -0.1
    ceil = cqr_fit(y, q, lv, rule="ceil")
    assert ceil.ranks == (2, 3, 6, 10)
    assert ceil.shifts == pytest.approx((-0.2, -0.1, 0.2, 0.9))
    # 0.05: floor(0.55) = 0 and 0.95: ceil(10.45) = 11 are out of 1..10 -> extreme + note
    thin = cqr_fit(y, np.zeros((10, 2)), [0.05, 0.95])
    assert thin.shifts == pytest.approx((-0.4, 0.9)) and len(thin.notes) == 2
    assert "too few" in thin.notes[0]
    assert CQRCalibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal


def test_cqr_apply_keeps_the_set_monotone():
    cal = CQRCalibration(
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
        cal = cqr_fit(row[:n], np.repeat(base, n, axis=0), [0.1, 0.9])
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
    res = adaptive_conformal(y, q, lv, gamma=0.1, clip=None)
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
    nxt = aci_forecast(res.state, q_row)
    assert nxt[0] == -np.inf and nxt[1] == pytest.approx(stats.norm.ppf(0.45))
    # ... and the 0.1 % quantile with the default clip 0.001; the state is not clipped
    clipped = adaptive_conformal(y, q, lv, gamma=0.1)
    assert clipped.state.tau_t == pytest.approx((-0.07, 0.45, 0.87))
    nxt = aci_forecast(clipped.state, q_row)
    assert nxt[0] == pytest.approx(stats.norm.ppf(0.001)) and np.all(np.isfinite(nxt))
    summary = res.summary()
    assert summary["per_level"]["0.1"]["outside_unit_interval"] == 0  # t = 4 is not issued
    json.dumps(summary, allow_nan=False)
    with pytest.raises(ValueError, match="clip must lie in"):
        aci_init(lv, clip=0.5)


def test_aci_uses_only_realised_outcomes():
    rng = np.random.default_rng(4)
    n = 60
    y = rng.normal(0, 0.01, n)
    q = gaussian_set(np.zeros(n), np.full(n, 0.01))
    base = adaptive_conformal(y, q, LV, gamma=0.01)
    t = 30
    y2 = y.copy()
    y2[t] = -0.2  # a crash on date t: every lower quantile is hit
    other = adaptive_conformal(y2, q, LV, gamma=0.01)
    np.testing.assert_array_equal(other.forecasts[: t + 1], base.forecasts[: t + 1])
    np.testing.assert_array_equal(other.tau_path[: t + 1], base.tau_path[: t + 1])
    # ... and changes every later one of the lower levels (their working level fell)
    assert np.all(other.forecasts[t + 1 :, :3] < base.forecasts[t + 1 :, :3])


def test_aci_daily_update_matches_the_batch_run_and_round_trips():
    rng = np.random.default_rng(9)
    n = 40
    y = rng.normal(0, 0.01, n)
    q = gaussian_set(rng.normal(0, 0.001, n), np.full(n, 0.01))
    batch = adaptive_conformal(y, q, LV)
    state = aci_init(LV)
    for t in range(n):  # what predict does: forecast, log, and later absorb the outcome
        issued = aci_forecast(state, q[t])
        np.testing.assert_array_equal(issued, batch.forecasts[t])
        state = ACIState.from_dict(json.loads(json.dumps(state.to_dict())))
        state = aci_update(state, y[t], issued)
    assert state == batch.state
    # continuing from a stored state equals one run over both halves
    first = adaptive_conformal(y[:20], q[:20], LV)
    second = adaptive_conformal(y[20:], q[20:], LV, state=first.state)
    np.testing.assert_array_equal(second.forecasts, batch.forecasts[20:])
    with pytest.raises(ValueError, match="gamma must be > 0"):
        aci_init(LV, gamma=0.0)


def test_aci_walk_is_causal_and_equals_adaptive_conformal_for_h1():
    rng = np.random.default_rng(4)
    n, lv = 120, LV
    y = 0.01 * rng.standard_t(4, size=n)
    q = parametric_quantiles(0.0, np.full(n, 0.008), lv)
    out, st, pending = aci_walk(y, q, lv, np.arange(n), 1)
    ref = adaptive_conformal(y, q, lv)
    np.testing.assert_array_equal(out, ref.forecasts)
    assert st.n_updates == n - 1 and len(pending) == 1  # the last outcome is not needed yet
    # changing outcome i never changes a forecast made before i + h is realised
    for h in (1, 3):
        base, _, _ = aci_walk(y, q, lv, np.arange(n), h)
        y2 = y.copy()
        y2[50] = -0.2
        moved, _, _ = aci_walk(y2, q, lv, np.arange(n), h)
        np.testing.assert_array_equal(base[: 50 + h], moved[: 50 + h])
        assert not np.array_equal(base[50 + h :], moved[50 + h :])
