"""The quantile head: pinball loss by hand, non-crossing by construction, decoding,
calibration on validation rows only, ES in currency, the CLI end to end (the baselines:
tests/test_quantile_baselines.py; ACI with delayed feedback: tests/test_conformal.py).

Known answers come from hand computation, scipy's closed forms or ``arch`` run here;
networks are tiny (4 units, 1-2 epochs, lookback 10).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from lstmfc.forecasters.quantile import parametric_quantiles
from lstmfc.heads.quantile import assembly_matrix
from lstmfc.heads.registry import make_head
from lstmfc.network.fit_settings import FitSettings
from lstmfc.quantiles.levels import DEFAULT_LEVELS
from tests.conftest import make_ohlcv
from tests.independent import (
    arch_garch_test_variances,
    dm_hln,
    mismatches,
    network_test_forecasts,
    one_window_late,
    pinball,
    z_read_off,
)
from tests.quantile_data import closes_series
from tests.specs import model_spec

runner = CliRunner()
T = "QNT"
TINY = ["--units", "4", "--dense", "0", "--epochs", "2", "--seed", "3", "--head", "quantile"]


# ---------------------------------------------------------------- the loss, by hand
def test_pinball_loss_hand_values_and_broadcast():
    """y_true (batch, 1) broadcast against (batch, k); values computed by hand."""
    import torch

    from lstmfc.heads.losses import pinball
    from lstmfc.network.backend import keras_module

    ops = keras_module().ops
    loss = pinball(ops, [0.1, 0.9])
    # y = 1, q = (0.5, 1.5): e = (0.5, -0.5): 0.1*0.5 = 0.05; (0.9-1)*(-0.5) = 0.05 -> 0.05
    # y = 0, q = (-1, 2) with levels 0.1/0.9: e = (1, -2): 0.1; 0.2 -> 0.15
    y = torch.tensor([[1.0], [0.0]])
    q = torch.tensor([[0.5, 1.5], [-1.0, 2.0]])
    out = loss(y, q).numpy()
    assert out.shape == (2,)
    np.testing.assert_allclose(out, [0.05, 0.15], rtol=1e-6)
    # levels 0.25/0.75, y = 0, q = (-1, 2): 0.25*1 = 0.25 and (0.75-1)*(-2) = 0.5 -> 0.375
    out = pinball(ops, [0.25, 0.75])(torch.tensor([[0.0]]), torch.tensor([[-1.0, 2.0]])).numpy()
    np.testing.assert_allclose(out, [0.375], rtol=1e-6)
    # a repeated target column gives the same loss as the broadcast one
    same = loss(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), q).numpy()
    np.testing.assert_allclose(same, [0.05, 0.15], rtol=1e-6)


# ---------------------------------------------------------------- non-crossing
def test_assembly_matrix_by_hand():
    # levels 0.1, 0.5, 0.9 -> median column 1; u = [a, b, d1, d2]:
    # q = (a - b - d1, a - b, a - b + d2)
    w = assembly_matrix([0.1, 0.5, 0.9])
    u = np.array([2.0, 0.5, 0.3, 0.7])
    np.testing.assert_allclose(u @ w, [1.2, 1.5, 2.2])
    # default levels: successive columns differ by exactly one increment
    w = assembly_matrix(DEFAULT_LEVELS).astype(np.float64)
    u = np.array([0.4, 1.1, 0.2, 0.3, 1.5, 1.6, 0.25, 0.35])
    q = u @ w
    np.testing.assert_allclose(np.diff(q), u[2:])
    assert q[3] == pytest.approx(0.4 - 1.1)


def _tiny_model(head, seed=0, lookback=10, units=(4,)):
    from lstmfc.network import backend
    from lstmfc.network.models import build_model

    backend.set_seed(seed)
    spec = model_spec(lookback=lookback, n_features=1, head="quantile", units=units, dense=3)
    return build_model(spec, head)


def test_network_quantiles_are_monotone_for_any_weights():
    """Random (large) trainable weights never make the network's quantiles cross."""
    from lstmfc.network import models

    head = make_head("quantile")
    model = _tiny_model(head)
    fixed = model.get_layer("quantile")
    assert not fixed.trainable and fixed.get_weights()[0].shape == (8, 7)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(64, 10, 1)).astype("float32")
    for trial in range(6):
        for layer in model.layers:
            if layer.trainable and layer.weights:
                layer.set_weights(
                    [rng.normal(scale=3.0 + 2 * trial, size=w.shape) for w in layer.get_weights()]
                )
        out = models.predict(model, x)
        step = np.diff(out, axis=1)
        assert np.all(step >= -1e-6 * np.maximum(1.0, np.abs(out[:, 1:]))), trial
        decoded = head.decode({"mean": 0.001, "std": 0.01}, out, None)
        assert np.all(np.diff(decoded, axis=1) >= 0.0)


@pytest.mark.parametrize("fastfit", ["1", "0"], ids=["fastfit", "keras-fit"])
def test_both_training_loops_train_and_keep_the_fixed_layer(monkeypatch, fastfit):
    """fastfit (torch) and Keras's Model.fit (LSTMFC_FASTFIT=0) accept the (n, 1) target
    against (n, k) outputs; the assembly layer never moves."""
    from lstmfc.network import fastfit as ff
    from lstmfc.network import models

    monkeypatch.setenv("LSTMFC_FASTFIT", fastfit)
    head = make_head("quantile")
    model = _tiny_model(head, seed=2)
    assert (ff.problem(model) is None) == (fastfit == "1")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 10, 1)).astype("float32")
    y = head.encode(
        {"column": "target_logret", "mean": 0.0, "std": 0.01},
        pd.DataFrame({"target_logret": 0.01 * rng.standard_t(5, size=96)}),
    )
    assert y.shape == (96, 1) and y.dtype == np.float32
    res = models.fit(model, x[:64], y[:64], x[64:], y[64:], settings=FitSettings(2, 16, 2))
    assert len(res.history["loss"]) == 2 and all(np.isfinite(res.history["val_loss"]))
    np.testing.assert_array_equal(
        model.get_layer("quantile").get_weights()[0], assembly_matrix(head.levels)
    )
    assert models.predict(model, x[:3]).shape == (3, 7)


# ---------------------------------------------------------------- targets
def test_scaling_encode_decode_round_trip():
    head = make_head("quantile", quantiles="0.05,0.5,0.95")
    assert head.levels == (0.05, 0.5, 0.95) and head.n_outputs == 3
    r = np.array([0.01, -0.02, 0.005, 0.0, 0.03])
    tr = pd.DataFrame({"target_logret": r, "close": 100.0})
    s = head.fit_scaling(tr)
    assert s["mean"] == pytest.approx(r.mean()) and s["std"] == pytest.approx(r.std())
    head.check_scaling(s)
    z = head.encode(s, tr)
    assert z.shape == (5, 1)
    q = head.decode(s, np.repeat(z, 3, axis=1), tr)  # a degenerate "forecast": q = y
    np.testing.assert_allclose(q, np.repeat(r[:, None], 3, axis=1), atol=1e-8)
    with pytest.raises(ValueError, match="levels"):
        make_head("quantile").check_scaling(s)
    with pytest.raises(Exception, match="--quantiles"):
        make_head("quantile", quantiles="0.5,1.5")


# ---------------------------------------------------------------- calibration
def test_cqr_fit_uses_the_given_validation_rows_only_and_matches_hand_rank():
    head = make_head("quantile", quantiles="0.1,0.5,0.9")
    rng = np.random.default_rng(1)
    y = rng.normal(size=19)
    q = np.tile([-1.0, 0.0, 1.0], (19, 1))
    cal = head.fit_calibration(pd.DataFrame({"target_logret": y}), q)
    # n = 19: rank floor(20 * 0.1) = 2 for 0.1, ceil(20 * 0.5) = 10, ceil(20 * 0.9) = 18
    e = np.sort(y[:, None] - q, axis=0)
    assert cal["cqr"]["ranks"] == [2, 10, 18]
    np.testing.assert_array_equal(cal["cqr"]["shifts"], [e[1, 0], e[9, 1], e[17, 2]])
    assert cal["aci"]["tau_t"] == [0.1, 0.5, 0.9]


# ---------------------------------------------------------------- baselines


def test_es_in_currency_matches_the_lognormal_closed_form():
    """For a Gaussian quantile set the logged ES in currency is
    close * (1 - exp(mu + s^2/2) * Phi(z_a - s) / a) (lognormal partial expectation)."""
    from scipy.stats import norm

    head = make_head("quantile")
    mu, s, close = 0.0005, 0.012, 2500.0
    q = parametric_quantiles(mu, s, head.levels)[0]
    values = head.log_values(q, close, live={"calibration": {}}, horizon=1)
    d = values["details"]
    for a in (0.025, 0.01):
        za = norm.ppf(a)
        expect = close * (1.0 - math.exp(mu + s * s / 2) * norm.cdf(za - s) / a)
        assert d["es"][f"{a:g}"]["loss"] == pytest.approx(expect, rel=1e-10)
        es_lr = mu - s * norm.pdf(za) / a
        assert d["es"][f"{a:g}"]["loss_pct"] == pytest.approx(-100 * es_lr, rel=1e-9)
    v = d["var"]["0.01"]
    assert v["loss"] == pytest.approx(close * (1 - math.exp(mu + s * norm.ppf(0.01))), rel=1e-9)
    assert values["forecast_price"] == pytest.approx(close * math.exp(mu), rel=1e-12)


# ---------------------------------------------------------------- end to end
def _prepare(ws: Workspace, n: int = 600, cut: int = 0):
    from lstmfc.dataset.prepare import prepare

    frame = make_ohlcv(n, seed=9)
    frame["close"] = closes_series(n, seed=9)
    frame["open"] = frame["close"]
    frame["high"] = frame["close"] * 1.005
    frame["low"] = frame["close"] * 0.995
    write_raw(ws.raw_path(T), frame.iloc[: n - cut] if cut else frame, {"source": "test"})
    prepare(ws, T, lookback=10)
    return frame


@pytest.mark.slow
def test_calibration_uses_validation_rows_only(workspace):
    """Perturbing the test rows leaves the stored CQR shifts bit-identical."""
    from lstmfc.dataset.prepare import prepare
    from lstmfc.workflows.train import train

    ws = Workspace(workspace)
    frame = _prepare(ws)
    opts = dict(head="quantile", units="4", dense=0, epochs=1)
    a = train(ws, T, seed=5, deterministic=True, **opts)["val"]["calibration"]
    meta = json.loads((ws.home / "data" / "prepared" / T / "prepare.json").read_text())
    first_test = meta["split"]["test"]["first_row"] + meta["warmup_rows_dropped"]
    changed = frame.copy()
    for col in ("open", "high", "low", "close"):
        changed.iloc[first_test + 1 :, changed.columns.get_loc(col)] *= 1.3
    write_raw(ws.raw_path(T), changed, {"source": "test"})
    prepare(ws, T, lookback=10)
    b = train(ws, T, seed=5, deterministic=True, **opts)["val"]["calibration"]
    assert a["cqr"]["shifts"] == b["cqr"]["shifts"] and a["cqr"]["n_cal"] == b["cqr"]["n_cal"]
    # ... while changing a validation row changes them
    val = changed.copy()
    row = meta["split"]["val"]["first_row"] + meta["warmup_rows_dropped"] + 5
    val.iloc[row, val.columns.get_loc("close")] *= 0.9
    write_raw(ws.raw_path(T), val, {"source": "test"})
    prepare(ws, T, lookback=10)
    c = train(ws, T, seed=5, deterministic=True, **opts)["val"]["calibration"]
    assert c["cqr"]["shifts"] != a["cqr"]["shifts"]


def _garch_t_quantiles(prep, levels) -> np.ndarray:
    """GARCH(1,1)-t quantiles ``(n_test, k)`` of the test windows (log return), fitted
    with arch directly (:func:`tests.independent.arch_garch_test_variances`):
    ``(mu + sqrt(v) F^-1(tau)) / 100`` with ``F^-1`` the quantile of the unit-variance
    Student t, ``t_nu^-1(tau) sqrt((nu - 2) / nu)`` (Bollerslev 1987)."""
    var, g = arch_garch_test_variances(prep, "t")
    z = stats.t.ppf(levels, g["nu"]) * math.sqrt((g["nu"] - 2) / g["nu"])
    return (g["mu"] + np.sqrt(var)[:, None] * z[None, :]) / 100


def _quantile_row(y, q, levels, shifts, garch_t) -> dict[str, float]:
    """The LSTM's rows by hand: pinball loss per level and on average, 90 % coverage
    (``q_0.05 <= y <= q_0.95``), the share of targets at or below the median forecast,
    the same losses and coverage of the CQR forecasts ``q + shifts``, GARCH-t's mean
    pinball loss, and the Diebold-Mariano (HLN) test of the per-date mean pinball loss
    against GARCH-t's."""
    lo, mid, hi = (levels.index(tau) for tau in (0.05, 0.5, 0.95))
    cqr = q + shifts
    assert np.all(np.diff(cqr, axis=1) >= 0)  # no crossing: nothing to reorder
    loss = pinball(y, q, levels)
    stat, p = dm_hln(loss.mean(axis=1) - pinball(y, garch_t, levels).mean(axis=1))
    row = {f"pinball_{tau:g}": float(v) for tau, v in zip(levels, loss.mean(axis=0), strict=True)}
    return row | {
        "pinball": float(loss.mean()),
        "coverage_90": float(np.mean((y >= q[:, lo]) & (y <= q[:, hi]))),
        "below_median": float(np.mean(y <= q[:, mid])),
        "cqr_pinball": float(pinball(y, cqr, levels).mean()),
        "cqr_coverage_90": float(np.mean((y >= cqr[:, lo]) & (y <= cqr[:, hi]))),
        "garch_t_pinball": float(pinball(y, garch_t, levels).mean()),
        "dm": stat,
        "dm_p": p,
    }


def _reported_row(ev: dict) -> dict[str, float]:
    """The values of :func:`_quantile_row` as ``evaluate`` reported them."""
    lstm, skill = ev["metrics"]["lstm"], ev["skill"]
    assert (skill["model"], skill["benchmark"]) == ("lstm", "garch_t")
    got = {f"pinball_{k}": v for k, v in lstm["pinball_per_level"].items()}
    return got | {
        "pinball": lstm["pinball"],
        "coverage_90": lstm["coverage_90"],
        "below_median": ev["calibration"]["frequency_at_or_below"]["0.5"]["lstm"],
        "cqr_pinball": ev["metrics"]["lstm_cqr"]["pinball"],
        "cqr_coverage_90": ev["metrics"]["lstm_cqr"]["coverage_90"],
        "garch_t_pinball": ev["metrics"]["garch_t"]["pinball"],
        "dm": skill["statistic"],
        "dm_p": skill["p_value"],
    }


def test_cli_train_evaluate_predict_score_with_aci_from_the_log(workspace):
    ws = Workspace(workspace)
    full = _prepare(ws, cut=4)
    r = runner.invoke(app, ["train", T, *TINY, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["head"] == "quantile" and doc["head_options"]["quantiles"] == list(DEFAULT_LEVELS)
    assert len(doc["val"]["calibration"]["cqr"]["shifts"]) == 7

    r = runner.invoke(app, ["evaluate", T, "--json"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert list(ev["metrics"])[:3] == ["lstm", "lstm_cqr", "lstm_aci"]
    assert {"hs250", "ewma", "garch_n", "garch_t", "unconditional"} <= set(ev["metrics"])
    assert ev["skill"]["benchmark"] == "garch_t" and ev["skill"]["details"]["loss"] == "pinball"
    rows = ev["var_backtests"]["lstm_aci"]
    assert [x["alpha"] for x in rows] == [0.01, 0.025, 0.05]
    assert rows[0]["expected_hits"] == pytest.approx(0.01 * ev["n_test"])
    assert "acerbi" in ev["es_backtests"]["lstm"][0]["test"] and ev["es_estimator"]
    assert ev["trading"] is None and ev["best_baseline"]["criterion"] == "mean pinball loss"
    # the network's rows and the headline test recomputed (tests.independent)
    prep, tt, net = network_test_forecasts(ws, T, ev)
    levels, y_test = ev["quantile_levels"], tt["target_logret"].to_numpy()
    shifts = np.asarray(ev["calibration"]["cqr"]["shifts"])
    garch_t = _garch_t_quantiles(prep, levels)
    got = _reported_row(ev)
    assert mismatches(got, _quantile_row(y_test, net, levels, shifts, garch_t)) == []
    # each target against the next window's forecast: every loss, the median's hit
    # frequency and the test move; the 90 % coverages are counts of in/out flags that
    # this shift may leave as they are (here the raw intervals cover every target and
    # the CQR ones miss 3 of 88 either way); GARCH-t's loss does not involve the network
    late = _quantile_row(y_test, one_window_late(net), levels, shifts, garch_t)
    assert set(mismatches(got, late)) >= set(got) - {
        "coverage_90",
        "cqr_coverage_90",
        "garch_t_pinball",
    }
    lo, hi = levels.index(0.05), levels.index(0.95)
    r = runner.invoke(app, ["evaluate", T])
    assert r.exit_code == 0 and "VaR backtests" in r.stdout and "Calibration" in r.stdout

    args = ["predict", T, "--no-update", "--calendar", "weekdays", "--json"]
    first = json.loads(runner.invoke(app, args).stdout)[0]
    assert first["ok"], first
    d1 = json.loads(first["details"])
    # the run's first predict replays ACI through the test split (every outcome realised
    # by as_of): evaluate's walk ends one outcome earlier (the last test target is as_of)
    meta = json.loads((ws.home / "data" / "prepared" / T / "prepare.json").read_text())
    assert d1["aci_absorbed_as_of"] == meta["split"]["test"]["last_window_end"]
    end = ev["calibration"]["aci_final"]
    assert end["n_updates"] == ev["n_test"] - 1
    assert d1["aci_state"]["n_updates"] == ev["n_test"]
    # the one more outcome by hand: the last test target against the ACI quantiles
    # evaluate issued for it, the CQR set of the last test window read off at the
    # working levels of evaluate's final state
    issued = z_read_off(net[-1] + shifts, levels, end["tau_t"])
    assert np.all(np.diff(issued) >= 0)  # in order: nothing to reorder
    err = (y_test[-1] <= issued).astype(int)
    assert np.subtract(d1["aci_state"]["n_hits"], end["n_hits"]).tolist() == err.tolist()
    np.testing.assert_allclose(  # Gibbs & Candes (2021) eq. 2, one step by hand
        d1["aci_state"]["tau_t"],
        np.asarray(end["tau_t"]) + end["gamma"] * (np.asarray(levels) - err),
        rtol=0,
        atol=1e-12,
    )
    assert set(d1["var"]) == {"0.01", "0.025", "0.05"} and set(d1["es"]) == {"0.025", "0.01"}
    assert np.all(np.diff(d1["prices"]) >= 0) and "garch_t" in d1

    # a session later: the first forecast's outcome is absorbed before the next one
    write_raw(ws.raw_path(T), full.iloc[: len(full) - 3], {"source": "test"})
    second = json.loads(runner.invoke(app, args).stdout)[0]
    d2 = json.loads(second["details"])
    assert d2["aci_absorbed_as_of"] == first["as_of"]
    assert d2["aci_state"]["n_updates"] == d1["aci_state"]["n_updates"] + 1
    y = math.log(full["close"].iloc[len(full) - 4] / first["close_as_of"])
    gamma = d1["aci_state"]["gamma"]
    expect = [
        tau_t + gamma * (lv - (1.0 if y <= q else 0.0))  # by hand: Gibbs & Candes (2021) eq. 2
        for tau_t, lv, q in zip(
            d1["aci_state"]["tau_t"], d1["aci_state"]["levels"], d1["aci"], strict=True
        )
    ]
    np.testing.assert_allclose(d2["aci_state"]["tau_t"], expect, rtol=0, atol=1e-15)

    r = runner.invoke(app, ["forecasts", T])
    assert r.exit_code == 0 and "90%" in r.stdout
    s = json.loads(runner.invoke(app, ["score", "--json"]).stdout)
    assert s["newly_scored"] == 1
    live = next(iter(s["summary"].values()))
    assert live["head"] == "quantile" and live["n_quantile"] == 1
    # the one scored forecast by hand: its issued (ACI) quantiles against its outcome y
    q1 = np.asarray(d1["aci"])
    assert live["coverage_90"] == float(q1[lo] <= y <= q1[hi])
    hit = int(y < q1[levels.index(0.01)])  # VaR 1 % is the 0.01 quantile; a hit: y < VaR
    # Kupiec (1995) POF with n = 1: LR = -2 (x ln a + (1 - x) ln(1 - a)), chi2(1)
    lr = -2.0 * (hit * math.log(0.01) + (1 - hit) * math.log(0.99))
    assert live["var1_hits"] == hit
    assert live["var1_kupiec_p"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)
    assert live["pinball"] == pytest.approx(pinball([y], [q1], levels).mean(), rel=1e-12)
    want = pinball([y], [d1["garch_t"]], levels).mean()
    assert live["garch_t_pinball"] == pytest.approx(want, rel=1e-12)
    r = runner.invoke(app, ["score"])
    assert r.exit_code == 0 and "quantile head" in r.stdout


@pytest.mark.slow
def test_tiny_backtest_with_the_quantile_head(workspace):
    ws = Workspace(workspace)
    _prepare(ws)
    args = ["backtest", T, "--folds", "2", "--lookback", "10", "--units", "4", "--dense", "0"]
    r = runner.invoke(app, [*args, "--epochs", "1", "--seed", "3", "--head", "quantile", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)["tickers"][T]
    assert rep["ok"], rep
    o = rep["overall"]
    assert {"lstm", "lstm_cqr", "lstm_aci", "garch_t"} <= set(o["metrics"])
    assert o["skill"]["benchmark"] == "garch_t"
    assert set(o["var_backtests"]) == set(o["metrics"])
    for fit in rep["fits"]:
        assert fit["calibration"]["cqr"]["n_cal"] == fit["n_val"]
    assert o["n"] == sum(f["n"] for f in rep["folds"])
