"""lstmfc.network.fastrnn and backend selection: the fused CPU kernels are active on the torch
backend, compute exactly what Keras's own layers compute (outputs and gradients), fall
back to the stock path where they do not apply, and the TensorFlow backend keeps
working (in a subprocess: Keras picks its backend once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lstmfc.bundles import provenance
from lstmfc.core.errors import UsageError
from lstmfc.network import backend, models
from tests.specs import model_spec

ROOT = Path(__file__).resolve().parents[1]

# Which backend the user asked for before this process loaded Keras (read first: the
# tests below change these variables only through monkeypatch).
CHOSEN = {v: os.environ.get(v, "") for v in ("LSTMFC_BACKEND", "KERAS_BACKEND")}
keras = backend.keras_module()
ON_TORCH = keras.backend.backend() == "torch"
torch_only = pytest.mark.skipif(
    not ON_TORCH,
    reason=f"the fused kernels exist only on the torch backend; this run was started on "
    f"{keras.backend.backend()} ({', '.join(f'{k}={v}' for k, v in CHOSEN.items() if v)})",
)


def _installed(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ------------------------------------------------------------------ backend choice
def test_default_backend_is_torch_when_installed(monkeypatch):
    monkeypatch.delenv("LSTMFC_BACKEND", raising=False)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    want = "torch" if _installed("torch") else "tensorflow"
    assert backend.backend_choice() == want
    monkeypatch.setenv("LSTMFC_BACKEND", "TensorFlow")
    assert backend.backend_choice() == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # LSTMFC_BACKEND wins over KERAS_BACKEND
    assert backend.backend_choice() == "tensorflow"
    monkeypatch.delenv("LSTMFC_BACKEND")
    assert backend.backend_choice() == "jax"


def test_bad_backend_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("LSTMFC_BACKEND", "theano")
    with pytest.raises(UsageError) as e:
        backend.backend_choice()
    assert str(e.value) == "LSTMFC_BACKEND must be one of torch, tensorflow, jax, not 'theano'"
    with pytest.raises(UsageError, match="--backend must be one of"):
        backend.select_backend("mxnet")
    other = "tensorflow" if ON_TORCH else "torch"
    with pytest.raises(UsageError, match="already loaded with the"):
        backend.select_backend(other)


def test_this_run_is_on_torch_unless_another_backend_was_chosen():
    """The torch-only tests skip only where the user picked another backend: a run that
    silently lands on TensorFlow (torch broken, Keras outside SUPPORTED_KERAS) fails."""
    if not any(CHOSEN.values()):
        assert keras.backend.backend() == "torch"
        assert backend.fast_keras_ok()


def test_uninstalled_backend_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec  # hide jax if it is installed here; else it is missing
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real(n, *a)
    )
    monkeypatch.setenv("LSTMFC_BACKEND", "jax")
    with pytest.raises(UsageError) as e:
        backend.backend_choice()
    assert "the jax package is not installed" in str(e.value)


@torch_only
def test_fast_path_is_active_and_recorded():
    from lstmfc.network import fastrnn

    assert fastrnn.status() == "active"
    v = provenance.package_versions()
    assert v["keras_backend"] == "torch" and v["fused_cpu_rnn"] == "active"
    import torch

    assert torch.get_num_threads() == backend.cpu_count()


@torch_only
def test_version_guard_refuses_untested_keras():
    from lstmfc.network import fastrnn

    assert fastrnn.compat_problem(keras.__version__) is None
    msg = fastrnn.compat_problem("3.99.0")
    assert msg.startswith("keras 3.99.0 is outside the versions") and "stock Keras path" in msg
    assert "outside" in fastrnn.compat_problem("4.0.0")


# ------------------------------------------------------------------ equivalence
def _layer(kind, units, return_sequences, **kw):
    cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
    return cls[kind](units, return_sequences=return_sequences, **kw)


def _net(kind, return_sequences, seed=0, **kw):
    """Input(12, 3) -> RNN(5) -> Dense(1), weights and biases all random (non-zero)."""
    inp = keras.Input((12, 3))
    x = _layer(kind, 5, return_sequences, **kw)(inp)
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _forward_and_grads(model, x):
    """Outputs and d(sum of squares)/d(every weight and the input), torch autograd."""
    import torch

    xt = torch.tensor(x, requires_grad=True)
    out = model(xt, training=True)
    loss = (out**2).sum()
    weights = [v.value for v in model.trainable_variables]
    grads = torch.autograd.grad(loss, weights + [xt])
    return out.detach().numpy(), [g.numpy() for g in grads]


def _same(a, b, tol=1e-5):
    out_a, g_a = a
    out_b, g_b = b
    np.testing.assert_allclose(out_a, out_b, rtol=tol, atol=tol)
    assert len(g_a) == len(g_b)
    for ga, gb in zip(g_a, g_b, strict=True):
        np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)


@torch_only
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_path_equals_plain_keras_outputs_and_gradients(kind, return_sequences):
    """Same weights -> same outputs and gradients (1e-5) on the fused path, on Keras's
    stock torch path, and on Keras's generic per-step cell loop (``use_cudnn=False``)."""
    from lstmfc.network import fastrnn

    x = np.random.default_rng(1).normal(size=(7, 12, 3)).astype("float32")
    before = dict(fastrnn.CALLS)
    fast = _forward_and_grads(_net(kind, return_sequences), x)
    assert fastrnn.CALLS[kind] == before[kind] + 1  # the fused kernel really ran
    with fastrnn.stock_keras():
        stock = _forward_and_grads(_net(kind, return_sequences), x)
    assert fastrnn.CALLS[kind] == before[kind] + 1  # and the stock path did not use it
    assert fastrnn.status() == "active"  # re-applied after the block
    _same(fast, stock)
    if kind != "rnn":  # the layer's own step loop through the cell, no backend kernel
        generic = _forward_and_grads(_net(kind, return_sequences, use_cudnn=False), x)
        _same(fast, generic)
        assert fastrnn.CALLS[kind] == before[kind] + 1
    # not vacuous: other weights give other outputs
    other = _forward_and_grads(_net(kind, return_sequences, seed=5), x)
    assert not np.allclose(other[0], fast[0], atol=1e-3)


@torch_only
def test_fused_lstm_calls_torch_vf_lstm(monkeypatch):
    """Count calls of ``torch._VF.lstm`` itself through a training step of the
    reference model: 2 LSTM layers -> 2 calls per forward pass."""
    import torch

    calls = []
    real = torch._VF.lstm

    def counting(*args, **kw):
        calls.append(args[0].shape)
        return real(*args, **kw)

    monkeypatch.setattr(torch._VF, "lstm", counting)
    m = models.build_model(model_spec(lookback=12, n_features=2, units=(8, 4), dense=3))
    x = np.random.default_rng(0).random((16, 12, 2), dtype=np.float32)
    m.fit(x, x[:, -1, 0], epochs=1, batch_size=8, verbose=0)  # builds, then trains
    calls.clear()
    m.fit(x, x[:, -1, 0], epochs=1, batch_size=8, verbose=0)
    assert len(calls) == 4  # 2 batches x 2 layers
    assert calls[0] == (8, 12, 2) and calls[1] == (8, 12, 8)


@torch_only
@pytest.mark.parametrize(
    "kind,kw",
    [
        ("lstm", {"activation": "relu"}),
        ("lstm", {"recurrent_dropout": 0.1}),
        ("lstm", {"use_bias": False}),
        ("gru", {"reset_after": False}),
        ("gru", {"recurrent_activation": "hard_sigmoid"}),
        ("rnn", {"activation": "sigmoid"}),
        ("rnn", {"go_backwards": True}),
        ("rnn", {"dropout": 0.1}),
    ],
)
def test_other_layer_settings_fall_back_to_stock_keras(kind, kw):
    from lstmfc.network import fastrnn

    x = np.random.default_rng(2).normal(size=(4, 12, 3)).astype("float32")
    before = dict(fastrnn.CALLS)
    inp = keras.Input((12, 3))
    model = keras.Model(inp, _layer(kind, 5, False, **kw)(inp))
    out_fast = np.asarray(model(x, training=False).detach())
    assert fastrnn.CALLS == before  # not taken
    with fastrnn.stock_keras():
        out_stock = np.asarray(model(x, training=False).detach())
    np.testing.assert_allclose(out_fast, out_stock, rtol=1e-6, atol=1e-6)


@torch_only
def test_masked_sequences_fall_back_to_stock_keras():
    from lstmfc.network import fastrnn

    x = np.random.default_rng(3).normal(size=(4, 12, 3)).astype("float32")
    x[:2, -3:] = 0.0
    inp = keras.Input((12, 3))
    model = keras.Model(inp, keras.layers.LSTM(5)(keras.layers.Masking(0.0)(inp)))
    before = dict(fastrnn.CALLS)
    out = np.asarray(model(x).detach())
    assert fastrnn.CALLS == before
    unmasked = keras.Model(inp, model.layers[-1](inp))
    assert not np.allclose(out[:2], np.asarray(unmasked(x).detach())[:2], atol=1e-4)


@torch_only
def test_go_backwards_lstm_and_gru_match_stock():
    from lstmfc.network import fastrnn

    x = np.random.default_rng(4).normal(size=(3, 12, 3)).astype("float32")
    for kind in ("lstm", "gru"):
        before = fastrnn.CALLS[kind]
        fast = _forward_and_grads(_net(kind, True, go_backwards=True), x)
        assert fastrnn.CALLS[kind] == before + 1
        with fastrnn.stock_keras():
            stock = _forward_and_grads(_net(kind, True, go_backwards=True), x)
        _same(fast, stock)


# ------------------------------------------------------------------ other backends
_TF_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from lstmfc.network import backend, models
    from lstmfc.network.fit_settings import FitSettings
    from tests.specs import model_spec
    keras = backend.keras_module()
    out = {"backend": keras.backend.backend(), "pred": {}}
    x = np.load(sys.argv[1])
    for cell in ("lstm", "gru", "rnn"):                # bundles saved on the torch fast path
        m = models.load_model_file(f"{sys.argv[2]}/{cell}.keras")
        out["pred"][cell] = models.predict(m, x).tolist()
    # tiny train + save + load + predict entirely on this backend
    backend.set_seed(4, deterministic=True)
    spec = model_spec(lookback=x.shape[1], n_features=1, units=(4, 2), dense=3)
    m2 = models.build_model(spec)
    res = models.fit(m2, x, x[:, -1, 0], x, x[:, -1, 0], settings=FitSettings(2, 8, 5))
    models.save_model(m2, f"{sys.argv[2]}/tf.keras")
    back = models.load_model_file(f"{sys.argv[2]}/tf.keras")
    out["epochs"] = res.epochs_run
    out["roundtrip"] = bool(np.array_equal(models.predict(m2, x), models.predict(back, x)))
    print(json.dumps(out))
    """
)


def test_tensorflow_backend_loads_fast_path_bundles_and_trains(tmp_path):
    """Same weights, TensorFlow backend in a fresh process: same predictions (1e-5) for
    LSTM, GRU and SimpleRNN bundles saved here; the TF backend still trains, saves and
    loads a model end to end."""
    rng = np.random.default_rng(0)
    x = rng.random((24, 10, 1), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    here = {}
    for cell in ("lstm", "gru", "rnn"):
        spec = model_spec(lookback=10, n_features=1, cell=cell, units=(6, 4), dense=3)
        m = models.build_model(spec)
        m.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in m.get_weights()])
        models.save_model(m, tmp_path / f"{cell}.keras")
        here[cell] = models.predict(m, x)
    env = {**os.environ, "LSTMFC_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _TF_SCRIPT, str(tmp_path / "x.npy"), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["backend"] == "tensorflow"
    for cell in ("lstm", "gru", "rnn"):
        np.testing.assert_allclose(np.array(got["pred"][cell]), here[cell], rtol=1e-5, atol=1e-5)
    assert len({tuple(np.round(v.ravel(), 4)) for v in here.values()}) == 3  # not vacuous
    assert got["epochs"] == 2 and got["roundtrip"] is True
