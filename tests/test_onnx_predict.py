"""The daily predict runs the bundle's ONNX twins: no Keras/TensorFlow/torch, same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lstmfc.bundles.bundle import load_bundle
from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.forecastlog import ForecastLog
from lstmfc.data.store import write_raw
from lstmfc.dataset.prepare import load_prepared, prepare
from lstmfc.workflows.train import train
from tests.conftest import make_ohlcv

ROOT = Path(__file__).resolve().parents[1]
SHORT_SERIES_HEADS = ("price", "direction")  # heads without GARCH baselines
runner = CliRunner()
PREDICT = ["predict", "SYN", "--no-update", "--calendar", "weekdays"]


def _trained(ws: Workspace, steps: int = 1, n: int = 300, **kw) -> dict:
    write_raw(ws.raw_path("SYN"), make_ohlcv(n, seed=6), {"source": "test"})
    prepare(ws, "SYN", lookback=10, steps=steps)
    return train(ws, "SYN", units="6,4", dense=3, epochs=1, seed=3, **kw)


def test_predict_in_a_fresh_process_never_imports_keras_tensorflow_or_torch(workspace):
    ws = Workspace.resolve(workspace)
    _trained(ws)
    code = (
        "import sys\n"
        "from lstmfc.cli import main\n"
        "sys.argv = ['lstmfc', 'predict', 'SYN', '--no-update', '--calendar', 'weekdays']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "LSTMFC_HOME": str(workspace), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout
    rows = ForecastLog(ws.forecast_db).rows()
    assert len(rows) == 1 and rows[0]["forecast_price"] > 0


@pytest.mark.parametrize(
    "head,cell,ensemble",
    [
        ("price", "lstm", 1),
        ("price", "gru", 1),
        ("price", "rnn", 1),
        ("direction", "lstm", 1),
        ("direction", "gru", 2),
        ("price", "lstm", 3),
        ("vol", "lstm", 1),
        ("quantile", "gru", 1),
        ("price", "lstm", "mimo"),  # a 3-step path: one output per step
        ("price", "gru", "recursive"),  # the one-step network fed its own forecasts
        ("direction", "lstm", "mimo"),
    ],
)
def test_onnx_and_keras_forecasts_agree(workspace, head, cell, ensemble):
    ws = Workspace.resolve(workspace)
    if isinstance(ensemble, str):
        _trained(ws, steps=3, head=head, cell=cell, strategy=ensemble)
        ensemble = 1
    else:  # the GARCH baselines of the vol and quantile heads need 250 training returns
        n = 300 if head in SHORT_SERIES_HEADS else 600
        _trained(ws, head=head, cell=cell, ensemble=ensemble, n=n)
    prep = load_prepared(ws, "SYN")
    x, tt = prep.windows("test"), prep.split_targets("test")
    k = load_bundle(ws, "SYN", engine="keras")
    o = load_bundle(ws, "SYN", engine="onnx")
    assert (k.engine, o.engine) == ("keras", "onnx") and len(o.models) == ensemble
    a, b = k.forecast(x, tt), o.forecast(x, tt)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(a))))
    assert load_bundle(ws, "SYN", engine="auto").engine == "onnx"


def test_a_modified_onnx_file_is_refused_and_nothing_is_logged(workspace):
    ws = Workspace.resolve(workspace)
    res = _trained(ws)
    onnx = workspace / res["path"] / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    out = runner.invoke(app, PREDICT)
    assert out.exit_code == 1
    assert out.stderr.count("\n") == 1 and "model.onnx fails its sha256 check" in out.stderr
    assert ForecastLog(ws.forecast_db).rows() == []


def test_older_bundles_fall_back_to_keras_until_exported(workspace):
    ws = Workspace.resolve(workspace)
    res = _trained(ws)
    run = workspace / res["path"]
    manifest = json.loads((run / "manifest.json").read_text())
    for m in manifest["members"]:  # as lstmfc wrote bundles before the ONNX twins
        del m["onnx"]
    del manifest["files"]["model.onnx"]
    (run / "model.onnx").unlink()
    (run / "manifest.json").write_text(json.dumps(manifest))
    first = runner.invoke(app, [*PREDICT, "--json"])
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)[0]
    assert doc["engine"] == "keras"
    assert "has no ONNX file" in first.stderr and "lstmfc export SYN" in first.stderr
    ex = runner.invoke(app, ["export", "SYN", "--json"])
    assert ex.exit_code == 0, ex.output
    assert json.loads(ex.stdout)["status"] == "exported"
    b = load_bundle(ws, "SYN", engine="onnx")  # re-hashed manifest verifies
    assert b.manifest["members"][0]["onnx"] == "model.onnx"
    again = runner.invoke(app, [*PREDICT, "--json"])
    assert json.loads(again.stdout)[0]["engine"] == "onnx" and "ONNX" not in again.stderr
    assert json.loads(again.stdout)[0]["forecast_price"] == pytest.approx(
        doc["forecast_price"], rel=1e-5
    )
    assert json.loads(runner.invoke(app, ["export", "SYN", "--json"]).stdout)["status"] == (
        "already exported"
    )
