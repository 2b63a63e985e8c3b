"""The volatility head: target scaling, QLIKE, positive output, volatility features, no
leakage, baselines against arch, and train/evaluate/predict/score/backtest end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.core.errors import DataError, UsageError
from lstmfc.data.store import write_raw
from lstmfc.heads.registry import make_head
from tests.independent import (
    arch_garch_test_variances,
    dm_hln,
    mismatches,
    network_test_forecasts,
    one_window_late,
    qlike,
)
from tests.specs import model_spec

runner = CliRunner()
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1", "--patience", "1"]


def garch_ohlcv(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """OHLCV whose percent log returns follow a GARCH(1,1) (omega 0.05, alpha 0.08,
    beta 0.9, normal errors), so volatility models have something to find."""
    rng = np.random.default_rng(seed)
    r = np.empty(n)
    s2 = 0.05 / (1 - 0.98)
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = 0.05 + 0.08 * r[t] ** 2 + 0.9 * s2
    close = 100.0 * np.exp(np.cumsum(r / 100.0))
    open_ = close * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1e6},
        index=pd.bdate_range("2015-01-01", periods=n, name="date"),
    )


def _targets(logret, close=None) -> pd.DataFrame:
    logret = np.asarray(logret, dtype="float64")
    return pd.DataFrame(
        {"close": np.full(logret.size, 100.0) if close is None else close, "target_logret": logret}
    )


# ------------------------------------------------------------------ target and output
def test_encode_decode_round_trip_and_scale_by_hand():
    head = make_head("vol")
    r = np.array([0.01, -0.02, 0.0, 0.005])  # log returns
    tr = _targets(r)
    scaling = head.fit_scaling(tr)
    # mean squared percent return by hand: (1 + 4 + 0 + 0.25) / 4
    assert scaling["scale"] == pytest.approx(5.25 / 4, rel=1e-12)
    y = head.encode(scaling, tr)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [1 / 1.3125, 4 / 1.3125, 0.0, 0.25 / 1.3125], rtol=1e-6)
    back = head.decode(scaling, y.reshape(-1, 1), tr)
    np.testing.assert_allclose(back[[0, 1, 3]], [1.0, 4.0, 0.25], rtol=1e-6)
    assert back[2] == pytest.approx(1e-8 * 1.3125)  # floored: a variance is never 0
    np.testing.assert_allclose(head.truth(tr), [1.0, 4.0, 0.0, 0.25], rtol=1e-12)
    head.check_scaling(scaling)
    with pytest.raises(ValueError):
        head.check_scaling({**scaling, "scale": 0.0})
    with pytest.raises(Exception, match="nothing to learn"):
        head.fit_scaling(_targets([0.0, 0.0]))


def test_qlike_loss_matches_hand_value():
    from lstmfc.heads.losses import qlike
    from lstmfc.network.backend import keras_module

    keras = keras_module()
    ops = keras.ops
    y = np.array([[1.0], [4.0], [0.0]], dtype="float32")
    f = np.array([[2.0], [1.0], [0.5]], dtype="float32")
    got = ops.convert_to_numpy(qlike(ops)(ops.convert_to_tensor(y), ops.convert_to_tensor(f)))
    # log f + y / f by hand
    want = [math.log(2.0) + 0.5, 0.0 + 4.0, math.log(0.5) + 0.0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    head = make_head("vol")
    assert getattr(head.make_loss(keras), "lstmfc_loss", None) == "qlike"
    assert make_head("vol", loss="mse").make_loss(None) == "mean_squared_error"
    with pytest.raises(UsageError, match="--loss must be qlike or mse"):
        make_head("vol", loss="mae")


def test_network_output_is_a_positive_variance():
    from lstmfc.network import models

    head = make_head("vol")
    spec = model_spec(lookback=5, n_features=2, head="vol", units=(4,), dense=0)
    model = models.build_model(spec, head)
    assert model.layers[-1].get_config()["activation"] == "exponential"
    w, b = model.layers[-1].get_weights()
    x = np.random.default_rng(0).normal(0, 5, (64, 5, 2)).astype("float32")
    for bias in (-30.0, 0.0, 30.0):  # push the output far to both sides
        model.layers[-1].set_weights([w, np.full_like(b, bias)])
        raw = models.predict(model, x)
        assert raw.shape == (64, 1) and np.all(raw >= 0) and np.all(np.isfinite(raw))
        v = head.decode({"scale": 2.0}, raw, None)
        assert np.all(v > 0)


# ------------------------------------------------------------------ features
def test_volatility_features_by_hand_and_garch_matches_arch():
    from lstmfc.dataset.features import build_features
    from lstmfc.dataset.garch_feature import fit_garch_feature
    from lstmfc.volatility.models import garch_variance_feature

    raw = garch_ohlcv(600, seed=1)
    c, hi, lo = (raw[k].to_numpy() for k in ("close", "high", "low"))
    r = 100 * np.diff(np.log(c))
    params = fit_garch_feature(raw, 400)
    assert params["fit_end_date"] == raw.index[400].date().isoformat()
    names = ["absret", "sqret", "logrange", "rv5", "rv22", "garch"]
    frame, warm = build_features(raw, names, garch=params)
    assert warm == 22 and list(frame.columns) == names
    t = np.arange(22, 600)  # raw rows kept
    np.testing.assert_allclose(frame["absret"], np.abs(r[t - 1]), rtol=1e-12)
    np.testing.assert_allclose(frame["sqret"], r[t - 1] ** 2, rtol=1e-12)
    np.testing.assert_allclose(frame["logrange"], 100 * np.log(hi[t] / lo[t]), rtol=1e-12)
    rv5 = [np.mean(r[i - 5 : i] ** 2) for i in t]
    rv22 = [np.mean(r[i - 22 : i] ** 2) for i in t]
    np.testing.assert_allclose(frame["rv5"], rv5, rtol=1e-10)
    np.testing.assert_allclose(frame["rv22"], rv22, rtol=1e-10)
    # arch's own recursion (compute_variance) with parameters fit on returns 1..400
    ref = garch_variance_feature(r, 399)
    np.testing.assert_allclose(frame["garch"], ref[t - 1], rtol=1e-9)


def test_volatility_feature_sets_are_causal_with_a_warm_up():
    """The volatility inputs the product builds (absret, sqret, logrange, rv5, rv22): the
    warm-up rows of rv22 are dropped, altering the last 10 sessions changes no earlier
    row, and an unknown set is refused naming the valid ones."""
    from lstmfc.dataset.features import build_features

    raw = garch_ohlcv(60, seed=5)
    names = ["absret", "sqret", "logrange", "rv5", "rv22"]
    frame, warm = build_features(raw, names)
    assert warm == 22 and frame.index[0] == raw.index[22]
    r = 100 * np.diff(np.log(raw["close"].to_numpy()))  # r[i - 1] ends at raw row i
    assert frame["rv5"].iloc[0] == pytest.approx(np.mean(r[17:22] ** 2), rel=1e-13)
    changed = raw.copy()
    changed.iloc[-10:, :4] *= 1.3
    frame2, _ = build_features(changed, names)
    pd.testing.assert_frame_equal(frame.iloc[:-10], frame2.iloc[:-10], check_exact=True)
    assert not frame.iloc[-10:].equals(frame2.iloc[-10:])
    with pytest.raises(DataError, match="unknown feature 'rv10'; valid features: close"):
        build_features(raw, ["rv10"])


def test_garch_feature_is_causal_and_needs_stored_parameters():
    from lstmfc.dataset.features import build_features
    from lstmfc.dataset.garch_feature import fit_garch_feature

    raw = garch_ohlcv(500, seed=2)
    params = fit_garch_feature(raw, 350)
    full, _ = build_features(raw, ["garch", "rv22"], garch=params)
    changed = raw.copy()
    changed.iloc[301:] *= 1.7
    changed.iloc[320:, changed.columns.get_loc("close")] *= 0.8
    part, _ = build_features(changed, ["garch", "rv22"], garch=params)
    pd.testing.assert_frame_equal(full.iloc[: 301 - 22], part.iloc[: 301 - 22], check_exact=True)
    with pytest.raises(DataError, match="needs GARCH\\(1,1\\) parameters fit on the training"):
        build_features(raw, ["garch"])
    with pytest.raises(DataError, match="lack a finite 'omega'"):
        build_features(raw, ["garch"], garch={**params, "omega": None})


def test_close_only_series_refuses_range_features_in_one_line(workspace):
    from lstmfc.dataset.features import build_features

    raw = garch_ohlcv(100)[["close"]]
    with pytest.raises(DataError) as exc:
        build_features(raw, ["logrange"])
    msg = str(exc.value)
    assert "\n" not in msg and "'high'" in msg and "close-only" in msg
    frame, _ = build_features(raw, ["absret", "rv5"])  # close-based sets still work
    assert list(frame.columns) == ["absret", "rv5"]
    # and no Parkinson proxy column in its prepared targets
    from lstmfc.dataset.prepare import load_prepared, prepare

    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("CLO"), garch_ohlcv(200)[["close"]], {"source": "test"})
    prepare(ws, "CLO", lookback=5, features=("logret", "rv5"))
    assert "target_parkinson" not in load_prepared(ws, "CLO").targets.columns


def test_parkinson_target_by_hand():
    from lstmfc.dataset.targets import target_frame

    raw = garch_ohlcv(30)
    tf = target_frame(raw["close"], 2, raw["high"], raw["low"])
    pv = (100 * np.log(raw["high"] / raw["low"])).to_numpy() ** 2 / (4 * math.log(2))
    np.testing.assert_allclose(tf["target_parkinson"].iloc[:-2], pv[1:-1] + pv[2:], rtol=1e-12)
    assert tf["target_parkinson"].iloc[-2:].isna().all()


# ------------------------------------------------------------------ leakage
def test_vol_target_features_and_baseline_parameters_ignore_validation_and_test_rows(
    workspace,
):
    """Change every close, high and low after the last training target: the GARCH
    feature's parameters, the scaler, the training features, the target scaling and every
    baseline's fitted parameters stay bit-identical."""
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.forecasters.base import fit_all

    ws = Workspace.resolve(workspace)
    raw = garch_ohlcv(700, seed=3)
    feats = ("logret", "absret", "logrange", "rv22", "garch")
    head = make_head("vol")

    def snapshot(frame):
        write_raw(ws.raw_path("LEAK"), frame, {"source": "test"})
        meta = prepare(ws, "LEAK", lookback=10, features=feats)
        prep = load_prepared(ws, "LEAK")
        rows = prep.split_rows("train")
        closes = prep.targets["close"].to_numpy()
        bl = fit_all(head.baselines(lookback=10), closes, rows, 1)
        last_target = meta["split"]["train"]["end"]
        return {
            "garch": meta["garch"],
            "scaler": meta["scaler"],
            "x_train": np.array(prep.windows("train")),
            "target": head.fit_scaling(prep.split_targets("train")),
            "baselines": json.dumps({k: b.get_params() for k, b in bl.items()}, sort_keys=True),
            "last_target": last_target,
        }

    a = snapshot(raw)
    changed = raw.copy()
    after = changed.index > pd.Timestamp(a["last_target"])
    rng = np.random.default_rng(9)
    shock = np.exp(np.cumsum(rng.normal(0, 0.05, after.sum())))
    for col in ("open", "high", "low", "close"):
        changed.loc[after, col] = changed.loc[after, col] * shock
    b = snapshot(changed)
    assert a["garch"] == b["garch"] and a["scaler"] == b["scaler"]
    assert a["target"] == b["target"]
    np.testing.assert_array_equal(a["x_train"], b["x_train"])
    assert a["baselines"] == b["baselines"]
    assert len(json.loads(a["baselines"])) == 10

    # the leak check is not vacuous: fitting GARCH on every row moves its parameters
    from lstmfc.dataset.garch_feature import fit_garch_feature

    assert fit_garch_feature(changed, len(changed) - 1)["omega"] != b["garch"]["omega"]


def test_baseline_adapter_reads_closes_up_to_the_last_training_target_only():
    head = make_head("vol")
    c = garch_ohlcv(600, seed=4)["close"].to_numpy()
    rows = np.arange(9, 400)  # the last training target is row 400
    later = c.copy()
    later[401:] *= np.exp(np.random.default_rng(1).normal(0, 0.05, 199).cumsum())
    future = c.copy()
    future[480:] *= 0.7  # after the forecast origins 450..479
    for name, b in head.baselines(lookback=10).items():
        rows_b = rows[rows >= b.min_history]
        b.fit(c, rows_b, 1)
        b2 = type(b)(b.vol_name, 10).fit(later, rows_b, 1)
        assert b.get_params() == b2.get_params(), name
        f1 = b.forecast(c, np.arange(450, 500))
        f2 = b.forecast(future, np.arange(450, 500))
        np.testing.assert_array_equal(f1[:30], f2[:30], err_msg=name)  # reads up to t only
        assert not np.array_equal(f1[30:], f2[30:]) or name == "constant"


# ------------------------------------------------------------------ GARCH vs arch
def test_garch_baseline_equals_arch_fixed_parameter_forecasts():
    """The adapter's GARCH(1,1) forecasts equal arch's own fit and fixed-parameter
    forecasts on the same returns (independent computation)."""
    from arch import arch_model

    head = make_head("vol")
    c = garch_ohlcv(700, seed=5)["close"].to_numpy()
    rows = np.arange(9, 450)
    b = head.baselines(lookback=10)["garch"].fit(c, rows, 1)
    test_rows = np.arange(500, 699)
    got = b.forecast(c, test_rows)
    r = 100 * np.diff(np.log(c))
    res = arch_model(r[:450], mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    fixed = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fix(res.params)
    var = fixed.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    np.testing.assert_allclose(got, var[test_rows - 1], rtol=1e-7)
    # two-step (fit through the last training target, row 451): the sum of the 1- and
    # 2-step variances
    b2 = head.baselines(lookback=10)["garch"].fit(c, rows, 2)
    res2 = arch_model(r[:451], mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fit(
        disp="off"
    )
    fixed2 = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fix(res2.params)
    var2 = fixed2.forecast(horizon=2, start=0, reindex=False).variance.to_numpy().sum(axis=1)
    np.testing.assert_allclose(b2.forecast(c, test_rows), var2[test_rows - 1], rtol=1e-7)


def test_live_garch_forecast_equals_the_evaluate_baseline():
    head = make_head("vol")
    raw = garch_ohlcv(600, seed=6)
    c = raw["close"].to_numpy()
    rows = np.arange(9, 400)
    for h in (1, 3):
        live = head.live_baselines(c, rows, h)
        b = head.baselines(lookback=10)["garch"].fit(c, rows, h)
        as_of = 550
        out = head.filter_live(live, raw["close"].iloc[: as_of + 1], {"first_date": raw.index[0]})
        want = b.forecast(c, np.array([as_of]))[0]
        assert out["garch"]["variance"] == pytest.approx(want, rel=1e-9)
        values = head.log_values(2.0, c[as_of], out, h)
        d = values["details"]
        assert d["variance"] == 2.0 and d["annualised_vol_pct"] == pytest.approx(
            math.sqrt(252 * 2.0 / h)
        )
        assert d["garch_variance"] == pytest.approx(want, rel=1e-9)


def test_truth_is_the_squared_return_proxy_of_the_daily_returns():
    """The head's proxy ``(100 target_logret)**2`` is the package's squared-return proxy
    (``square_of_sum`` over the h target sessions) of the same closes."""
    from lstmfc.dataset.prepare import target_frame
    from lstmfc.volatility.proxies import squared_return_proxy
    from lstmfc.volatility.series import percent_log_returns

    head = make_head("vol")
    raw = garch_ohlcv(300, seed=10)
    r = percent_log_returns(raw["close"].to_numpy())  # r[t - 1] ends at row t
    for h in (1, 3):
        tf = target_frame(raw["close"], h).iloc[1:-h]  # rows t = 1 .. n - 1 - h
        origins = np.arange(1, len(raw) - h) - 1
        want = squared_return_proxy(r, origins, h, aggregate="square_of_sum")
        np.testing.assert_allclose(head.truth(tf), want, rtol=1e-9, atol=1e-12)
        assert h == 1 or not np.allclose(head.truth(tf), squared_return_proxy(r, origins, h))


def test_score_is_json_ready_with_dm_tests_and_the_mcs_on_both_proxies():
    """Every baseline fit on the training rows and scored by the head (h = 2): positive
    forecasts, metrics on the squared return and the Parkinson proxy, DM tests against
    ``garch``, the MCS over every model; nothing that JSON cannot hold."""
    from lstmfc.dataset.prepare import target_frame
    from lstmfc.forecasters.base import fit_all
    from lstmfc.volatility.proxies import parkinson_proxy

    head = make_head("vol")
    raw = garch_ohlcv(700, seed=3)
    c = raw["close"].to_numpy()
    tf = target_frame(raw["close"], 2, raw["high"], raw["low"])
    bl = fit_all(head.baselines(lookback=10), c, np.arange(9, 448), 2)
    rows = np.arange(450, 690)
    forecasts = {name: b.forecast(c, rows) for name, b in bl.items()}
    for name, f in forecasts.items():
        assert f.shape == (rows.size,) and np.all(f > 0), name
    targets = tf.iloc[rows]
    # the prepared Parkinson target is the package's proxy of the same sessions
    pk = parkinson_proxy(raw["high"].to_numpy(), raw["low"].to_numpy(), rows, 2)
    np.testing.assert_allclose(targets["target_parkinson"], pk, rtol=1e-12)
    sc = head.score(targets, {"lstm": forecasts["ewma"] * 1.1, **forecasts}, horizon=2)
    text = json.dumps({"metrics": sc.metrics, "tests": sc.tests, **sc.extra})
    assert "NaN" not in text and "Infinity" not in text
    mcs = sc.extra["mcs"]
    assert set(mcs["included"]) | set(mcs["excluded"]) == {"lstm", *forecasts}
    assert mcs["loss"] == "qlike" and mcs["size"] == 0.10
    assert all("qlike_parkinson" in m for m in sc.metrics.values())
    pairs = [(t["model"], t["benchmark"]) for t in sc.tests]
    assert pairs[:2] == [("lstm", "garch"), ("lstm", "ewma")]
    assert ("garch", "garch") not in pairs and ("ewma", "garch") in pairs
    assert all(t["details"]["loss"] == "qlike" for t in sc.tests)


# ------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_train_evaluate_predict_score_end_to_end(workspace):
    ws = Workspace.resolve(workspace)
    full = garch_ohlcv(660, seed=7)
    write_raw(ws.raw_path("VOL"), full.iloc[:-5], {"source": "test"})
    res = runner.invoke(
        app, ["prepare", "VOL", "--lookback", "10", "--features", "logret,sqret,rv5,garch"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "VOL", "--head", "vol", *TINY, "--json"])
    assert res.exit_code == 0, res.output
    tr = json.loads(res.stdout)
    assert tr["head"] == "vol" and tr["head_options"] == {"loss": "qlike"}
    assert set(tr["val"]) == {"qlike", "mse", "constant_qlike"}
    mse = runner.invoke(app, ["train", "VOL", "--head", "vol", "--loss", "mse", *TINY])
    assert mse.exit_code == 0, mse.output
    assert "vol (mse) head" in " ".join(mse.stdout.split()) and "val QLIKE" in mse.stdout
    res = runner.invoke(app, ["train", "VOL", "--head", "vol", *TINY])  # latest: QLIKE again
    assert res.exit_code == 0, res.output

    res = runner.invoke(app, ["evaluate", "VOL", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    models = ["lstm", "garch", "garch_t", "gjr", "gjr_t", "egarch", "egarch_t", "ewma", "har",
              "rolling22", "constant"]  # fmt: skip
    assert list(doc["metrics"]) == models
    for m in doc["metrics"].values():
        assert {"qlike", "mse", "mae_vol", "mz_r2", "qlike_parkinson", "mse_parkinson"} <= set(m)
    assert doc["trading"] is None
    heads = [(t["model"], t["benchmark"]) for t in doc["skill_tests"]]
    assert heads[:2] == [("lstm", "garch"), ("lstm", "ewma")]
    assert doc["skill"]["details"]["loss"] == "qlike"
    assert set(doc["mcs"]["p_values"]) == set(models) and doc["mcs"]["size"] == 0.10
    assert doc["best_baseline"]["criterion"] == "QLIKE"
    # the network's row and the headline test recomputed: the network's variances
    # forecast here from the saved bundle (same engine), GARCH(1,1) with arch directly
    # (fit on the returns up to the last training target), QLIKE = log f + y / f with
    # y = (100 target_logret)^2, Diebold-Mariano (HLN) on the QLIKE differentials
    prep, tt, net = network_test_forecasts(ws, "VOL", doc)
    garch, _ = arch_garch_test_variances(prep)
    y = (100 * tt["target_logret"].to_numpy()) ** 2

    def vol_row(f):
        stat, p = dm_hln(qlike(y, f) - qlike(y, garch))
        return {
            "qlike": float(np.mean(qlike(y, f))),
            "mse": float(np.mean((y - f) ** 2)),
            "mean_variance": float(np.mean(f)),
            "dm": stat,
            "dm_p": p,
        }

    assert (doc["skill"]["model"], doc["skill"]["benchmark"]) == ("lstm", "garch")
    got = {k: doc["metrics"]["lstm"][k] for k in ("qlike", "mse", "mean_variance")}
    got.update(dm=doc["skill"]["statistic"], dm_p=doc["skill"]["p_value"])
    assert mismatches(got, vol_row(net)) == []
    assert doc["metrics"]["garch"]["qlike"] == pytest.approx(np.mean(qlike(y, garch)), rel=1e-9)
    # a misalignment (each target against the next window's forecast) fails every check
    assert set(mismatches(got, vol_row(one_window_late(net)))) == set(got)
    closes = prep.targets["close"].to_numpy()
    head = make_head("vol")
    b = head.baselines(lookback=10)["garch"].fit(closes, prep.split_rows("train"), 1)

    table = runner.invoke(app, ["evaluate", "VOL"])
    assert table.exit_code == 0, table.output
    flat = " ".join(table.stdout.split())
    for text in ("QLIKE", "MZ R²", "Model Confidence Set", "Parkinson", "diebold-mariano"):
        assert text in flat
    assert "Trading view" not in flat

    args = ["predict", "VOL", "--no-update", "--calendar", "weekdays", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    assert row["ok"] and row["head"] == "vol" and row["forecast_price"] is None
    d = json.loads(row["details"])
    assert d["variance"] > 0 and d["annualised_vol_pct"] == pytest.approx(
        math.sqrt(252 * d["variance"])
    )
    # the logged GARCH forecast: train-time parameters, filtered up to as_of (prepared
    # rows start after the warm-up rows)
    warm = prep.meta["warmup_rows_dropped"]
    as_of_row = len(full) - 6 - warm
    garch_now = b.forecast(full["close"].to_numpy()[warm:], np.array([as_of_row]))[0]
    assert d["garch_variance"] == pytest.approx(garch_now, rel=1e-9)
    listed = runner.invoke(app, ["forecasts", "VOL"])
    assert listed.exit_code == 0 and "ann." in listed.stdout

    write_raw(ws.raw_path("VOL"), full, {"source": "test"})
    res = runner.invoke(app, ["score", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["newly_scored"] == 1
    realised = float(full["close"].iloc[-5])
    y1 = (100 * math.log(realised / row["close_as_of"])) ** 2
    summary = next(iter(s["summary"].values()))
    assert summary["qlike"] == pytest.approx(math.log(d["variance"]) + y1 / d["variance"])
    assert summary["garch_qlike"] == pytest.approx(
        math.log(d["garch_variance"]) + y1 / d["garch_variance"]
    )
    logged = json.loads(runner.invoke(app, ["forecasts", "VOL", "--json"]).stdout)[0]
    assert logged["error"] == pytest.approx(y1 - d["variance"])
    shown = runner.invoke(app, ["score"])
    assert shown.exit_code == 0 and {"GARCH", "QLIKE", "vol"} <= set(shown.stdout.split())


@pytest.mark.slow
def test_backtest_with_the_vol_head(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("BTV"), garch_ohlcv(520, seed=8), {"source": "test"})
    res = runner.invoke(
        app,
        ["backtest", "BTV", "--head", "vol", "--folds", "2", "--lookback", "10", "--horizon",
         "2", *TINY, "--no-save-models"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert {"GARCH", "QLIKE", "MCS"} <= set(res.stdout.split())
    (saved,) = (workspace / "data" / "backtests" / "BTV").glob("*/backtest.json")
    r = json.loads(saved.read_text())
    assert r["ok"] and r["head"] == "vol" and len(r["folds"]) == 2 and r["horizon"] == 2
    o = r["overall"]
    assert o["skill"]["benchmark"] == "garch" and o["trading"] is None
    assert "mcs" in o and set(o["mcs"]["p_values"]) >= {"lstm", "garch", "ewma"}
    for f in r["folds"]:
        assert {"qlike", "garch_qlike", "mse"} <= set(f)
    # GARCH refit per fit: each fit's parameters come from its own training rows
    assert all("garch" in fit["best_baseline"]["validation"] for fit in r["fits"])
    # horizon 2: the proxy is the squared two-session percent log return
    fc = pd.read_csv(saved.parent / "forecasts.csv")
    raw = garch_ohlcv(520, seed=8)["close"]
    c0, c2 = (raw.loc[pd.to_datetime(fc[k])].to_numpy() for k in ("date", "target_date"))
    np.testing.assert_allclose(fc["proxy_sq_return"], (100 * np.log(c2 / c0)) ** 2, rtol=1e-8)
    assert (fc["garch"] > 0).all() and (fc["egarch"] > 0).all()


def test_backtest_refuses_the_garch_feature_in_one_line(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("BTG"), garch_ohlcv(400, seed=8), {"source": "test"})
    res = runner.invoke(
        app,
        ["backtest", "BTG", "--head", "vol", "--folds", "2", "--lookback", "10", "--features",
         "logret,garch", *TINY],
    )  # fmt: skip
    assert res.exit_code == 1
    assert "garch" in res.stderr and res.stderr.count("\n") <= 2


# ------------------------------------------------------------------ SP500 known answer
@pytest.mark.slow
def test_sp500_garch_qlike_on_the_evaluate_test_dates_matches_arch(workspace):
    """``lstmfc run SP500 --source sample --head vol`` (tiny network): the GARCH(1,1)
    row equals an independent arch fit on the returns up to the last training target,
    forecasting the test dates with fixed parameters."""
    from arch import arch_model

    from lstmfc.data.sources.sample import read_sample

    res = runner.invoke(
        app, ["run", "SP500", "--source", "sample", "--head", "vol", *TINY, "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    ev, meta = doc["evaluation"], doc["prepare"]
    assert ev["n_test"] == 746 and (ev["test_start"], ev["test_end"]) == (
        "2016-01-14",
        "2018-12-31",
    )
    for key in ("metrics", "skill_tests", "mcs"):
        assert key in ev
    frame, _ = read_sample("SP500")
    c = frame["close"].to_numpy()[meta["warmup_rows_dropped"] :]  # prepared closes
    r = 100 * np.diff(np.log(c))  # r[j] ends at prepared row j + 1
    last_target = meta["split"]["train"]["last_row"] + 1
    am = arch_model(r[:last_target], mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
    params = am.fit(disp="off").params
    full = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fix(params)
    var = full.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    t = np.arange(meta["split"]["test"]["first_row"], meta["split"]["test"]["last_row"] + 1)
    f, y = var[t - 1], r[t] ** 2  # forecast made at row t; the return ending at t + 1
    qlike = float(np.mean(np.log(f) + y / f))
    assert ev["metrics"]["garch"]["qlike"] == pytest.approx(qlike, rel=1e-8)
    assert ev["metrics"]["garch"]["mse"] == pytest.approx(float(np.mean((y - f) ** 2)), rel=1e-8)
    # the reference figures (GARCH fit through 2013-01-28, arch 8.0)
    assert ev["metrics"]["garch"]["qlike"] == pytest.approx(0.270, abs=0.0005)
    assert ev["metrics"]["garch"]["mse"] == pytest.approx(2.72, abs=0.005)
    assert ev["metrics"]["ewma"]["qlike"] == pytest.approx(0.341, abs=0.0005)
    assert ev["metrics"]["constant"]["qlike"] == pytest.approx(0.945, abs=0.0005)
