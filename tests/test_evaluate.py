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

runner = CliRunner()
TINY = dict(units="4", dense=0, epochs=1, batch_size=32, seed=1, patience=1)


def _setup(ws: Workspace, head: str, n: int = 320, ticker: str = "SYN", **kw) -> dict:
    from lstmfc.dataset.prepare import prepare
    from lstmfc.workflows.train import train

    write_raw(ws.raw_path(ticker), make_ohlcv(n), {"source": "test"})
    prepare(ws, ticker, lookback=10, horizon=1, features=("close",))
    return train(ws, ticker, head=head, **{**TINY, **kw})


@pytest.mark.parametrize("head", ["price", "direction"])
def test_evaluate_json_document_and_files(workspace, head):
    ws = Workspace.resolve(workspace)
    run = _setup(ws, head)
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
