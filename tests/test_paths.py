"""Multi-step path forecasts (``--steps K``): known answers, leakage, the CLI end to end.

Known answers come from outside the code under test: the optimal forecast of a
simulated AR(1) log-return series from its known coefficient, and the naive forecast's
per-step RMSE computed here with NumPy from the stored closes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.specs import model_spec

runner = CliRunner()
TINY = ["--units", "4", "--dense", "0", "--epochs", "1"]


def series(close: np.ndarray, start: str = "2000-01-03") -> pd.DataFrame:
    """Valid OHLCV bars around ``close`` (business days)."""
    idx = pd.bdate_range(start, periods=len(close), name="date")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": np.full(len(close), 1e6),
        },
        index=idx,
    )


def ar1_closes(n: int, phi: float, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Closes whose log returns follow ``r_t = phi r_{t-1} + e_t``, ``e ~ N(0, sigma)``."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma, n + 200)
    r = np.zeros_like(e)
    for t in range(1, len(e)):
        r[t] = phi * r[t - 1] + e[t]
    r = r[200:]  # burn-in: the stationary distribution
    return 100.0 * np.exp(np.cumsum(r)), r


def _store(ws: Workspace, ticker: str, close: np.ndarray) -> None:
    write_raw(ws.raw_path(ticker), series(close), {"source": "test"})


# ---------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--steps", "0"], "--steps must be an integer from 1 to 30"),
        (["--steps", "31"], "--steps must be an integer from 1 to 30"),
        (["--steps", "3", "--head", "quantile"], "paths need the price or direction head"),
        (["--steps", "3", "--strategy", "nope"], "--strategy must be one of"),
        (["--steps", "3", "--strategy", "recursive", "--features", "logret,volume"],
         "--strategy recursive cannot extend feature set"),
        (["--steps", "3", "--strategy", "recursive", "--price-target", "level"],
         "recursive"),
    ],
)  # fmt: skip
def test_bad_path_options_get_one_line_and_nothing_is_written(workspace, args, needle):
    res = runner.invoke(app, ["run", "SP500", "--source", "sample", *TINY, *args])
    assert res.exit_code == 2, res.output
    assert needle in res.stderr
    assert "Traceback" not in res.output
    assert "[1/4]" not in res.stderr  # refused before fetching anything
    assert not (workspace / "models").exists() and not (workspace / "data").exists()


# ---------------------------------------------------------------- leakage
def _training_arrays(ws: Workspace, ticker: str, monkeypatch) -> dict[str, np.ndarray]:
    """What ``train`` hands the network fit: captured, then the fit is skipped."""
    import lstmfc.workflows.train as train_mod

    captured: dict[str, np.ndarray] = {}

    class Captured(Exception):
        pass

    def fake_fit(opts, head, data, **kw):
        captured.update(zip(("x_train", "y_train", "x_val", "y_val"), data, strict=True))
        raise Captured

    monkeypatch.setattr(train_mod, "fit_networks", fake_fit)
    with pytest.raises(Captured):
        train_mod.train(ws, ticker, units="4", dense=0, epochs=1, seed=1)
    return {k: np.array(v) for k, v in captured.items()}


def _perturbed_after(close: np.ndarray, row: int, seed: int = 9) -> np.ndarray:
    """``close`` with every value after ``row`` replaced by another path."""
    rng = np.random.default_rng(seed)
    out = close.copy()
    out[row + 1 :] = close[row] * np.exp(np.cumsum(rng.normal(0.01, 0.05, len(close) - row - 1)))
    return out


def _first_origin(ws: Workspace, ticker: str, split: str) -> tuple[int, pd.Timestamp]:
    """Raw row and date of the close at the first forecast origin of ``split``."""
    from lstmfc.data.store import read_raw
    from lstmfc.dataset.prepare import load_prepared

    prep = load_prepared(ws, ticker)
    date = prep.split_targets(split).index[0]
    raw, _ = read_raw(ws.raw_path(ticker))
    return int(raw.index.get_loc(date)), date


@pytest.mark.parametrize("leaky", [False, True])
def test_no_training_target_of_any_step_lies_past_the_first_validation_origin(
    workspace, monkeypatch, leaky
):
    """Perturb every close after the first validation origin: the training windows and
    their encoded targets (all K steps) are bit-identical, and every step's target date
    of a training window is at most that origin's date. A variant without the purge
    (``purged_rows`` the identity) is caught."""
    import lstmfc.dataset.prepare as paths  # Prepared.fit_rows purges with purged_rows
    from lstmfc.dataset.prepare import load_prepared, prepare

    if leaky:
        monkeypatch.setattr(paths, "purged_rows", lambda rows, steps: np.asarray(rows))
    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(600, 0.3, 0.01, seed=2)
    _store(ws, "SYN", close)
    prepare(ws, "SYN", lookback=10, steps=4)
    row, origin = _first_origin(ws, "SYN", "val")
    prep = load_prepared(ws, "SYN")
    tr = prep.fit_targets("train")
    last_dates = tr[[f"target_date_{k}" for k in range(2, 5)]].max().max()
    before = _training_arrays(ws, "SYN", monkeypatch)

    _store(ws, "SYN", _perturbed_after(close, row))
    prepare(ws, "SYN", lookback=10, steps=4)
    after = _training_arrays(ws, "SYN", monkeypatch)
    same = all(np.array_equal(before[k], after[k]) for k in ("x_train", "y_train"))
    if leaky:
        assert pd.Timestamp(last_dates) > origin
        assert not same
    else:
        assert pd.Timestamp(last_dates) <= origin
        assert same
        assert before["y_train"].shape[1] == 4  # one encoded target per step


@pytest.mark.parametrize("leaky", [False, True])
def test_validation_targets_and_baseline_choice_ignore_the_test_period(
    workspace, monkeypatch, leaky
):
    """Perturb every close after the first test origin: the validation targets the
    network early-stops on and each step's baseline validation losses (the choice of
    the strongest simple baseline) are unchanged; without the purge they move."""
    import lstmfc.dataset.prepare as paths  # Prepared.fit_rows purges with purged_rows
    from lstmfc.dataset.prepare import prepare
    from lstmfc.evaluation.evaluate import evaluate
    from lstmfc.workflows.train import train

    if leaky:
        monkeypatch.setattr(paths, "purged_rows", lambda rows, steps: np.asarray(rows))
    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(500, 0.3, 0.01, seed=3)
    _store(ws, "SYN", close)
    prepare(ws, "SYN", lookback=10, steps=3)
    row, _ = _first_origin(ws, "SYN", "test")
    train(ws, "SYN", units="4", dense=0, epochs=1, seed=1)
    first = evaluate(ws, "SYN", write=False)
    before = _training_arrays(ws, "SYN", monkeypatch)

    _store(ws, "SYN", _perturbed_after(close, row))
    prepare(ws, "SYN", lookback=10, steps=3)
    monkeypatch.undo()
    if leaky:
        monkeypatch.setattr(paths, "purged_rows", lambda rows, steps: np.asarray(rows))
    train(ws, "SYN", units="4", dense=0, epochs=1, seed=1)
    second = evaluate(ws, "SYN", write=False)
    after = _training_arrays(ws, "SYN", monkeypatch)
    losses = [[s["best_baseline"]["validation"] for s in r["steps"]] for r in (first, second)]
    same = np.array_equal(before["y_val"], after["y_val"]) and losses[0] == losses[1]
    assert same is not leaky


def test_backtest_fits_see_no_target_past_their_first_forecast_origin(monkeypatch):
    """A backtest unit of a 3-step path: perturbing every close after the fold's first
    forecast origin leaves its training and validation arrays bit-identical; the
    plan's gap is h + K - 1 sessions (a plan made for one step is caught)."""
    from lstmfc.backtest.plan import PlanOptions, plan_folds
    from lstmfc.backtest.unit import Unit, fold_arrays
    from lstmfc.workflows.train import TrainOptions

    close, r = ar1_closes(700, 0.3, 0.01, seed=4)
    x = np.log(close[1:] / close[:-1])[:, None]  # the logret feature
    c = close[1:]

    def arrays(plan_steps: int, close_rows: np.ndarray):
        plan = plan_folds(len(c), 10, 1, PlanOptions(folds=2), steps=plan_steps)
        fit, fold = plan.fits[0], plan.folds[0]
        b = fold.test_last
        feats = np.log(close_rows[1:] / close_rows[:-1])[:, None]
        unit = Unit(
            ticker="SYN", fit=0, folds=(0,), lookback=10, horizon=1, feature_names=("logret",),
            x=feats[: b + 1], close=close_rows[1:][: b + 1], first_end=fit.first_end,
            train_last=fit.train_last, last_end=fit.last_end, test_first=fold.test_first,
            test_last=b, options=TrainOptions(units="4", dense=0, epochs=1).validate(),
            seed=1, steps=3,
        )  # fmt: skip
        return fold_arrays(unit), fold.test_first

    for plan_steps, leaky in ((3, False), (1, True)):
        a, origin = arrays(plan_steps, close)
        moved = _perturbed_after(close, origin + 1)  # close row origin+1 is feature row origin
        b, _ = arrays(plan_steps, moved)
        same = all(
            np.array_equal(getattr(a, k), getattr(b, k))
            for k in ("x_train", "y_train", "x_val", "y_val")
        )
        assert same is not leaky, plan_steps
    assert x.shape[0] == c.shape[0]


# ---------------------------------------------------------------- known answers
@pytest.mark.slow
def test_mimo_on_ar1_is_within_five_percent_of_the_optimal_forecast(workspace):
    """Log returns AR(1) with phi = 0.6: the optimal k-step forecast of the log return
    from the origin is ``sum_{j<=k} phi^j r_t`` (known coefficient, computed here). The
    MIMO network's step-k RMSE of the log return is within 5 % of the optimal
    forecast's at every step, while naive (zero) is more than 5 % worse: the bound
    separates a forecast that learned the dynamics from one that did not."""
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.evaluation.evaluate import evaluate
    from lstmfc.workflows.train import train

    phi, steps = 0.6, 3
    ws = Workspace.resolve(workspace)
    close, r = ar1_closes(3000, phi, 0.01, seed=11)
    _store(ws, "AR1", close)
    prepare(ws, "AR1", lookback=10, steps=steps)
    train(ws, "AR1", units="16", dense=0, epochs=40, patience=8, seed=5, strategy="mimo")
    rep = evaluate(ws, "AR1", write=False)
    assert rep["n_steps"] == steps and len(rep["steps"]) == steps

    prep = load_prepared(ws, "AR1")
    raw_rows = np.searchsorted(pd.bdate_range("2000-01-03", periods=len(close)),
                               prep.split_targets("test").index)  # fmt: skip
    from lstmfc.bundles.bundle import load_bundle

    bundle = load_bundle(ws, "AR1", None, prepared_meta=prep.meta)
    path = np.asarray(bundle.forecast(prep.windows("test"), prep.split_targets("test")))
    for k in range(1, steps + 1):
        truth = np.log(close[raw_rows + k] / close[raw_rows])
        optimal = r[raw_rows] * sum(phi**j for j in range(1, k + 1))
        net = np.log(path[:, k - 1] / close[raw_rows])
        rmse = {
            "opt": np.sqrt(np.mean((truth - optimal) ** 2)),
            "net": np.sqrt(np.mean((truth - net) ** 2)),
            "naive": np.sqrt(np.mean(truth**2)),
        }
        assert rmse["net"] <= 1.05 * rmse["opt"], (k, rmse)
        assert rmse["naive"] > 1.05 * rmse["opt"], (k, rmse)
        # the report's step-k RMSE is the same forecast's, in currency
        report_rmse = rep["steps"][k - 1]["metrics"]["lstm"]["rmse"]
        assert report_rmse == pytest.approx(
            np.sqrt(np.mean((close[raw_rows + k] - path[:, k - 1]) ** 2)), rel=1e-9
        )


def test_naive_per_step_rmse_and_mase_match_an_independent_computation(workspace):
    """The report's naive RMSE of step k is ``sqrt(mean((close[t+k] - close[t])^2))``
    over the test origins, computed here from the stored closes; MASE divides MAE by
    the naive MAE at that horizon over the purged training origins."""
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.evaluation.evaluate import evaluate
    from lstmfc.workflows.train import train

    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(500, 0.2, 0.01, seed=5)
    _store(ws, "SYN", close)
    prepare(ws, "SYN", lookback=10, steps=3)
    train(ws, "SYN", units="4", dense=0, epochs=1, seed=2)
    rep = evaluate(ws, "SYN", write=False)
    prep = load_prepared(ws, "SYN")
    dates = pd.bdate_range("2000-01-03", periods=len(close))
    test = np.searchsorted(dates, prep.split_targets("test").index)
    train_origins = np.searchsorted(dates, prep.split_targets("train").index)[:-2]  # purged
    assert len(test) == rep["n_test"]
    for k in (1, 2, 3):
        err = close[test + k] - close[test]
        m = rep["steps"][k - 1]["metrics"]
        assert m["naive"]["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-12)
        assert m["naive"]["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
        scale = np.mean(np.abs(close[train_origins + k] - close[train_origins]))
        assert m["naive"]["mase"] == pytest.approx(np.mean(np.abs(err)) / scale, rel=1e-12)
        assert rep["steps"][k - 1]["horizon"] == k
        assert rep["steps"][k - 1]["test_start"] == str(dates[test[0] + k].date())


# ---------------------------------------------------------------- strategies
@pytest.mark.parametrize(
    ("strategy", "attention"),
    [("mimo", False), ("mimo", True), ("seq2seq", False), ("seq2seq", True), ("recursive", False)],
)
def test_every_strategy_forecasts_a_k_column_path_and_reports_each_step(
    workspace, strategy, attention
):
    from lstmfc.dataset.prepare import prepare
    from lstmfc.evaluation.evaluate import evaluate
    from lstmfc.workflows.train import train

    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(400, 0.2, 0.01, seed=6)
    _store(ws, "SYN", close)
    prepare(ws, "SYN", lookback=10, steps=3)
    res = train(ws, "SYN", units="4", dense=0, epochs=1, seed=2, strategy=strategy,
                attention=attention)  # fmt: skip
    rep = evaluate(ws, "SYN", write=False)
    assert [s["step"] for s in rep["steps"]] == [1, 2, 3]
    assert rep["strategy"] == strategy and rep["attention"] is attention
    for s in rep["steps"]:
        assert set(s["metrics"]) >= {"lstm", "naive", "drift", "sma", "ema", "ols"}
        assert {t["benchmark"] for t in s["skill_tests"] if t["model"] == "lstm"} >= {"naive"}
        assert s["best_baseline"]["chosen_on"] == "validation"
    assert {t["scope"] for t in rep["joint_tests"]} == {"path"}
    assert res["run_id"]


def test_attention_adds_an_attention_layer(workspace):
    from lstmfc.network.models import build_model

    for strategy in ("mimo", "seq2seq"):
        spec = model_spec(lookback=12, n_features=1, units=(4,), dense=0, steps=3,
                         strategy=strategy, attention=True)  # fmt: skip
        model = build_model(spec)
        names = [type(layer).__name__ for layer in model.layers]
        assert model.output_shape == (None, 3)
        assert any(n in ("Attention", "Softmax") for n in names), names


# ---------------------------------------------------------------- CLI end to end
def test_run_prints_the_per_step_table_and_json_carries_a_steps_list(workspace):
    res = runner.invoke(app, ["run", "SP500", "--source", "sample", *TINY, "--lookback", "10",
                              "--steps", "3", "--strategy", "seq2seq", "--seed", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    flat = " ".join(res.stdout.split())
    assert "3-step seq2seq path" in flat
    assert "RMSE by step, every model fitted for that step's horizon" in flat
    ev = runner.invoke(app, ["evaluate", "SP500", "--json"])
    doc = json.loads(ev.stdout)
    assert [s["step"] for s in doc["steps"]] == [1, 2, 3]
    assert all("metrics" in s and "skill_tests" in s for s in doc["steps"])


def test_compare_puts_runs_side_by_side(workspace):
    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(400, 0.2, 0.01, seed=7)
    _store(ws, "SYN", close)
    assert runner.invoke(app, ["prepare", "SYN", "--lookback", "10", "--steps", "3"]).exit_code == 0
    ids = []
    for strategy in ("mimo", "recursive"):
        res = runner.invoke(app, ["train", "SYN", *TINY, "--strategy", strategy, "--json"])
        assert res.exit_code == 0, res.output
        ids.append(json.loads(res.stdout)["run_id"])
    res = runner.invoke(app, ["evaluate", "SYN", "--compare", ",".join(ids), "--json"])
    assert res.exit_code == 0, res.output
    c = json.loads(res.stdout)["comparison"]
    assert [r["strategy"] for r in c["runs"]] == ["mimo", "recursive"]
    assert all(len(r["values"]) == 3 for r in c["runs"])
    assert (workspace / "models" / "SYN" / "compare.png").stat().st_size > 0
    table = runner.invoke(app, ["evaluate", "SYN", "--compare", ",".join(ids)])
    assert "RMSE / naive RMSE by step" in " ".join(table.stdout.split())
    joint = [ln for ln in table.stdout.splitlines() if ln.startswith("Joint test:")]
    assert len(joint) == 4 and all(ln.count("(p=") == 1 for ln in joint), joint
    bad = runner.invoke(app, ["evaluate", "SYN", "--compare", ids[0]])
    assert bad.exit_code == 2 and "at least two" in bad.stderr


def test_predict_logs_the_path_and_score_reports_each_step(workspace):
    """One log row per step, numbered, the target date of step k k sessions on; score
    fills each step in as its date arrives and reports the record by step."""
    from lstmfc.data.forecastlog import ForecastLog

    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(400, 0.2, 0.01, seed=8)
    full = series(close)
    write_raw(ws.raw_path("SYN"), full.iloc[:-3], {"source": "test"})
    assert runner.invoke(app, ["prepare", "SYN", "--lookback", "10", "--steps", "3"]).exit_code == 0
    assert runner.invoke(app, ["train", "SYN", *TINY]).exit_code == 0
    res = runner.invoke(app, ["predict", "SYN", "--no-update", "--calendar", "weekdays"])
    assert res.exit_code == 0, res.output
    rows = ForecastLog(ws.forecast_db).rows("SYN")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert [r["horizon"] for r in rows] == [1, 2, 3]
    assert [r["target_date"] for r in rows] == [str(d.date()) for d in full.index[-3:]]
    # two new sessions arrive: steps 1 and 2 are scored, step 3 waits
    write_raw(ws.raw_path("SYN"), full.iloc[:-1], {"source": "test"})
    sc = runner.invoke(app, ["score", "--json"])
    doc = json.loads(sc.stdout)
    assert doc["newly_scored"] == 2 and doc["pending"] == 1
    (summary,) = doc["summary"].values()
    assert [s["step"] for s in summary["by_step"]] == [1, 2]
    got = {r["step"]: r for r in ForecastLog(ws.forecast_db).rows("SYN")}
    assert got[2]["realised_close"] == pytest.approx(close[-2])
    assert got[2]["naive_error"] == pytest.approx(close[-2] - close[-4])
    table = runner.invoke(app, ["score"])
    assert "live record by step" in table.stdout


def test_backtest_takes_steps_and_reports_each_step(workspace):
    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(500, 0.2, 0.01, seed=9)
    _store(ws, "SYN", close)
    res = runner.invoke(app, ["backtest", "SYN", "--folds", "2", "--lookback", "10", *TINY,
                              "--steps", "3", "--strategy", "mimo", "--json", "--seed", "1",
                              "--no-save-models"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)["tickers"]["SYN"]
    assert doc["n_steps"] == 3
    o = doc["overall"]
    assert [s["step"] for s in o["steps"]] == [1, 2, 3]
    assert o["steps"][2]["horizon"] == 3
    assert o["joint_tests"]
    # naive RMSE of step 3 over the out-of-sample origins, computed here
    dates = pd.bdate_range("2000-01-03", periods=len(close))
    origins = np.searchsorted(dates, pd.to_datetime([f["test_start"] for f in doc["folds"]]))
    first = origins[0] - 1  # the origin is the session before the first target
    n = o["n"]
    rows = np.arange(first, first + n)
    err = close[rows + 3] - close[rows]
    assert o["steps"][2]["metrics"]["naive"]["rmse"] == pytest.approx(
        np.sqrt(np.mean(err**2)), rel=1e-12
    )


def test_training_a_one_horizon_head_on_path_data_says_how_to_fix_it(workspace):
    ws = Workspace.resolve(workspace)
    close, _ = ar1_closes(300, 0.2, 0.01, seed=3)
    _store(ws, "SYN", close)
    assert runner.invoke(app, ["prepare", "SYN", "--lookback", "10", "--steps", "3"]).exit_code == 0
    res = runner.invoke(app, ["train", "SYN", *TINY, "--head", "vol"])
    assert res.exit_code == 2
    assert res.stderr == (
        "Error: SYN was prepared with --steps 3 and the vol head forecasts one horizon: run "
        "`lstmfc prepare SYN --steps 1` first, or use --head price or --head direction\n"
    )
    assert not (workspace / "models").exists()
