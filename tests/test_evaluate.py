"""evaluate, predict, forecasts and score end to end on synthetic data with tiny models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.conftest import make_ohlcv
from tests.independent import dm_hln, mismatches, network_test_forecasts, one_window_late

runner = CliRunner()
TINY = dict(units="4", dense=0, epochs=1, batch_size=32, seed=1, patience=1)


def _setup(
    ws: Workspace,
    head: str,
    n: int = 320,
    ticker: str = "SYN",
    frame=None,
    features=("close",),
    **kw,
) -> dict:
    from lstmfc.dataset.prepare import prepare
    from lstmfc.workflows.train import train

    write_raw(ws.raw_path(ticker), make_ohlcv(n) if frame is None else frame, {"source": "test"})
    prepare(ws, ticker, lookback=10, horizon=1, features=features)
    return train(ws, ticker, head=head, **{**TINY, **kw})


def mean_reverting(n: int = 320, phi: float = -0.6, seed: int = 0) -> pd.DataFrame:
    """OHLCV bars whose daily log returns are AR(1) with coefficient ``phi`` (sd 1 %): the
    next direction is predictable from the last return, so a tiny network's calls vary
    from window to window (on a random walk they are all the same)."""
    rng = np.random.default_rng(seed + 100)
    r, prev = np.empty(n), 0.0
    for t in range(n):
        prev = phi * prev + rng.normal(0.0, 0.01)
        r[t] = prev
    close = 100.0 * np.exp(np.cumsum(r))
    frame = make_ohlcv(n, seed=seed)
    frame["close"] = frame["open"] = close
    frame["high"], frame["low"] = close * 1.003, close * 0.997
    return frame


def price_row(tt: pd.DataFrame, forecast: np.ndarray) -> dict[str, float]:
    """The LSTM's price row and headline test by hand: RMSE and MAE (currency) against
    ``target_price``, and the Diebold-Mariano (HLN) test of its squared errors against
    the random walk's (``close[t]``)."""
    y, last = tt["target_price"].to_numpy(), tt["close"].to_numpy()
    e = y - forecast
    stat, p = dm_hln(e**2 - (y - last) ** 2)
    return {
        "rmse": float(np.sqrt(np.mean(e**2))),
        "mae": float(np.mean(np.abs(e))),
        "dm": stat,
        "dm_p": p,
    }


def direction_row(tt: pd.DataFrame, train_up: np.ndarray, proba: np.ndarray) -> dict:
    """The LSTM's direction row and headline test by hand: accuracy of the calls
    ``P(up) > 0.5``, balanced accuracy, Brier score, log loss, and the exact binomial
    test (scipy) of the number of correct calls against the accuracy of the training
    majority class (up when more than half the training targets rose)."""
    from scipy.stats import binomtest

    y = tt["target_direction"].to_numpy().astype(int)
    calls = (proba > 0.5).astype(int)
    majority = int(np.mean(train_up) > 0.5)
    p0 = float(np.mean(y == majority))
    k = int(np.sum(calls == y))
    recall = [np.mean(calls[y == c] == c) for c in (0, 1)]
    return {
        "accuracy": k / y.size,
        "balanced_accuracy": float(np.mean(recall)),
        "brier": float(np.mean((proba - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(proba) + (1 - y) * np.log(1 - proba))),
        "binomial_p": float(binomtest(k, y.size, p0, alternative="greater").pvalue),
        "p0": p0,
    }


def _recomputed(ws, doc: dict, head: str):
    """The report's own values and the same recomputed from the network's forecasts,
    aligned and one window late (:mod:`tests.independent`)."""
    prep, tt, f = network_test_forecasts(ws, "SYN", doc)
    lstm, skill = doc["metrics"]["lstm"], doc["skill"]
    if head == "price":
        assert skill["benchmark"] == "naive" and skill["model"] == "lstm"
        got = {k: lstm[k] for k in ("rmse", "mae")}
        got.update(dm=skill["statistic"], dm_p=skill["p_value"])
        return got, price_row(tt, f), price_row(tt, one_window_late(f))
    assert skill["test"] == "binomial" and skill["benchmark"] == "majority"
    got = {k: lstm[k] for k in ("accuracy", "balanced_accuracy", "brier", "log_loss")}
    got.update(binomial_p=skill["p_value"], p0=skill["details"]["p0"])
    up = prep.split_targets("train")["target_direction"].to_numpy()
    return got, direction_row(tt, up, f), direction_row(tt, up, one_window_late(f))


# direction: mean-reverting returns and a higher learning rate, so the calls vary
SETUPS = {
    "price": {},
    "direction": dict(frame=mean_reverting(), features=("logret",), epochs=2, lr=0.02),
}


@pytest.mark.parametrize("head", ["price", "direction"])
def test_evaluate_json_document_and_files(workspace, head):
    ws = Workspace.resolve(workspace)
    run = _setup(ws, head, **SETUPS[head])
    res = runner.invoke(app, ["evaluate", "SYN", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    for key in ("ticker", "run_id", "head", "n_test", "test_start", "test_end", "metrics", "skill"):
        assert key in doc
    assert doc["run_id"] == run["run_id"] and doc["head"] == head
    from lstmfc.dataset.prepare import load_prepared

    tt = load_prepared(ws, "SYN").split_targets("test")
    assert doc["n_test"] == len(tt)
    assert doc["test_start"] == str(tt["target_date"].iloc[0])[:10]
    assert doc["test_end"] == str(tt["target_date"].iloc[-1])[:10]
    if head == "price":
        assert set(doc["metrics"]) >= {"lstm", "naive", "sma", "ema", "ols"}
        for m in doc["metrics"].values():
            assert {"rmse", "mae", "directional_accuracy"} <= set(m)
        # the naive row is the random walk: its RMSE is the RMSE of close[t] vs close[t+1]
        naive_rmse = float(np.sqrt(np.mean((tt["target_price"] - tt["close"]) ** 2)))
        assert doc["metrics"]["naive"]["rmse"] == pytest.approx(naive_rmse)
        assert doc["skill"]["test"] == "diebold-mariano"
    else:
        assert set(doc["metrics"]) >= {"lstm", "majority", "last_sign", "logistic"}
        for m in doc["metrics"].values():
            assert {"accuracy", "balanced_accuracy", "brier"} <= set(m)
    assert {"test", "statistic", "p_value", "verdict"} <= set(doc["skill"])
    # the network's row and the headline test, recomputed from the saved bundle's
    # forecasts of the test windows (same engine): equal to 1e-9 ...
    got, want, late = _recomputed(ws, doc, head)
    assert mismatches(got, want) == []
    # ... and every value changes when each target meets the next window's forecast
    # (but p0, the majority's accuracy, which does not depend on the network)
    assert set(mismatches(got, late)) == set(got) - {"p0"}
    bundle = workspace / "models" / "SYN" / run["run_id"]
    assert (bundle / "evaluation.json").is_file()
    assert (bundle / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_table_shows_the_verdict_and_conclusion(workspace):
    ws = Workspace.resolve(workspace)
    _setup(ws, "price")
    doc = json.loads(runner.invoke(app, ["evaluate", "SYN", "--json"]).stdout)
    res = runner.invoke(app, ["evaluate", "SYN"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.stdout.split())
    assert doc["skill"]["verdict"].split(" (p=")[0] in flat
    assert "Conclusion:" in flat and doc["conclusion"][:40] in flat


def test_evaluate_without_model_is_one_line_exit_1(workspace):
    ws = Workspace.resolve(workspace)
    from lstmfc.dataset.prepare import prepare

    write_raw(ws.raw_path("SYN"), make_ohlcv(320), {"source": "test"})
    prepare(ws, "SYN", lookback=10)
    res = runner.invoke(app, ["evaluate", "SYN"])
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ")
    assert "Traceback" not in res.output


def test_predict_logs_once_per_day_and_score_fills_realised(workspace):
    ws = Workspace.resolve(workspace)
    _setup(ws, "price")
    full = make_ohlcv(320)
    # forecast as of 5 sessions before the end, then "time passes"
    write_raw(ws.raw_path("SYN"), full.iloc[:-5], {"source": "test"})
    args = ["predict", "SYN", "--no-update", "--calendar", "weekdays", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)[0]
    assert doc["ok"] and doc["logged"] is True
    as_of = full.index[-6]
    assert doc["as_of"] == as_of.strftime("%Y-%m-%d")
    assert doc["target_date"] == full.index[-5].strftime("%Y-%m-%d")
    assert doc["close_as_of"] == pytest.approx(full["close"].iloc[-6])
    again = runner.invoke(app, args)
    assert json.loads(again.stdout)[0]["logged"] is False
    rows = json.loads(runner.invoke(app, ["forecasts", "--json"]).stdout)
    assert len(rows) == 1

    # nothing to score yet: target session not stored
    s0 = json.loads(runner.invoke(app, ["score", "--json"]).stdout)
    assert s0["newly_scored"] == 0 and s0["pending"] == 1
    write_raw(ws.raw_path("SYN"), full, {"source": "test"})
    s1 = json.loads(runner.invoke(app, ["score", "--json"]).stdout)
    assert s1["newly_scored"] == 1
    row = json.loads(runner.invoke(app, ["forecasts", "SYN", "--json"]).stdout)[0]
    realised = float(full["close"].iloc[-5])
    assert row["realised_close"] == pytest.approx(realised)
    assert row["error"] == pytest.approx(realised - doc["forecast_price"])
    assert row["naive_error"] == pytest.approx(realised - doc["close_as_of"])
    summary = next(iter(s1["summary"].values()))
    assert summary["n_scored"] == 1
    assert summary["mae"] == pytest.approx(abs(realised - doc["forecast_price"]))
    # the drift baseline is logged and scored too: mu is the mean daily log return of
    # the training span (first training window end .. last training target), by hand
    from lstmfc.dataset.prepare import load_prepared

    prep = load_prepared(ws, "SYN")
    c = prep.targets["close"].to_numpy()
    t0, t1 = prep.split_rows("train")[0], prep.split_rows("train")[-1] + 1
    mu = float(np.mean(np.diff(np.log(c[t0 : t1 + 1]))))
    drift_price = doc["close_as_of"] * np.exp(mu)
    assert json.loads(row["details"])["drift_price"] == pytest.approx(drift_price, rel=1e-12)
    assert summary["drift_rmse"] == pytest.approx(abs(realised - drift_price), rel=1e-9)
    csv_out = runner.invoke(app, ["forecasts", "--csv"]).stdout
    assert csv_out.splitlines()[0].startswith("id,ticker,as_of,target_date")


def test_predict_failing_ticker_does_not_stop_others(workspace):
    ws = Workspace.resolve(workspace)
    _setup(ws, "direction")
    res = runner.invoke(
        app, ["predict", "NOPE", "SYN", "--no-update", "--calendar", "weekdays", "--json"]
    )
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert [r["ok"] for r in out] == [False, True]
    assert 0.0 <= out[1]["prob_up"] <= 1.0
    assert "NOPE" in res.stderr and "lstmfc fetch NOPE" in res.stderr


def test_next_session_skips_weekend_and_holidays():
    from lstmfc.workflows.daily import next_sessions

    assert next_sessions("2018-12-31", 1) == pd.Timestamp("2019-01-02")  # New Year's Day
    assert next_sessions("2026-11-25", 1) == pd.Timestamp("2026-11-27")  # Thanksgiving
    assert next_sessions("2026-11-20", 1, "weekdays") == pd.Timestamp("2026-11-23")
    from lstmfc.core.errors import DataError

    with pytest.raises(DataError, match="unknown exchange calendar"):
        next_sessions("2026-11-20", 1, "NOPE")


def test_run_chains_fetch_prepare_train_evaluate_on_the_sample(workspace):
    res = runner.invoke(
        app,
        [
            "run",
            "SP500",
            "--source",
            "sample",
            "--start",
            "2016-01-01",
            "--units",
            "4",
            "--epochs",
            "1",
            "--lookback",
            "20",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["fetch"]["first"] == "2016-01-04" and doc["fetch"]["last"] == "2018-12-31"
    assert doc["prepare"]["lookback"] == 20
    ev = doc["evaluation"]
    assert ev["run_id"] == doc["train"]["run_id"]
    assert ev["test_end"] == "2018-12-31"
    assert ev["skill"]["verdict"]
    table = runner.invoke(app, ["evaluate", "SP500"])
    assert "naive" in table.stdout and "Conclusion" in table.stdout


def test_predict_on_a_series_shorter_than_one_window_logs_nothing(workspace):
    ws = Workspace.resolve(workspace)
    _setup(ws, "price")
    write_raw(ws.raw_path("SYN"), make_ohlcv(5), {"source": "test"})
    res = runner.invoke(app, ["predict", "SYN", "--no-update", "--calendar", "weekdays"])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: SYN: ") and res.stderr.count("\n") == 1
    from lstmfc.data.forecastlog import ForecastLog

    assert ForecastLog(ws.forecast_db).rows() == []


def test_predict_with_a_tampered_bundle_logs_nothing(workspace):
    ws = Workspace.resolve(workspace)
    run = _setup(ws, "price")
    model = workspace / "models" / "SYN" / run["run_id"] / "model.keras"
    model.write_bytes(model.read_bytes() + b"x")
    res = runner.invoke(app, ["predict", "SYN", "--no-update", "--calendar", "weekdays"])
    assert res.exit_code == 1
    assert "the bundle was modified or is corrupt" in res.stderr
    from lstmfc.data.forecastlog import ForecastLog

    assert ForecastLog(ws.forecast_db).rows() == []


def test_tickers_file_for_train_and_evaluate_one_failure_keeps_the_others(workspace, tmp_path):
    from lstmfc.dataset.prepare import prepare

    ws = Workspace.resolve(workspace)
    for t, seed in (("AAA", 1), ("BBB", 2)):
        write_raw(ws.raw_path(t), make_ohlcv(320, seed=seed), {"source": "test"})
        prepare(ws, t, lookback=10)
    universe = tmp_path / "universe.txt"
    universe.write_text("# my universe\nAAA\nNOPE\n\nBBB\n")
    args = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1"]
    res = runner.invoke(app, ["train", "--tickers-file", str(universe), "--json", *args])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert [r["ticker"] for r in out] == ["AAA", "NOPE", "BBB"]
    assert [r["ok"] for r in out] == [True, False, True]
    assert res.stderr.count("Error: ") == 1 and "NOPE" in res.stderr
    ev = runner.invoke(app, ["evaluate", "--tickers-file", str(universe)])
    assert ev.exit_code == 1
    assert "Across tickers" in ev.stdout
    assert "of 2 tickers beat their benchmark significantly" in ev.stdout
