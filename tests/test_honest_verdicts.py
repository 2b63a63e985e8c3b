"""Honest defaults: drift baselines, verdicts against the strongest simple baseline chosen
on validation, out-of-range warnings, seed ensembles, close-only series end to end."""

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
from tests.independent import mismatches, network_test_forecasts, one_window_late

runner = CliRunner()
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--lookback", "10"]


def drifting(n: int, mu: float, sigma: float, seed: int) -> pd.DataFrame:
    """A random walk with drift plus noise: log returns N(mu, sigma), valid OHLCV bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(mu, sigma, n)))
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": np.full(n, 1e6),
        },
        index=idx,
    )


# ---------------------------------------------------------------- drift and verdicts
def test_random_walk_with_drift_beats_naive_but_not_drift(workspace):
    """On a series whose only predictable part is its drift, the network (which learns
    about the training mean) beats the driftless random walk, and the report says that
    the drift baseline, chosen on validation, is not beaten."""
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("DRIFT"), drifting(2000, 0.004, 0.005, seed=4), {"source": "test"})
    assert runner.invoke(app, ["prepare", "DRIFT", "--lookback", "10"]).exit_code == 0
    tr = runner.invoke(app, ["train", "DRIFT", "--units", "4", "--dense", "0", "--epochs", "1",
                             "--seed", "1"])  # fmt: skip
    assert tr.exit_code == 0, tr.output
    ev = runner.invoke(app, ["evaluate", "DRIFT", "--json"])
    assert ev.exit_code == 0, ev.output
    doc = json.loads(ev.stdout)
    assert doc["best_baseline"]["name"] == "drift"
    assert doc["best_baseline"]["chosen_on"] == "validation"
    lstm = {t["benchmark"]: t for t in doc["skill_tests"] if t["model"] == "lstm"}
    assert lstm["naive"]["outcome"] == "beats" and lstm["naive"]["verdict"].startswith(
        "beats naive"
    )
    assert lstm["drift"]["outcome"] != "beats"
    assert doc["verdict"].startswith("beats naive (p=")
    assert " but not drift (p=" in doc["verdict"] or " but is worse than drift" in doc["verdict"]
    assert doc["skill"] == lstm["naive"]  # the existing headline key stays for naive
    # the drift baseline is in every table
    assert "drift" in doc["metrics"] and "drift" in doc["trading"]
    table = runner.invoke(app, ["evaluate", "DRIFT"])
    flat = " ".join(table.stdout.split())
    assert "Verdict: the LSTM beats naive" in flat and "Strongest simple baseline: drift" in flat


def test_best_baseline_is_chosen_on_validation_only(workspace):
    """The validation losses are the baselines' MSE on the validation windows, computed
    here independently; changing every test-split close leaves the choice and the losses
    bit-identical (a leaky choice on the test split would move them)."""
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.evaluation.evaluate import evaluate
    from lstmfc.forecasters.price import price_baselines
    from lstmfc.workflows.train import train

    ws = Workspace.resolve(workspace)
    raw = make_ohlcv(400, seed=5)
    write_raw(ws.raw_path("SYN"), raw, {"source": "test"})
    prepare(ws, "SYN", lookback=10)
    run = train(ws, "SYN", units="4", dense=0, epochs=1, seed=2)["run_id"]
    rep = evaluate(ws, "SYN", run, write=False)
    prep = load_prepared(ws, "SYN")
    c = prep.targets["close"].to_numpy()
    va, tr_rows = prep.split_rows("val"), prep.split_rows("train")
    y = c[va + 1]
    for name, b in price_baselines(lookback=10).items():
        b.fit(c, tr_rows[tr_rows >= b.min_history], 1)
        want = float(np.mean((y - b.forecast(c, va)) ** 2))
        assert rep["best_baseline"]["validation"][name] == pytest.approx(want, rel=1e-12)

    first_test_target = prep.split_targets("test")["target_date"].iloc[0]
    moved = raw.copy()
    later = moved.index >= first_test_target
    for col in ("open", "high", "low", "close"):
        moved.loc[later, col] *= np.linspace(0.5, 2.0, later.sum())
    write_raw(ws.raw_path("SYN"), moved, {"source": "test"})
    prepare(ws, "SYN", lookback=10)
    again = evaluate(ws, "SYN", run, write=False)
    assert again["best_baseline"] == rep["best_baseline"]
    assert again["metrics"]["naive"] != rep["metrics"]["naive"]  # the test split did change


def test_holm_adjustment_hand_values():
    from lstmfc.stats.multiple import adjust_p_values

    # Holm by hand: sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, 1*0.04 = 0.03, 0.06, 0.04,
    # made monotone: 0.03, 0.06, 0.06; back in input order, None kept out of the family
    assert adjust_p_values([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert adjust_p_values([None, None]) == [None, None]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_p_values([1.5])


def test_universe_reports_holm_adjusted_p_values(workspace, tmp_path):
    from lstmfc.dataset.prepare import prepare

    ws = Workspace.resolve(workspace)
    for t, seed in (("AAA", 1), ("BBB", 2)):
        write_raw(ws.raw_path(t), make_ohlcv(320, seed=seed), {"source": "test"})
        prepare(ws, t, lookback=10)
    universe = tmp_path / "u.txt"
    universe.write_text("AAA\nBBB\n")
    args = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1"]
    assert runner.invoke(app, ["train", "--tickers-file", str(universe), *args]).exit_code == 0
    res = runner.invoke(app, ["evaluate", "--tickers-file", str(universe), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    summary = doc["summary"]
    assert summary["method"] == "holm" and summary["n_ok"] == 2
    raw = [r["p_value"] for r in summary["rows"]]
    want = sorted(raw)
    holm = [min(1.0, 2 * want[0]), min(1.0, max(2 * want[0], want[1]))]  # by hand, n = 2
    got = sorted(r["p_value_adjusted"] for r in summary["rows"])
    assert got == pytest.approx(holm)
    table = runner.invoke(app, ["evaluate", "--tickers-file", str(universe)])
    assert "holm p" in table.stdout and "after the holm adjustment" in table.stdout


# ---------------------------------------------------------------- out of the training range
def test_out_of_range_share_warns_on_a_trending_level_series(workspace):
    """A steadily rising series: with level inputs every test window lies above the
    training maximum (share 1.0, a warning); with log returns the inputs stay in range."""
    ws = Workspace.resolve(workspace)
    n = 300
    close = 100.0 * np.exp(0.002 * np.arange(n) + 0.003 * np.sin(np.arange(n)))
    idx = pd.bdate_range("2020-01-01", periods=n, name="date")
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
         "volume": np.full(n, 1e6)},
        index=idx,
    )  # fmt: skip
    write_raw(ws.raw_path("UP"), frame, {"source": "test"})
    for features, share in (("close", 1.0), ("logret", 0.0)):
        runner.invoke(app, ["prepare", "UP", "--lookback", "10", "--features", features])
        tr = runner.invoke(app, ["train", "UP", "--units", "4", "--epochs", "1", "--seed", "1"])
        assert tr.exit_code == 0, tr.output
        ev = runner.invoke(app, ["evaluate", "UP", "--json"])
        doc = json.loads(ev.stdout)
        assert doc["out_of_range_share"] == pytest.approx(share)
        warned = [w for w in ev.stderr.splitlines() if w.startswith("Warning: UP:")]
        assert len(warned) == (1 if share else 0)
        if share:
            assert "100.0% of the test windows' scaled inputs lie outside" in warned[0]
        pr = runner.invoke(
            app, ["predict", "UP", "--no-update", "--calendar", "weekdays", "--json"]
        )
        assert pr.exit_code == 0, pr.output
        assert json.loads(pr.stdout)[0]["out_of_range_share"] == pytest.approx(share)
        assert ("Warning: UP:" in pr.stderr) == bool(share)


# ---------------------------------------------------------------- seed ensembles
@pytest.mark.parametrize("head", ["price", "direction"])
def test_ensemble_of_two_is_the_mean_of_its_members(workspace, head):
    from lstmfc.bundles import bundle as artifacts
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.network import models
    from lstmfc.workflows.train import train

    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("ENS"), make_ohlcv(320, seed=8), {"source": "test"})
    prepare(ws, "ENS", lookback=10)
    res = train(ws, "ENS", head=head, units="4", dense=0, epochs=1, seed=7, ensemble=2)
    assert res["ensemble"] == 2 and [m["seed"] for m in res["members"]] == [7, 8]
    assert len(res["val"]["members"]) == 2
    b = artifacts.load_bundle(ws, "ENS")
    assert [m["file"] for m in b.manifest["members"]] == ["model.keras", "model-2.keras"]
    prep = load_prepared(ws, "ENS")
    x, tt = prep.windows("test"), prep.split_targets("test")
    z = [models.predict(m, x)[:, 0] for m in b.models]
    assert not np.allclose(z[0], z[1])  # two different networks
    got = b.forecast(x, tt)
    if head == "direction":  # the mean of the members' probabilities
        np.testing.assert_allclose(got, (z[0] + z[1]) / 2, rtol=1e-12)
    else:  # the mean of the members' standardised log returns, turned into a price
        s = b.target
        want = tt["close"].to_numpy() * np.exp(s["mean"] + s["std"] * (z[0] + z[1]) / 2)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # the members are as trained alone with their seeds
    alone = train(ws, "ENS", head=head, units="4", dense=0, epochs=1, seed=8, set_latest=False)
    single = artifacts.load_bundle(ws, "ENS", alone["run_id"])
    np.testing.assert_allclose(models.predict(single.model, x)[:, 0], z[1], rtol=1e-6)
    ev = runner.invoke(app, ["evaluate", "ENS", "--json"])
    assert json.loads(ev.stdout)["ensemble"] == 2


# ---------------------------------------------------------------- close-only series
@pytest.mark.parametrize("layout", ["close", "fred"])
def test_close_only_series_run_end_to_end(workspace, tmp_path, layout):
    from lstmfc.data.sources.sample import read_sample

    closes = read_sample("SP500")[0]["close"].iloc[:400]
    path = tmp_path / f"{layout}.csv"
    if layout == "close":
        text = "Date,Close\n" + "".join(f"{d:%Y-%m-%d},{c}\n" for d, c in closes.items())
    else:  # FRED: observation_date + one value column, '.' for a missing day
        lines = [
            f"{d:%Y-%m-%d},{'.' if i % 50 == 7 else c}\n" for i, (d, c) in enumerate(closes.items())
        ]
        text = "observation_date,SP500\n" + "".join(lines)
    path.write_text(text)
    res = runner.invoke(
        app,
        ["run", "CLO", "--source", "csv", "--path", str(path), *TINY, "--seed", "1", "--json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["fetch"]["close_only"] is True
    assert doc["fetch"]["dropped_missing"] == (0 if layout == "close" else 8)
    # the network's and the random walk's RMSE by hand from the saved bundle's forecasts
    # of the test windows; a forecast one window late would not give them
    ev = doc["evaluation"]
    _, tt, net = network_test_forecasts(Workspace.resolve(workspace), "CLO", ev)
    y = tt["target_price"].to_numpy()

    def rmse(f):
        return {"lstm": float(np.sqrt(np.mean((y - f) ** 2)))}

    naive = float(np.sqrt(np.mean((y - tt["close"].to_numpy()) ** 2)))
    assert ev["metrics"]["naive"]["rmse"] == pytest.approx(naive, rel=1e-12)
    got = {"lstm": ev["metrics"]["lstm"]["rmse"]}
    assert mismatches(got, rmse(net)) == [] and mismatches(got, rmse(one_window_late(net)))
    assert doc["prepare"]["features"] == ["logret"]
    for features, column in (("ohlcv", "open"), ("volume", "volume")):
        bad = runner.invoke(app, ["prepare", "CLO", "--features", features])
        assert bad.exit_code == 1
        assert bad.stderr.count("\n") == 1 and f"needs the '{column}' column" in bad.stderr
    for features in ("rsi", "macd"):
        ok = runner.invoke(app, ["prepare", "CLO", "--features", features, "--lookback", "10"])
        assert ok.exit_code == 0, ok.output
