"""Walk-forward backtest: fold arithmetic, the no-future guarantee, tickers files, CLI.

Tiny models only (4 units, 1 epoch, lookback 10). The Dask executor is tested in
tests/test_backtest_dask.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmfc import backtest as bt
from lstmfc.backtest import BacktestConfig, Fit, Fold, PlanOptions, plan_folds, prepare_ticker
from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.core.errors import DataError, TemporaryFailure, UsageError
from lstmfc.data.store import write_raw
from lstmfc.data.universe import merge_tickers, parse_tickers_text, read_tickers_file
from tests.conftest import make_ohlcv

runner = CliRunner()
TINY = dict(lookback=10, units="4", dense=0, epochs=1, batch_size=32, patience=1, seed=3)
TINY_ARGS = ["--lookback", "10", "--units", "4", "--dense", "0", "--epochs", "1", "--seed", "3"]


# ------------------------------------------------------------ fold arithmetic
def test_folds_by_hand_equal_blocks():
    # N=100 rows, L=10, h=1: window ends 9..98 (W=90); test region floor(0.3*90)=27
    # windows = ends 72..98, three blocks of 9.
    p = plan_folds(100, 10, 1, PlanOptions(folds=3))
    assert p.n_windows == 90 and p.test_size == 27
    assert p.folds == (Fold(0, 72, 80, 0), Fold(1, 81, 89, 1), Fold(2, 90, 98, 2))
    # fit k: window ends 9 .. a_k - h; floor(0.85 * n_fit) of them train, the rest val
    # fold 1: 9..71 (63 windows, 53 train: 9..61), fold 2: 9..80 (72, 61: 9..69),
    # fold 3: 9..89 (81, 68: 9..76)
    assert p.fits == (
        Fit(0, 9, 61, 71, (0,)),
        Fit(1, 9, 69, 80, (1,)),
        Fit(2, 9, 76, 89, (2,)),
    )
    assert p.fits[0].n_train == 53 and p.fits[0].n_val == 10
    assert bt.scaler_rows(9, 61, 10) == (0, 61)


def test_folds_by_hand_uneven_step_and_combined():
    # 30 test windows in 4 folds: 8, 8, 7, 7 (the first 30 mod 4 = 2 get one more)
    p = plan_folds(100, 10, 1, PlanOptions(folds=4, test_size=30))
    assert [(f.test_first, f.test_last) for f in p.folds] == [
        (69, 76),
        (77, 84),
        (85, 91),
        (92, 98),
    ]
    # --step 10 over 25 test windows: 10, 10, 5 from the start of the test region
    p = plan_folds(100, 10, 1, PlanOptions(step=10, test_size=25))
    assert [(f.test_first, f.test_last) for f in p.folds] == [(74, 83), (84, 93), (94, 98)]
    # --folds 2 --step 5 at horizon 2: the last 10 windows (ends 88..97; N-1-h = 97);
    # --retrain-every 6: fold 2 starts 5 days after fold 1, so it re-uses fit 1;
    # rolling: train size defaults to fold 1's 78 windows (ends 9..86 = 88 - 2)
    p = plan_folds(100, 10, 2, PlanOptions(folds=2, step=5, window="rolling", retrain_every=6))
    assert [(f.test_first, f.test_last, f.fit) for f in p.folds] == [(88, 92, 0), (93, 97, 0)]
    assert p.fits == (Fit(0, 9, 74, 86, (0, 1)),) and p.train_size == 78


def test_folds_by_hand_rolling_retrain_and_horizon_gap():
    p = plan_folds(100, 10, 1, PlanOptions(folds=3, window="rolling", train_size=40))
    # last_end 71, 80, 89; first_end = last_end - 39; 34 train + 6 val
    assert [(f.first_end, f.train_last, f.last_end) for f in p.fits] == [
        (32, 65, 71),
        (41, 74, 80),
        (50, 83, 89),
    ]
    p = plan_folds(100, 10, 1, PlanOptions(folds=3, retrain_every=10))
    # folds start at 72, 81, 90: 81 - 72 = 9 < 10 re-uses fit 1; 90 - 72 = 18 refits
    assert [f.fit for f in p.folds] == [0, 0, 1]
    assert [f.folds for f in p.fits] == [(0, 1), (2,)]
    # horizon 3: W = 88, T = 26, ends 71..96; fit 1 ends at 71 - 3 = 68 so its last
    # target (row 71) is the close at the first forecast origin, never later
    p = plan_folds(100, 10, 3, PlanOptions(folds=2))
    assert [(f.test_first, f.test_last) for f in p.folds] == [(71, 83), (84, 96)]
    assert p.fits[0].last_end == 68 and p.fits[1].last_end == 81


@pytest.mark.parametrize("h", [1, 2, 5])
@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_no_training_target_reaches_into_the_test_block(h, window):
    for folds in (1, 2, 3, 7):
        for retrain in (None, 4, 30):
            p = plan_folds(
                400, 20, h, PlanOptions(folds=folds, window=window, retrain_every=retrain)
            )
            for fd in p.folds:
                fit = p.fits[fd.fit]
                assert fit.last_end + h <= fd.test_first  # known at the forecast origin
                assert fit.last_end + h < fd.test_first + h  # before the first target
                assert fit.first_end >= 19 and fit.n_train >= 2 and fit.n_val >= 1
            ends = [r for fd in p.folds for r in range(fd.test_first, fd.test_last + 1)]
            assert ends == list(range(400 - h - p.test_size, 400 - h))  # contiguous


def test_fold_plan_errors():
    with pytest.raises(
        DataError, match=r"^6 test windows cannot make 7 folds; use at most 6 --folds$"
    ):
        plan_folds(30, 10, 1, PlanOptions(folds=7))
    # 30 rows, L=10: 20 windows (ends 9..28); 18 tested leave ends 9..10 for fold 1
    msg = (
        "fold 1 has 2 windows before its test block (1 training, 1 validation); need at "
        "least 2 and 1: use fewer --folds, a smaller --test-size or a longer history"
    )
    with pytest.raises(DataError) as exc:
        plan_folds(30, 10, 1, PlanOptions(test_size=18))
    assert str(exc.value) == msg
    with pytest.raises(UsageError, match="at most two of --folds, --step and --test-size"):
        plan_folds(100, 10, 1, PlanOptions(folds=2, step=5, test_size=10))
    with pytest.raises(UsageError, match="--train-size applies to --window rolling only"):
        plan_folds(100, 10, 1, PlanOptions(train_size=30))
    with pytest.raises(UsageError, match=r"--folds must be an integer >= 1, got 0"):
        plan_folds(100, 10, 1, PlanOptions(folds=0))


# ------------------------------------------------------------ no future
def _perturb_from(raw: pd.DataFrame, date) -> pd.DataFrame:
    """Scale every price on/after ``date`` by 1.5 and change the volume (stays valid)."""
    out = raw.copy()
    later = out.index >= date
    for col in ("open", "high", "low", "close"):
        out.loc[later, col] *= 1.5
    out.loc[later, "volume"] += 12345.0
    return out


def check_no_future(raw, cfg, fold_index):
    """Perturb all data from fold ``fold_index``'s first target date on and assert
    that fold's scaler, target scaling and training/validation arrays are
    bit-identical, as are the inputs of the forecasts made before that date.
    """
    job = bt.prepare_ticker("SYN", raw, cfg)
    fd = job.plan.folds[fold_index]
    first_target = job.dates[fd.test_first + job.plan.horizon]
    job2 = bt.prepare_ticker("SYN", _perturb_from(raw, first_target), cfg)
    assert job2.plan == job.plan
    u1, u2 = job.units[fd.fit], job2.units[fd.fit]
    a1, a2 = bt.fold_arrays(u1), bt.fold_arrays(u2)
    assert a1.scaler.to_json() == a2.scaler.to_json()
    assert a1.target == a2.target
    fp1, fp2 = a1.fingerprints(), a2.fingerprints()
    for name in ("x_train", "y_train", "x_val", "y_val"):
        assert fp1[name] == fp2[name], name
    # the first h test windows end before the first target date: same inputs
    h = job.plan.horizon
    k = fd.test_first - u1.test_first
    assert np.array_equal(a1.x_test[: k + h], a2.x_test[: k + h])
    assert not np.array_equal(a1.x_test, a2.x_test)  # the perturbation did reach the block
    return job, job2


@pytest.mark.parametrize("fold_index", [0, 2])
def test_no_fold_sees_its_future_arrays(fold_index):
    cfg = BacktestConfig.build(**{**TINY, "horizon": 2}, folds=3, features="close,logret,rsi")
    check_no_future(make_ohlcv(260), cfg, fold_index)


def test_no_fold_sees_its_future_model_and_baselines():
    """The same with the network trained and the baselines fitted and scored."""
    cfg = BacktestConfig.build(**TINY, folds=2, save_models=False)
    job, job2 = check_no_future(make_ohlcv(220), cfg, 1)
    res1 = [bt.run_unit(u) for u in job.units]
    res2 = [bt.run_unit(u) for u in job2.units]
    for r1, r2 in zip(res1, res2, strict=True):  # both folds' networks: same weights
        assert r1.ok and r2.ok
        assert r1.fingerprints["weights"] == r2.fingerprints["weights"]
    doc1, fc1 = bt.score_ticker(job, res1, cfg)
    doc2, fc2 = bt.score_ticker(job2, res2, cfg)
    assert [f["scaler"] for f in doc1["fits"]] == [f["scaler"] for f in doc2["fits"]]
    # every forecast (network and baselines) made before fold 2's first target date
    # is unchanged; the later ones see the perturbed closes
    cut = job.dates[job.plan.folds[1].test_first + 1]
    before = fc1["target_date"] <= cut
    cols = ["lstm", "naive", "sma", "ema", "ols"]
    assert before.sum() == job.plan.folds[0].n + 1
    pd.testing.assert_frame_equal(fc1.loc[before, cols], fc2.loc[before, cols])
    assert not np.allclose(fc1.loc[~before, "lstm"], fc2.loc[~before, "lstm"])


def test_the_no_future_check_catches_a_leaky_scaler(monkeypatch):
    cfg = BacktestConfig.build(**TINY, folds=3)
    raw = make_ohlcv(260)
    check_no_future(raw, cfg, 1)  # the real code passes ...
    # ... a variant that fits the scaler on every row it was shipped fails it
    monkeypatch.setattr("lstmfc.backtest.unit.scaler_rows", lambda first, last, lb: (0, 10**9))
    with pytest.raises(AssertionError):
        check_no_future(raw, cfg, 1)


def test_the_no_future_check_catches_training_on_the_test_block(monkeypatch):
    cfg = BacktestConfig.build(**TINY, folds=3)
    raw = make_ohlcv(260)
    real = bt.prepare_ticker

    def leaky(ticker, raw, cfg):  # no purge: validation windows run to the block's end
        job = real(ticker, raw, cfg)
        for u in job.units:
            u.last_end = u.test_last - job.plan.horizon
        return job

    monkeypatch.setattr(bt, "prepare_ticker", leaky)
    with pytest.raises(AssertionError, match="x_val"):  # its inputs changed
        check_no_future(raw, cfg, 1)


def test_units_never_receive_rows_after_their_last_forecast_origin():
    cfg = BacktestConfig.build(**TINY, folds=3)
    job = prepare_ticker("SYN", make_ohlcv(260), cfg)
    for u in job.units:
        assert len(u.x) == len(u.close) == u.test_last + 1
        assert np.array_equal(u.close, job.close[: u.test_last + 1])


# ------------------------------------------------------------ tickers files
def test_tickers_file(tmp_path):
    f = tmp_path / "universe.txt"
    f.write_text("# my universe\nSP500\n\naapl   # Apple\nmsft\nAAPL\n  brk-b  \n#GOOG\n")
    assert read_tickers_file(f) == ["SP500", "AAPL", "MSFT", "BRK-B"]
    assert merge_tickers(["msft", "IBM"], f) == ["MSFT", "IBM", "SP500", "AAPL", "BRK-B"]


def test_tickers_file_errors(tmp_path):
    with pytest.raises(DataError, match=rf"^tickers file {tmp_path}/nope.txt does not exist$"):
        read_tickers_file(tmp_path / "nope.txt")
    with pytest.raises(DataError, match=r"^u.txt line 2: 'A B' holds more than one ticker"):
        parse_tickers_text("AAPL\nA B\n", "u.txt")
    with pytest.raises(DataError, match=r"^u.txt line 3: invalid ticker 'A/B'"):
        parse_tickers_text("AAPL\n\nA/B\n", "u.txt")
    with pytest.raises(DataError, match=r"^u.txt lists no tickers"):
        parse_tickers_text("# nothing\n\n", "u.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00A")
    with pytest.raises(DataError, match="is not UTF-8 text$"):
        read_tickers_file(tmp_path / "bin.txt")
    with pytest.raises(UsageError, match="give at least one TICKER or --tickers-file FILE"):
        merge_tickers([], None)


# ------------------------------------------------------------ CLI and report
def test_backtest_cli_report_files_and_a_failing_ticker(workspace, tmp_path):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("AAA"), make_ohlcv(240, seed=1), {"source": "test"})
    universe = tmp_path / "u.txt"
    universe.write_text("AAA\nMISSING  # never fetched\n")
    result = runner.invoke(
        app,
        [
            "backtest",
            "--tickers-file",
            str(universe),
            "--folds",
            "2",
            *TINY_ARGS,
            "--json",
            "--features",
            "close",
        ],  # level input: the fold arithmetic below has no warm-up row
    )
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert "Error: MISSING: no data for MISSING; run `lstmfc fetch MISSING` first" in lines
    assert "[2/2] AAA fit 2/2 ok" in " ".join(lines)
    doc = json.loads(result.stdout)
    assert doc["summary"]["n_ok"] == 1 and doc["summary"]["n_failed"] == 1
    assert doc["tickers"]["MISSING"] == {
        "ticker": "MISSING",
        "ok": False,
        "error": "no data for MISSING; run `lstmfc fetch MISSING` first",
    }
    r = doc["tickers"]["AAA"]
    assert set(r["overall"]) >= {"metrics", "skill", "skill_tests", "trading", "conclusion"}
    assert set(r["overall"]["metrics"]) >= {"lstm", "naive", "drift", "sma", "ema", "ols"}
    chosen = r["overall"]["best_baseline"]["chosen_per_fit"]
    assert len(chosen) == 2 and all(c in r["overall"]["metrics"] for c in chosen)
    for fit in r["fits"]:  # chosen on the fit's validation windows, by the head's loss
        best = fit["best_baseline"]
        assert best["chosen_on"] == "validation" and best["criterion"] == "MSE"
        assert best["n_validation"] == fit["n_val"]
        assert best["name"] == min(best["validation"], key=best["validation"].get)
    assert (
        any(
            t["benchmark"] == r["overall"]["best_baseline"]["name"]
            for t in r["overall"]["skill_tests"]
        )
        or chosen[0] == "naive"
    )
    # 240 rows, L=10: W=230, T=69 test windows, folds of 35 and 34 (ends 170..238)
    assert [(f["fold"], f["n"], f["test_rows"]) for f in r["folds"]] == [
        (1, 35, [170, 204]),
        (2, 34, [205, 238]),
    ]
    dates = pd.bdate_range("2020-01-01", periods=240)
    assert r["folds"][0]["test_start"] == str(dates[171].date())
    assert r["folds"][1]["test_end"] == str(dates[239].date())
    assert r["folds"][1]["train_end"] == str(dates[205].date())  # last val target = origin
    assert r["fits"][1]["scaler"]["fit_rows"] == [0, r["fits"][1]["train_rows"][1]]

    folder = workspace / r["path"]
    assert folder.parent.name == "AAA" and folder.name == doc["backtest_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["backtest.json", "forecasts.csv", "models"]
    assert sorted(p.name for p in (folder / "models").iterdir()) == [
        "fit-01.keras",
        "fit-02.keras",
    ]
    saved = json.loads((folder / "backtest.json").read_text())
    assert saved["overall"] == r["overall"]
    fc = pd.read_csv(folder / "forecasts.csv")
    assert len(fc) == 69 and list(fc["fold"].unique()) == [1, 2]
    # the overall series is the concatenation of the folds' forecasts
    rmse = float(np.sqrt(np.mean((fc["lstm"] - fc["actual"]) ** 2)))
    # forecasts.csv holds 10 significant digits (relative rounding <= 5e-10 per value),
    # so the RMSE recomputed from it can differ by at most 5e-10 * max |forecast|
    tol = 5e-10 * float(fc["lstm"].abs().max())
    assert rmse == pytest.approx(r["overall"]["metrics"]["lstm"]["rmse"], abs=tol)
    assert np.allclose(fc["naive"], fc["close"])
    assert not list(workspace.glob("data/backtests/**/.*tmp"))


def test_backtest_direction_head_reuses_fits(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("DIR"), make_ohlcv(240, seed=4), {"source": "test"})
    cfg = BacktestConfig.build(
        **TINY, head="direction", folds=3, retrain_every=1000, save_models=False
    )
    doc = bt.backtest(ws, ["dir"], cfg)
    r = doc["tickers"]["DIR"]
    assert r["ok"] and r["plan"]["fits"] == 1 and [f["fit"] for f in r["folds"]] == [1, 1, 1]
    assert [f["refit"] for f in r["folds"]] == [True, False, False]
    assert set(r["overall"]["metrics"]) >= {"lstm", "majority", "drift", "last_sign", "logistic"}
    assert r["overall"]["skill"]["test"] == "binomial"
    assert doc["summary"]["benchmark"] == "majority"
    assert not (workspace / r["path"] / "models").exists()


def test_backtest_usage_errors(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("AAA"), make_ohlcv(120), {"source": "test"})
    cases = [
        (["--executor", "spark"], "Error: --executor must be local or dask, not 'spark'"),
        (["--scheduler", "tcp://127.0.0.1:1"], "Error: --scheduler needs --executor dask"),
        (
            ["--source", "yahoo"],
            "Error: backtest reads stored data; run `lstmfc fetch TICKER "
            "--source yahoo` first (--source sample alone is accepted: it fetches a bundled "
            "sample if missing)",
        ),
        (["--window", "sliding"], "Error: --window must be expanding or rolling, not 'sliding'"),
        (
            ["--units", "x"],
            "Error: --units must be comma-separated positive integers (e.g. 128,64), got 'x'",
        ),
    ]
    for extra, line in cases:
        result = runner.invoke(app, ["backtest", "AAA", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert result.stderr == line + "\n"
    result = runner.invoke(app, ["backtest"])
    assert result.exit_code == 2
    assert result.stderr == "Error: give at least one TICKER or --tickers-file FILE\n"


def test_backtest_too_short_series_is_one_line(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("TINY"), make_ohlcv(40), {"source": "test"})
    # 40 rows, one warm-up row for log returns, L=10: 29 windows, floor(0.3 * 29) = 8 tested
    result = runner.invoke(app, ["backtest", "TINY", "--folds", "10", *TINY_ARGS])
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: TINY: 8 test windows cannot make 10 folds; use at most 8 --folds\n"
    )


def test_source_sample_fetches_a_missing_sample_once(workspace):
    ws = Workspace.resolve(workspace)
    raw, info = bt.driver._load_raw(ws, "SP500", "sample")  # lstmfc.data.fetch, bundled data
    assert (len(raw), info["first_date"], info["last_date"]) == (5031, "1999-01-04", "2018-12-31")
    assert info["path"] == "data/raw/SP500.parquet"
    stamp = ws.raw_path("SP500").stat().st_mtime_ns
    bt.driver._load_raw(ws, "SP500", "sample")  # stored now: read, not fetched again
    assert ws.raw_path("SP500").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="^no bundled sample named NOPE"):
        bt.driver._load_raw(ws, "NOPE", "sample")
    with pytest.raises(DataError, match="^no data for AAPL; run `lstmfc fetch AAPL` first$"):
        bt.driver._load_raw(ws, "AAPL", None)


def test_unreachable_scheduler_is_a_temporary_failure(monkeypatch):
    monkeypatch.setattr(bt.executors, "CONNECT_TIMEOUT", "2s")

    with pytest.raises(TemporaryFailure, match=r"^cannot reach the Dask scheduler at tcp://"):
        bt.execute_units(
            [{"ticker": "X", "fit": 0}], bt.Execution("dask", scheduler="tcp://127.0.0.1:9")
        )


def test_backtest_table_output_shows_folds_skill_and_trading(workspace):
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("AAA"), make_ohlcv(240, seed=1), {"source": "test"})
    result = runner.invoke(app, ["backtest", "AAA", "--folds", "2", *TINY_ARGS])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "Skill tests" in out and "diebold-mariano" in out
    assert "Trading view: long/flat" in out and "buy_and_hold" in out
    assert "Conclusion:" in out
