"""``lstmfc train`` through Typer's CliRunner: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from lstmfc.bundles.bundle import load_bundle
from lstmfc.bundles.runs import list_runs
from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from lstmfc.dataset import prepare as windows
from lstmfc.network import models
from tests.conftest import make_ohlcv

T = "TEST"
TINY = ["--units", "4,2", "--dense", "0", "--epochs", "1", "--seed", "3"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def prepared(workspace):
    ws = Workspace(workspace)
    write_raw(ws.raw_path(T), make_ohlcv(200, seed=5), {"source": "test"})
    windows.prepare(ws, T, lookback=8)
    return ws


def test_train_json(runner, prepared):
    r = runner.invoke(app, ["train", T, *TINY, "--json", "--head", "direction", "--cell", "rnn"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ticker"] == T and doc["head"] == "direction" and doc["cell"] == "rnn"
    assert doc["epochs_run"] == 1 and doc["seed"] == 3 and doc["price_target"] is None
    assert set(doc["val"]) == {"accuracy", "majority_accuracy"}
    run = prepared.home / doc["path"]
    assert (run / "model.keras").is_file()
    assert os.readlink(prepared.model_root(T) / "latest") == doc["run_id"]
    # cron-friendly progress: one plain line per epoch on stderr, nothing else on stdout
    assert re.search(r"^TEST epoch 1/1  .*val_loss \S+  \d+\.\d s$", r.stderr, re.M)
    b = load_bundle(prepared, T)
    assert b.manifest["hyperparameters"]["units"] == [4, 2]


def test_train_table_and_deterministic_flag(runner, prepared):
    r = runner.invoke(app, ["train", T, *TINY, "--deterministic", "--l2", "0.001"])
    try:
        assert r.exit_code == 0, r.stderr
        assert "run id" in r.stdout and "val RMSE" in r.stdout and "naive random walk" in r.stdout
        assert "(deterministic)" in r.stdout
        m = load_bundle(prepared, T).manifest
        assert m["deterministic"] is True and m["hyperparameters"]["l2"] == 0.001
    finally:
        try:
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
        except (ImportError, AttributeError):  # pragma: no cover
            pass


@pytest.mark.parametrize(
    "args,line",
    [
        (
            ["--units", "abc"],
            "--units must be comma-separated positive integers (e.g. 128,64), got 'abc'",
        ),
        (
            ["--units", "128,0"],
            "--units must be 1 to 8 layer sizes between 1 and 4096, got '128,0'",
        ),
        (["--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
        (["--epochs", "0"], "--epochs must be an integer from 1 to 10000, got 0"),
        (["--batch-size", "0"], "--batch-size must be an integer from 1 to 65536, got 0"),
        (
            ["--head", "returns"],
            "--head must be one of price, direction, vol, quantile, not 'returns'",
        ),
        (["--cell", "lstmx"], "--cell must be one of lstm, gru, rnn, not 'lstmx'"),
        (["--price-target", "pct"], "--price-target must be logret or level, not 'pct'"),
        (["--lr", "0"], "--lr must be > 0, got 0.0"),
    ],
)
def test_bad_option_values_exit_2_with_one_line(runner, args, line):
    r = runner.invoke(app, ["train", T, *args])
    assert r.exit_code == 2
    assert r.stderr == f"Error: {line}\n"
    assert r.stdout == ""


def test_missing_prepared_data_exit_1(runner):
    r = runner.invoke(app, ["train", "NOPE"])
    assert r.exit_code == 1
    assert r.stderr == "Error: no prepared data for NOPE; run `lstmfc prepare NOPE`\n"


def test_bad_ticker_exit_2(runner):
    r = runner.invoke(app, ["train", "../etc"])
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: invalid ticker '../etc'")


def test_ctrl_c_exits_130_and_keeps_latest(runner, prepared, monkeypatch):
    r = runner.invoke(app, ["train", T, *TINY])
    assert r.exit_code == 0, r.stderr
    latest = os.readlink(prepared.model_root(T) / "latest")

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "fit", interrupted)
    r = runner.invoke(app, ["train", T, *TINY])
    assert r.exit_code == 130
    assert r.stderr == "Error: interrupted; nothing was left half-written\n"
    assert os.readlink(prepared.model_root(T) / "latest") == latest
    assert list_runs(prepared, T) == [latest]


@pytest.mark.parametrize("head", ["vol", "quantile"])
def test_a_series_too_short_for_the_garch_baselines_fails_before_training(
    runner, prepared, monkeypatch, head
):
    """The GARCH baselines of the vol and quantile heads need 250 training returns
    (``lstmfc.volatility.models``); a 200-row series gets one line naming the cause, before
    any network is fitted, and no bundle."""
    import lstmfc.workflows.train as train_mod

    def never(*a, **k):  # pragma: no cover - reaching it is the failure
        raise AssertionError("the network was fitted before the baselines were checked")

    monkeypatch.setattr(train_mod, "fit_networks", never)
    r = runner.invoke(app, ["train", T, *TINY, "--head", head])
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {T}: the {head} head's baselines: too few training")
    assert r.stderr.strip().endswith("use a longer history")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (prepared.home / "models").exists()
