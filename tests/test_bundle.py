"""lstmfc.bundles.bundle and lstmfc.workflows.train: a bundle is written completely or not
at all, round-trips to identical predictions, is refused for differently prepared data,
and an interrupted or diverged run leaves the previous ``latest`` usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lstmfc.bundles import save as bundles
from lstmfc.bundles.bundle import check_compatible, load_bundle
from lstmfc.bundles.runs import list_runs
from lstmfc.bundles.save import save_bundle
from lstmfc.core.atomic import sha256_file, sweep_stale
from lstmfc.core.config import Workspace
from lstmfc.core.errors import ArtifactError, DataError, UsageError
from lstmfc.dataset import prepare as windows
from lstmfc.heads.registry import make_head
from lstmfc.network import backend, models
from lstmfc.workflows import train
from tests.bundle_helpers import TINY, T
from tests.specs import model_spec


# ----------------------------------------------------------------- writing
def test_bundle_layout_manifest_and_latest(trained_bundles):
    ws, price, direction = trained_bundles
    root = ws.model_root(T)
    assert list_runs(ws, T) == sorted([price["run_id"], direction["run_id"]])
    assert os.readlink(root / "latest") == direction["run_id"]
    assert not [p for p in os.listdir(root) if p.startswith(".")]  # no temp folders left
    run = root / price["run_id"]
    assert sorted(os.listdir(run)) == [
        "history.png",
        "manifest.json",
        "model.keras",
        "model.onnx",
    ]
    assert (run / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((run / "manifest.json").read_text())
    for name in ("model.keras", "model.onnx", "history.png"):
        assert m["files"][name]["sha256"] == sha256_file(run / name)
    prep = json.loads((ws.prepared_path(T) / "prepare.json").read_text())
    assert m["prepare"] == prep  # the full prepare.json, scaler included
    assert m["run_id"] == price["run_id"] and m["ticker"] == T
    assert (m["head"], m["cell"], m["price_target"]) == ("price", "lstm", "logret")
    hp = m["hyperparameters"]
    assert hp["units"] == [4, 2] and hp["dense"] == 3 and hp["dropout"] == 0.2
    assert hp["clipnorm"] == 5.0 and hp["learning_rate"] == 0.001 and hp["batch_size"] == 32
    assert m["seed"] == 1 and m["deterministic"] is False
    tr = m["training"]
    assert tr["epochs_run"] == 2 and len(tr["history"]["val_loss"]) == 2
    assert tr["best_val_loss"] == min(tr["history"]["val_loss"])
    assert tr["train_seconds"] > 0
    assert m["target"]["kind"] == "standard" and m["target"]["column"] == "target_logret"
    assert {"keras", "tensorflow", "numpy", "python"} <= set(m["versions"])
    assert m["windows"] == {"train": prep["split"]["train"]["n"], "val": prep["split"]["val"]["n"]}


def test_target_scaling_uses_training_targets_only(trained_bundles):
    ws, price, _ = trained_bundles
    prep = windows.load_prepared(ws, T)
    tr = prep.split_targets("train")
    m = load_bundle(ws, T, price["run_id"]).manifest
    r = tr["target_logret"].to_numpy()
    assert m["target"]["mean"] == pytest.approx(r.mean(), rel=1e-12)
    assert m["target"]["std"] == pytest.approx(r.std(), rel=1e-12)
    allr = prep.targets["target_logret"].dropna().to_numpy()
    assert m["target"]["std"] != pytest.approx(allr.std(), rel=1e-9)


# ----------------------------------------------------------------- round trip
def test_round_trip_gives_identical_predictions(bundle_ws):
    prep = windows.load_prepared(bundle_ws, T)
    spec = model_spec(lookback=10, n_features=1, units=(3,), dense=0)
    backend.set_seed(5)
    model = models.build_model(spec)
    x = np.ascontiguousarray(prep.windows("train"))
    head = make_head("price")
    y = head.encode(head.fit_scaling(prep.split_targets("train")), prep.split_targets("train"))
    model.fit(x, y, epochs=1, verbose=0)
    before = models.predict(model, prep.windows("test"))
    old = json.loads((bundle_ws.model_root(T) / "latest" / "manifest.json").read_text())
    manifest = {k: old[k] for k in ("head", "cell", "hyperparameters", "target", "prepare")}
    manifest.update(head="price", training={"history": {"loss": [1.0], "val_loss": [1.1]}})
    manifest["target"] = {"column": "target_logret", "kind": "standard", "mean": 0.0, "std": 1.0}
    run = save_bundle(bundle_ws, T, model, manifest, run_id="manual-1")
    assert os.readlink(bundle_ws.model_root(T) / "latest") == "manual-1"

    b = load_bundle(bundle_ws, T, prepared_meta=prep.meta)
    assert b.run_id == "manual-1" and b.path == run and b.head.name == "price"
    after = b.predict_raw(prep.windows("test"))
    assert before.shape == after.shape == (len(prep.split_rows("test")), 1)
    assert np.array_equal(before, after)
    assert models.weights_bytes(model) == models.weights_bytes(b.model)
    tt = prep.split_targets("test")
    closes = tt["close"].to_numpy()
    prices = b.forecast(prep.windows("test"), tt)
    assert np.allclose(prices, closes * np.exp(before[:, 0]))
    assert b.manifest["schema"] == 2
    assert b.manifest["members"] == [{"file": "model.keras", "onnx": "model.onnx"}]


@pytest.mark.parametrize("which", ["price", "direction"])
def test_loaded_bundle_reproduces_recorded_validation_scores(trained_bundles, which):
    ws, price, direction = trained_bundles
    res = price if which == "price" else direction
    prep = windows.load_prepared(ws, T)
    b = load_bundle(ws, T, res["run_id"], prepared_meta=prep.meta)
    va = prep.split_targets("val")
    p = b.forecast(prep.windows("val"), va)
    if which == "price":
        rmse = float(np.sqrt(np.mean((p - va["target_price"].to_numpy()) ** 2)))
        assert rmse == pytest.approx(res["val"]["rmse"], rel=1e-9)
    else:
        assert np.all((p >= 0) & (p <= 1))
        acc = float(np.mean((p > 0.5) == va["target_direction"].to_numpy()))
        assert acc == pytest.approx(res["val"]["accuracy"], rel=1e-12)


def test_check_compatible(bundle_ws, trained_bundles):
    _, price, _ = trained_bundles
    b = load_bundle(bundle_ws, T, price["run_id"])
    meta = json.loads((bundle_ws.prepared_path(T) / "prepare.json").read_text())
    check_compatible(b, meta)  # the data it was trained on
    for key, value, shown in (
        ("lookback", 20, "lookback 10 but the prepared data for TEST has 20"),
        ("features", ["close", "rsi"], "features [logret] but the prepared data"),
    ):
        changed = json.loads(json.dumps(meta))
        changed[key] = value
        with pytest.raises(ArtifactError) as e:
            check_compatible(b, changed)
        assert shown in str(e.value)
    changed = json.loads(json.dumps(meta))
    changed["scaler"]["data_max"] = [changed["scaler"]["data_max"][0] + 1]
    with pytest.raises(ArtifactError, match="scaler data_max"):
        check_compatible(b.manifest, changed)


def test_load_refuses_model_for_re_prepared_data(bundle_ws, trained_bundles):
    windows.prepare(bundle_ws, T, lookback=12)
    meta = windows.load_prepared(bundle_ws, T).meta
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, prepared_meta=meta)
    assert str(e.value).startswith(
        f"model {trained_bundles[2]['run_id']} was trained with lookback 10 but the prepared data "
        "for TEST has 12; retrain with `lstmfc train TEST`"
    )


# ----------------------------------------------------------------- interruption
class _InterruptAfter:
    def __init__(self, epoch):
        self.epoch = epoch
        self.label = "x"

    def on_epoch_end(self, epoch, logs, seconds):
        if epoch >= self.epoch:
            raise KeyboardInterrupt


def _assert_untouched(ws, before_runs, before_latest):
    root = ws.model_root(T)
    assert list_runs(ws, T) == before_runs
    assert os.readlink(root / "latest") == before_latest
    assert not [p for p in os.listdir(root) if p.startswith(".")]
    load_bundle(ws, T)  # the previous latest still loads


def test_ctrl_c_during_fit_writes_nothing(bundle_ws):
    runs, latest = list_runs(bundle_ws, T), os.readlink(bundle_ws.model_root(T) / "latest")
    with pytest.raises(KeyboardInterrupt):
        train.train(bundle_ws, T, seed=0, reporter=_InterruptAfter(1), **TINY)
    _assert_untouched(bundle_ws, runs, latest)


def _no_training(monkeypatch, val_loss=0.5):
    """Skip model.fit (the tests below are about what happens around it)."""

    def fake_fit(model, *a, epochs=1, **k):
        hist = {"loss": [1.0], "val_loss": [val_loss]}
        return models.FitResult(hist, 1, 1, val_loss, False, 0.1, 10.0)

    monkeypatch.setattr(models, "fit", fake_fit)


def test_ctrl_c_while_saving_writes_nothing(bundle_ws, monkeypatch):
    runs, latest = list_runs(bundle_ws, T), os.readlink(bundle_ws.model_root(T) / "latest")
    _no_training(monkeypatch)

    def boom(*a, **k):  # the model file is already in the temporary folder by now
        raise KeyboardInterrupt

    monkeypatch.setattr(bundles, "write_history_png", boom)
    with pytest.raises(KeyboardInterrupt):
        train.train(bundle_ws, T, seed=0, **TINY)
    _assert_untouched(bundle_ws, runs, latest)


def test_temporaries_of_dead_processes_are_swept_by_the_next_write(bundle_ws):
    """A train killed with SIGKILL leaves its hidden temporary run folder; the next
    bundle written beside it removes it. A live process's temporary is kept."""
    root = bundle_ws.model_root(T)
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)  # a process that has exited
    gone = root / f".20990101T000000Z-aaaaaa.{pid}.abcd1234.tmp"
    mine = root / f".20990101T000000Z-bbbbbb.{os.getpid()}.efgh5678.tmp"
    other = root / ".notes.tmp"  # not one of ours: left alone
    for p in (gone, mine, other):
        p.mkdir()
    train.train(bundle_ws, T, seed=0, **{**TINY, "epochs": 1})
    assert not gone.exists() and mine.exists() and other.exists()
    assert sweep_stale(root) == []  # nothing else to remove


def test_train_rejects_bad_options_before_reading_data(tmp_path):
    ws = Workspace(tmp_path)  # nothing prepared: option errors still come first
    for kw, msg in (
        ({"units": "abc"}, "--units must be comma-separated positive integers"),
        ({"epochs": 0}, "--epochs must be an integer from 1 to 10000, got 0"),
        ({"dropout": 1.5}, "--dropout must be in [0, 1), got 1.5"),
        ({"price_target": "pct"}, "--price-target must be logret or level"),
        ({"seed": -1}, "--seed must be an integer"),
    ):
        with pytest.raises(UsageError) as e:
            train.train(ws, T, **kw)
        assert msg in str(e.value)
    with pytest.raises(ArtifactError, match=r"no prepared data for TEST; run `lstmfc prepare"):
        train.train(ws, T)


def test_diverged_training_saves_nothing(bundle_ws, monkeypatch):
    runs = list_runs(bundle_ws, T)
    _no_training(monkeypatch, val_loss=float("nan"))
    with pytest.raises(DataError) as e:
        train.train(bundle_ws, T, seed=0, **TINY)
    assert str(e.value) == (
        "TEST: training diverged (validation loss is not finite after 1 epoch); "
        "try a smaller --lr; nothing was saved"
    )
    assert list_runs(bundle_ws, T) == runs


def test_level_target_round_trip(bundle_ws):
    res = train.train(bundle_ws, T, seed=4, price_target="level", **{**TINY, "epochs": 1})
    b = load_bundle(bundle_ws, T)
    assert b.run_id == res["run_id"] and b.head.price_target == "level"
    assert b.target["kind"] == "minmax" and b.target["column"] == "target_price"
    prep = windows.load_prepared(bundle_ws, T)
    tr = prep.split_targets("train")["target_price"]
    assert (b.target["min"], b.target["max"]) == (tr.min(), tr.max())
    va = prep.split_targets("val")
    p = b.forecast(prep.windows("val"), va)
    rmse = float(np.sqrt(np.mean((p - va["target_price"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(res["val"]["rmse"], rel=1e-9)
