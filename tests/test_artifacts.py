"""lstmfc.bundles.bundle and lstmfc.workflows.train: bundles round-trip, refuse anything tampered,
malformed or unsafe, and an interrupted run leaves the previous ``latest`` usable."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from lstmfc.bundles import bundle as artifacts
from lstmfc.core.atomic import sha256_file
from lstmfc.core.config import Workspace
from lstmfc.core.errors import ArtifactError, DataError, UsageError
from lstmfc.data.store import write_raw
from lstmfc.dataset import prepare as windows
from lstmfc.heads.registry import make_head
from lstmfc.network import backend, models
from lstmfc.workflows import train
from tests.conftest import make_ohlcv

T = "TEST"
TINY = dict(units=(4, 2), dense=3, epochs=2, batch_size=32, patience=5)


def _prepared_ws(home) -> Workspace:
    ws = Workspace(home)
    write_raw(ws.raw_path(T), make_ohlcv(260, seed=3), {"source": "test"})
    windows.prepare(ws, T, lookback=10)
    return ws


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace with a price run (older) and a direction run (``latest``)."""
    ws = _prepared_ws(tmp_path_factory.mktemp("trained"))
    price = train.train(ws, T, head="price", seed=1, **TINY)
    direction = train.train(ws, T, head="direction", cell="gru", seed=2, **TINY)
    return ws, price, direction


@pytest.fixture
def ws(trained, tmp_path):
    """A private copy of the trained workspace (tests may damage it)."""
    src, _, _ = trained
    dst = tmp_path / "copy"
    shutil.copytree(src.home, dst, symlinks=True)
    return Workspace(dst)


def _run(ws, result) -> os.PathLike:
    return ws.home / result["path"]


def _rewrite_manifest(run, edit):
    path = run / artifacts.MANIFEST_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _fix_checksum(run, name):
    def edit(doc):
        doc["files"][name] = {
            "sha256": sha256_file(run / name),
            "bytes": (run / name).stat().st_size,
        }

    _rewrite_manifest(run, edit)


# ----------------------------------------------------------------- writing
def test_bundle_layout_manifest_and_latest(trained):
    ws, price, direction = trained
    root = ws.model_root(T)
    assert artifacts.list_runs(ws, T) == sorted([price["run_id"], direction["run_id"]])
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


def test_target_scaling_uses_training_targets_only(trained):
    ws, price, _ = trained
    prep = windows.load_prepared(ws, T)
    tr = prep.split_targets("train")
    m = artifacts.load_bundle(ws, T, price["run_id"]).manifest
    r = tr["target_logret"].to_numpy()
    assert m["target"]["mean"] == pytest.approx(r.mean(), rel=1e-12)
    assert m["target"]["std"] == pytest.approx(r.std(), rel=1e-12)
    allr = prep.targets["target_logret"].dropna().to_numpy()
    assert m["target"]["std"] != pytest.approx(allr.std(), rel=1e-9)


# ----------------------------------------------------------------- round trip
def test_round_trip_gives_identical_predictions(ws, tmp_path):
    prep = windows.load_prepared(ws, T)
    spec = models.ModelSpec(lookback=10, n_features=1, units=(3,), dense=0)
    backend.set_seed(5)
    model = models.build_model(spec)
    x = np.ascontiguousarray(prep.windows("train"))
    head = make_head("price")
    y = head.encode(head.fit_scaling(prep.split_targets("train")), prep.split_targets("train"))
    model.fit(x, y, epochs=1, verbose=0)
    before = models.predict(model, prep.windows("test"))
    old = json.loads((ws.model_root(T) / "latest" / "manifest.json").read_text())
    manifest = {k: old[k] for k in ("head", "cell", "hyperparameters", "target", "prepare")}
    manifest.update(head="price", training={"history": {"loss": [1.0], "val_loss": [1.1]}})
    manifest["target"] = {"column": "target_logret", "kind": "standard", "mean": 0.0, "std": 1.0}
    run = artifacts.save_bundle(ws, T, model, manifest, run_id="manual-1")
    assert os.readlink(ws.model_root(T) / "latest") == "manual-1"

    b = artifacts.load_bundle(ws, T, prepared_meta=prep.meta)
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
def test_loaded_bundle_reproduces_recorded_validation_scores(trained, which):
    ws, price, direction = trained
    res = price if which == "price" else direction
    prep = windows.load_prepared(ws, T)
    b = artifacts.load_bundle(ws, T, res["run_id"], prepared_meta=prep.meta)
    va = prep.split_targets("val")
    p = b.forecast(prep.windows("val"), va)
    if which == "price":
        rmse = float(np.sqrt(np.mean((p - va["target_price"].to_numpy()) ** 2)))
        assert rmse == pytest.approx(res["val"]["rmse"], rel=1e-9)
    else:
        assert np.all((p >= 0) & (p <= 1))
        acc = float(np.mean((p > 0.5) == va["target_direction"].to_numpy()))
        assert acc == pytest.approx(res["val"]["accuracy"], rel=1e-12)


# ----------------------------------------------------------------- refusals
def test_missing_model_and_unknown_run(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, "NOPE")
    assert str(e.value) == "no trained model for NOPE; run `lstmfc train NOPE`"


def test_unknown_run_id_lists_runs(ws, trained):
    _, price, direction = trained
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, "20990101T000000Z-000000")
    runs = ", ".join(sorted([price["run_id"], direction["run_id"]]))  # same second: by hex
    assert str(e.value) == f"no model run 20990101T000000Z-000000 for {T}; runs: {runs}"


@pytest.mark.parametrize("bad", ["../TEST/x", "a/b", "..", ".hidden", "x y", "latest/.."])
def test_run_id_with_path_parts_is_a_usage_error(ws, bad):
    with pytest.raises(UsageError, match="invalid model run id"):
        artifacts.load_bundle(ws, T, bad)


def test_tampered_model_file_is_refused(ws, trained):
    run = _run(ws, trained[1])
    p = run / "model.keras"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras fails its sha256 check; "
        "the bundle was modified or is corrupt"
    )


def test_tampered_history_png_is_refused(ws, trained):
    run = _run(ws, trained[1])
    with open(run / "history.png", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="history.png has .* bytes, the manifest says"):
        artifacts.load_bundle(ws, T, run.name)


@pytest.mark.parametrize(
    "damage,msg",
    [
        (lambda p: p.write_text("{not json"), "manifest.json is malformed (Expecting"),
        (lambda p: p.write_text("[1, 2]"), "manifest.json is malformed (not a JSON object)"),
        (lambda p: p.unlink(), "has no manifest.json; it is not a complete bundle"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00"), "manifest.json is malformed"),
    ],
)
def test_malformed_manifest_is_refused(ws, trained, damage, msg):
    run = _run(ws, trained[1])
    damage(run / "manifest.json")
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert msg in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "edit,msg",
    [
        (lambda d: d.pop("files"), "('files' missing or not dict)"),
        (lambda d: d.update(schema=99), "has schema 99"),
        (lambda d: d.update(run_id="other"), "belongs to run 'other'"),
        (lambda d: d["target"].update(kind="magic"), "(bad 'target' entry)"),
        (lambda d: d["files"].update({"../x": {"sha256": "0", "bytes": 1}}), "outside the bundle"),
        (lambda d: d["files"]["model.keras"].pop("sha256"), "needs sha256 and bytes"),
        (
            lambda d: d.update(model_file="model.h5", members=[{"file": "model.h5"}]),
            "is a legacy HDF5 (.h5) model",
        ),
        (
            lambda d: d.update(model_file="model.pkl", members=[{"file": "model.pkl"}]),
            "is not a Keras 3 .keras file",
        ),
        (lambda d: d.update(members=[{"file": "model-2.keras"}]), "not the first member"),
        (lambda d: d.update(head="volatility"), "(unknown head 'volatility')"),
    ],
)
def test_inconsistent_manifest_is_refused(ws, trained, edit, msg):
    run = _run(ws, trained[1])
    _rewrite_manifest(run, edit)
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert msg in str(e.value)


def test_h5_file_named_keras_is_refused(ws, trained):
    run = _run(ws, trained[1])
    m = models.build_model(models.ModelSpec(lookback=10, n_features=1, units=(2,), dense=0))
    h5 = run.parent / "legacy.h5"
    m.save(h5)
    shutil.copyfile(h5, run / "model.keras")
    _fix_checksum(run, "model.keras")  # a correct manifest: the file type is what refuses it
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a legacy HDF5 (.h5) model, "
        "not a Keras 3 .keras file; refusing it"
    )


def test_model_directory_is_refused(ws, trained):
    run = _run(ws, trained[1])
    (run / "model.keras").unlink()
    (run / "model.keras").mkdir()
    (run / "model.keras" / "config.json").write_text("{}")
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a directory, not a regular file; refusing it"
    )


def test_symlink_leaving_the_bundle_is_refused(ws, trained, tmp_path):
    run = _run(ws, trained[1])
    outside = tmp_path / "elsewhere.keras"
    shutil.move(run / "model.keras", outside)
    os.symlink(outside, run / "model.keras")  # same bytes, checksum would match
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a symlink leaving the bundle "
        f"(to {os.path.realpath(outside)}); refusing it"
    )


def test_latest_pointing_outside_is_refused(ws, tmp_path):
    link = ws.model_root(T) / "latest"
    link.unlink()
    os.symlink(str(tmp_path), link)
    with pytest.raises(ArtifactError, match="not a run folder inside models/TEST; refusing it"):
        artifacts.load_bundle(ws, T)


def test_run_folder_symlink_is_refused(ws, trained, tmp_path):
    run = _run(ws, trained[1])
    shutil.move(run, tmp_path / "moved")
    os.symlink(tmp_path / "moved", run)
    with pytest.raises(ArtifactError, match="is a symlink; refusing it"):
        artifacts.load_bundle(ws, T, run.name)


def test_zip_with_extra_member_is_refused(ws, trained):
    run = _run(ws, trained[1])
    with zipfile.ZipFile(run / "model.keras", "a") as zf:
        zf.writestr("payload.py", "print('hi')")
    _fix_checksum(run, "model.keras")
    with pytest.raises(ArtifactError, match="unexpected zip members \\(payload.py\\)"):
        artifacts.load_bundle(ws, T, run.name)


def _evil_bundle(ws, trained, marker):
    """A bundle whose model has a file-writing Lambda and a CORRECT manifest."""
    from tests.test_models import _lambda_model

    model = _lambda_model(marker)
    good = json.loads((_run(ws, trained[1]) / "manifest.json").read_text())
    manifest = {k: v for k, v in good.items() if k not in ("files", "run_id", "model_file")}
    run = artifacts.save_bundle(ws, T, model, manifest, run_id="evil-run", set_latest=False)
    marker.unlink(missing_ok=True)  # building the graph ran the lambda once, legitimately
    return run


def test_lambda_bundle_with_valid_checksums_is_refused_without_running(ws, trained, tmp_path):
    marker = tmp_path / "pwned"
    run = _evil_bundle(ws, trained, marker)
    # the checksums are right, so only the content check can refuse it
    m = json.loads((run / "manifest.json").read_text())
    assert m["files"]["model.keras"]["sha256"] == sha256_file(run / "model.keras")
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, "evil-run")
    assert str(e.value) == (
        f"models/{T}/evil-run/model.keras uses 'Lambda', which lstmfc models never "
        "contain; refusing it without loading"
    )
    assert not marker.exists()


def test_lambda_bundle_is_refused_by_keras_safe_mode_too(ws, trained, tmp_path, monkeypatch):
    """Even if the class allowlist let Lambda through, safe_mode refuses it unrun."""
    marker = tmp_path / "pwned"
    _evil_bundle(ws, trained, marker)
    monkeypatch.setattr(
        artifacts, "ALLOWED_CLASSES", artifacts.ALLOWED_CLASSES | {"Lambda", "__lambda__"}
    )
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, "evil-run")
    msg = str(e.value)
    assert msg.startswith(f"refused models/{T}/evil-run/model.keras: Keras could not load it")
    assert "Lambda" in msg and "\n" not in msg
    assert not marker.exists()


def test_check_compatible(ws, trained):
    _, price, _ = trained
    b = artifacts.load_bundle(ws, T, price["run_id"])
    meta = json.loads((ws.prepared_path(T) / "prepare.json").read_text())
    artifacts.check_compatible(b, meta)  # the data it was trained on
    for key, value, shown in (
        ("lookback", 20, "lookback 10 but the prepared data for TEST has 20"),
        ("features", ["close", "rsi"], "features [logret] but the prepared data"),
    ):
        changed = json.loads(json.dumps(meta))
        changed[key] = value
        with pytest.raises(ArtifactError) as e:
            artifacts.check_compatible(b, changed)
        assert shown in str(e.value)
    changed = json.loads(json.dumps(meta))
    changed["scaler"]["data_max"] = [changed["scaler"]["data_max"][0] + 1]
    with pytest.raises(ArtifactError, match="scaler data_max"):
        artifacts.check_compatible(b.manifest, changed)


def test_load_refuses_model_for_re_prepared_data(ws, trained):
    windows.prepare(ws, T, lookback=12)
    meta = windows.load_prepared(ws, T).meta
    with pytest.raises(ArtifactError) as e:
        artifacts.load_bundle(ws, T, prepared_meta=meta)
    assert str(e.value).startswith(
        f"model {trained[2]['run_id']} was trained with lookback 10 but the prepared data "
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
    assert artifacts.list_runs(ws, T) == before_runs
    assert os.readlink(root / "latest") == before_latest
    assert not [p for p in os.listdir(root) if p.startswith(".")]
    artifacts.load_bundle(ws, T)  # the previous latest still loads


def test_ctrl_c_during_fit_writes_nothing(ws):
    runs, latest = artifacts.list_runs(ws, T), os.readlink(ws.model_root(T) / "latest")
    with pytest.raises(KeyboardInterrupt):
        train.train(ws, T, seed=0, reporter=_InterruptAfter(1), **TINY)
    _assert_untouched(ws, runs, latest)


def _no_training(monkeypatch, val_loss=0.5):
    """Skip model.fit (the tests below are about what happens around it)."""

    def fake_fit(model, *a, epochs=1, **k):
        hist = {"loss": [1.0], "val_loss": [val_loss]}
        return models.FitResult(hist, 1, 1, val_loss, False, 0.1, 10.0)

    monkeypatch.setattr(models, "fit", fake_fit)


def test_ctrl_c_while_saving_writes_nothing(ws, monkeypatch):
    runs, latest = artifacts.list_runs(ws, T), os.readlink(ws.model_root(T) / "latest")
    _no_training(monkeypatch)

    def boom(*a, **k):  # the model file is already in the temporary folder by now
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts, "write_history_png", boom)
    with pytest.raises(KeyboardInterrupt):
        train.train(ws, T, seed=0, **TINY)
    _assert_untouched(ws, runs, latest)


def test_temporaries_of_dead_processes_are_swept_by_the_next_write(ws):
    """A train killed with SIGKILL leaves its hidden temporary run folder; the next
    bundle written beside it removes it. A live process's temporary is kept."""
    import subprocess
    import sys

    from lstmfc.core.atomic import sweep_stale

    root = ws.model_root(T)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)  # a process that has exited
    gone = root / f".20990101T000000Z-aaaaaa.{pid}.abcd1234.tmp"
    mine = root / f".20990101T000000Z-bbbbbb.{os.getpid()}.efgh5678.tmp"
    other = root / ".notes.tmp"  # not one of ours: left alone
    for p in (gone, mine, other):
        p.mkdir()
    train.train(ws, T, seed=0, **{**TINY, "epochs": 1})
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


def test_diverged_training_saves_nothing(ws, monkeypatch):
    runs = artifacts.list_runs(ws, T)
    _no_training(monkeypatch, val_loss=float("nan"))
    with pytest.raises(DataError) as e:
        train.train(ws, T, seed=0, **TINY)
    assert str(e.value) == (
        "TEST: training diverged (validation loss is not finite after 1 epoch); "
        "try a smaller --lr; nothing was saved"
    )
    assert artifacts.list_runs(ws, T) == runs


def test_level_target_round_trip(ws):
    res = train.train(ws, T, seed=4, price_target="level", **{**TINY, "epochs": 1})
    b = artifacts.load_bundle(ws, T)
    assert b.run_id == res["run_id"] and b.head.price_target == "level"
    assert b.target["kind"] == "minmax" and b.target["column"] == "target_price"
    prep = windows.load_prepared(ws, T)
    tr = prep.split_targets("train")["target_price"]
    assert (b.target["min"], b.target["max"]) == (tr.min(), tr.max())
    va = prep.split_targets("val")
    p = b.forecast(prep.windows("val"), va)
    rmse = float(np.sqrt(np.mean((p - va["target_price"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(res["val"]["rmse"], rel=1e-9)
