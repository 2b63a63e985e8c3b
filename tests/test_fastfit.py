"""lstmfc.network.fastfit: the lean torch training loop computes what Keras's ``Model.fit`` /
``train_on_batch`` compute (weights, optimiser state, losses, metrics, early stopping,
TerminateOnNaN), refuses models it cannot replay exactly, and keeps TensorFlow out of
torch-backend processes."""

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
from lstmfc.network import backend, models
from lstmfc.network.fit_settings import FitSettings
from tests.specs import model_spec

ROOT = Path(__file__).resolve().parents[1]

keras = backend.keras_module()
ON_TORCH = keras.backend.backend() == "torch"
pytestmark = pytest.mark.skipif(
    not ON_TORCH,
    reason=f"the lean loop exists only on the torch backend; this run was started on "
    f"{keras.backend.backend()} (LSTMFC_BACKEND / KERAS_BACKEND; see test_fastpath)",
)

if ON_TORCH:
    import torch

    from lstmfc.network import fastfit


def _spec(**kw):
    base = dict(lookback=9, n_features=2, units=(6, 4), dense=3, dropout=0.0)
    base.update(kw)
    return model_spec(**base)


def _twins(spec, seed=0):
    """Two models of ``spec`` with the same (random, non-default) weights."""
    a, b = models.build_model(spec), models.build_model(spec)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.4, w.shape).astype("float32") for w in a.get_weights()]
    a.set_weights(weights)
    b.set_weights(weights)
    return a, b


def _data(n, spec, seed=1, head="price"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, spec.lookback, spec.n_features)).astype("float32")
    y = x[:, -1, 0] * 0.5 + 0.1
    if head == "direction":
        y = (y > 0.1).astype("float32")
    return x, y.astype("float32")


def _opt_state(model):
    return [np.asarray(v.numpy()) for v in model.optimizer.variables]


# ------------------------------------------------------------------ status / problem
def test_active_and_recorded(monkeypatch):
    assert fastfit.status() == "active"
    assert provenance.package_versions()["training_loop"] == "lstmfc.network.fastfit"
    monkeypatch.setenv("LSTMFC_FASTFIT", "0")
    assert fastfit.status() == "switched off by LSTMFC_FASTFIT=0"
    assert fastfit.problem(models.build_model(_spec())) == "switched off by LSTMFC_FASTFIT=0"
    assert provenance.package_versions()["training_loop"].startswith("Model.fit (switched off")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("head", ["price", "direction"])
def test_every_lstmfc_network_qualifies(cell, head):
    for kw in ({}, {"dense": 0, "dropout": 0.3, "l2": 1e-3, "units": (5,)}):
        assert fastfit.problem(models.build_model(_spec(cell=cell, head=head, **kw))) is None


def _functional(layers_fn, loss="mse", metrics=None, compile_=True):
    inp = keras.Input((9, 2))
    m = keras.Model(inp, layers_fn(inp))
    if compile_:
        m.compile(optimizer="adam", loss=loss, metrics=metrics or [])
    return m


def test_models_it_cannot_replay_are_refused_and_still_train():
    L = keras.layers
    cases = {
        "is a LayerNormalization": _functional(
            lambda i: L.Dense(1)(L.LayerNormalization()(L.LSTM(3)(i)))
        ),
        "is a Bidirectional": _functional(lambda i: L.Dense(1)(L.Bidirectional(L.LSTM(3))(i))),
        "loss 'mae'": _functional(lambda i: L.Dense(1)(L.LSTM(3)(i)), loss="mae"),
        "metrics ['mae']": _functional(lambda i: L.Dense(1)(L.LSTM(3)(i)), metrics=["mae"]),
        "not compiled": _functional(lambda i: L.Dense(1)(L.LSTM(3)(i)), compile_=False),
        "noise_shape": _functional(
            lambda i: L.Dense(1)(L.LSTM(3)(L.Dropout(0.1, noise_shape=(None, 1, 2))(i)))
        ),
    }
    inp = keras.Input((9, 2))
    h = L.LSTM(3, return_sequences=True)(inp)
    skip = keras.Model(inp, L.Dense(1)(L.LSTM(2)(L.Add()([h, h]))))
    skip.compile(optimizer="adam", loss="mse")
    cases["is a Add"] = skip
    x, y = _data(20, _spec())
    for why, model in cases.items():
        msg = fastfit.problem(model)
        assert msg is not None and why in msg, (why, msg)
        if why == "not compiled":
            assert fastfit.problem(model, training=False) is None
            continue
        res = models.fit(model, x, y, x, y, settings=FitSettings(1, 8, 5))  # Model.fit instead
        assert res.epochs_run == 1 and np.isfinite(res.best_val_loss)


# ------------------------------------------------------------------ one step = train_on_batch
@pytest.mark.parametrize(
    "kw",
    [
        {},  # price head, MSE, global-norm clipping 5
        {"clipnorm": 0.05, "l2": 0.01},  # clipping active, L2 penalties in the loss
        {"clipnorm": 0.0, "cell": "gru"},  # no clipping
        {"head": "direction", "cell": "rnn", "l2": 0.003},  # sigmoid + binary cross-entropy
    ],
)
def test_train_steps_equal_keras_train_on_batch(kw):
    """Same weights, same batches, no dropout: three optimiser steps of the lean loop
    leave the same weights, Adam moments, velocities and iteration count as Keras's own
    ``train_on_batch`` (1e-6), and report the same losses."""
    spec = _spec(**kw)
    keras_model, lean_model = _twins(spec)
    x, y = _data(48, spec, head=spec.head)
    trainer = fastfit.Trainer(lean_model)
    assert trainer.stepper.replay  # the op-for-op Adam replay, not Optimizer.apply
    for i in range(3):
        xb, yb = x[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]
        want = keras_model.train_on_batch(xb, yb, return_dict=True)["loss"]
        got, _ = trainer.train_step(torch.from_numpy(xb), torch.from_numpy(yb).reshape(-1, 1))
        assert float(got) == pytest.approx(float(want), rel=1e-6, abs=1e-7)
    for a, b in zip(keras_model.get_weights(), lean_model.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    for a, b in zip(_opt_state(keras_model), _opt_state(lean_model), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-9)
    assert int(lean_model.optimizer.iterations.numpy()) == 3
    # not vacuous: the weights moved
    start = _twins(spec)[0].get_weights()
    assert any(
        not np.allclose(a, b, atol=1e-5)
        for a, b in zip(start, lean_model.get_weights(), strict=True)
    )


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda: keras.optimizers.Adam(amsgrad=True),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5)),
    ],
)
def test_other_optimisers_step_through_keras_apply(make_opt):
    spec = _spec()
    keras_model, lean_model = _twins(spec)
    for m in (keras_model, lean_model):
        m.compile(optimizer=make_opt(), loss="mean_squared_error")
    trainer = fastfit.Trainer(lean_model)
    assert not trainer.stepper.replay
    x, y = _data(32, spec)
    for i in range(2):
        xb, yb = x[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]
        keras_model.train_on_batch(xb, yb)
        trainer.train_step(torch.from_numpy(xb), torch.from_numpy(yb).reshape(-1, 1))
    for a, b in zip(keras_model.get_weights(), lean_model.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_inference_forward_equals_model_predict(cell):
    spec = _spec(cell=cell, dropout=0.2)
    model = models.build_model(spec)
    x, _ = _data(300, spec)  # two 256-window batches
    want = model.predict(x, batch_size=256, verbose=0).reshape(-1)
    np.testing.assert_allclose(fastfit.predict(model, x)[:, 0], want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(models.predict(model, x)[:, 0], want, rtol=1e-6, atol=1e-7)
    loaded_like = keras.Model.from_config(model.get_config())  # uncompiled: still qualifies
    loaded_like.set_weights(model.get_weights())
    np.testing.assert_allclose(fastfit.predict(loaded_like, x)[:, 0], want, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ dropout
def test_dropout_is_inverted_bernoulli_with_the_right_rate():
    x = torch.ones(64, 60, 128, requires_grad=True)
    g = torch.Generator().manual_seed(3)
    out = fastfit.dropout(x, 0.2, generator=g)
    values = set(np.unique(out.detach().numpy()).round(6).tolist())
    assert values == {0.0, 1.25}  # dropped or scaled by 1 / (1 - rate)
    n = out.numel()
    dropped = float((out == 0).sum()) / n
    assert abs(dropped - 0.2) < 5 * np.sqrt(0.2 * 0.8 / n)  # 5 sigma
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())  # same mask backward
    # the threshold is exact where it can be: rate 0.5 -> kept iff the int32 is negative
    half = fastfit.dropout(torch.ones(1000, 100), 0.5, generator=torch.Generator().manual_seed(0))
    assert abs(float((half == 0).float().mean()) - 0.5) < 5 * np.sqrt(0.25 / 100_000)
    # seeded: same generator state -> same mask; another seed -> another mask
    again = fastfit.dropout(x.detach(), 0.2, generator=torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(again.numpy(), out.detach().numpy())
    other = fastfit.dropout(x.detach(), 0.2, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(other, again)
    # odd element counts and non-contiguous shapes
    odd = fastfit.dropout(torch.ones(3, 5, 7), 0.4)
    assert odd.shape == (3, 5, 7)


def test_dropout_layers_drop_only_in_training():
    spec = _spec(dropout=0.5, units=(16,), dense=0)
    model = models.build_model(spec)
    chain = fastfit._chain(model)
    x = torch.from_numpy(_data(64, spec)[0])
    with torch.no_grad():
        train_a = fastfit.forward(chain, x, True)
        train_b = fastfit.forward(chain, x, True)
        infer = fastfit.forward(chain, x, False)
    assert not torch.equal(train_a, train_b)
    np.testing.assert_allclose(infer.numpy(), model.predict(x.numpy(), verbose=0), rtol=1e-6)


# ------------------------------------------------------------------ whole fit = Model.fit
def _fit_both(monkeypatch, spec, x, y, xv, yv, **kw):
    a, b = _twins(spec)
    monkeypatch.setenv("LSTMFC_FASTFIT", "0")
    settings = FitSettings(**kw, shuffle=False)
    keras_res = models.fit(a, x, y, xv, yv, settings=settings)
    monkeypatch.setenv("LSTMFC_FASTFIT", "1")
    lean_res = models.fit(b, x, y, xv, yv, settings=settings)
    return (a, keras_res), (b, lean_res)


def _assert_same_fit(keras_side, lean_side, rtol=2e-5):
    (a, ra), (b, rb) = keras_side, lean_side
    assert list(ra.history) == list(rb.history)
    for key in ra.history:
        np.testing.assert_allclose(rb.history[key], ra.history[key], rtol=rtol, atol=1e-7)
    assert (ra.epochs_run, ra.best_epoch, ra.stopped_early) == (
        rb.epochs_run,
        rb.best_epoch,
        rb.stopped_early,
    )
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wb, wa, rtol=rtol, atol=1e-6)


def test_fit_matches_keras_fit_with_early_stopping_and_restored_weights(monkeypatch):
    """Validation targets that move against the training targets: validation loss
    rises as training fits, EarlyStopping stops after ``patience`` epochs and restores
    the best epoch's weights; both loops agree on every history value, the stopping
    epoch and the final weights."""
    spec = _spec(learning_rate=0.02)
    x, y = _data(70, spec)
    xv, _ = _data(30, spec, seed=2)
    yv = (-xv[:, -1, 0] * 0.5 + 0.1).astype("float32")
    keras_side, lean_side = _fit_both(
        monkeypatch, spec, x, y, xv, yv, epochs=12, batch_size=16, patience=2
    )
    _assert_same_fit(keras_side, lean_side)
    res = lean_side[1]
    assert res.stopped_early and res.epochs_run == res.best_epoch + 2
    assert res.best_val_loss == min(res.history["val_loss"])


def test_fit_matches_keras_fit_direction_head(monkeypatch):
    spec = _spec(head="direction", cell="gru", l2=1e-3)
    x, y = _data(70, spec, head="direction")
    xv, yv = _data(30, spec, seed=2, head="direction")
    keras_side, lean_side = _fit_both(
        monkeypatch, spec, x, y, xv, yv, epochs=3, batch_size=16, patience=5
    )
    _assert_same_fit(keras_side, lean_side)
    assert list(lean_side[1].history) == [
        "binary_accuracy",
        "loss",
        "val_binary_accuracy",
        "val_loss",
    ]


def test_nan_loss_terminates_like_terminate_on_nan(monkeypatch):
    spec = _spec()
    x, y = _data(64, spec)
    x[20] = np.nan  # second batch of 16
    keras_side, lean_side = _fit_both(
        monkeypatch, spec, x, y, x[:16], y[:16], epochs=5, batch_size=32, patience=5
    )
    for _, res in (keras_side, lean_side):
        assert res.epochs_run == 1 and np.isnan(res.history["loss"][0])
    assert list(keras_side[1].history) == list(lean_side[1].history)


def test_early_stopping_replays_keras_callback():
    """The re-implemented EarlyStopping against Keras's own callback on loss sequences
    with ties, late improvements and NaN: same stopping epoch, best epoch and restored
    weights."""

    class Dummy:
        def __init__(self):
            self.epoch, self.restored, self.stop_training = 0, None, False

        def get_weights(self):
            return [self.epoch]

        def set_weights(self, w):
            self.restored = w[0]

    sequences = [
        [1.0, 0.9, 0.95, 0.96, 0.8, 0.81, 0.82, 0.83],
        [1.0, 1.0, 1.0, 1.0],
        [float("nan"), 1.0, 0.5, 0.4],
        [1.0, float("nan"), float("nan"), float("nan")],
        [3.0, 2.0, 1.0, 0.5],
    ]
    for patience in (0, 1, 2, 3):
        for seq in sequences:
            outcomes = []
            for ours in (False, True):
                model = Dummy()
                if ours:
                    cb = fastfit.EarlyStopping(model, patience)
                else:
                    cb = keras.callbacks.EarlyStopping(
                        monitor="val_loss", patience=patience, restore_best_weights=True
                    )
                    cb.set_model(model)
                    cb.on_train_begin()
                stopped_at = None
                for epoch, v in enumerate(seq):
                    model.epoch = epoch
                    if ours:
                        stop = cb.on_epoch_end(epoch, v)
                    else:
                        cb.on_epoch_end(epoch, {"val_loss": v})
                        stop = model.stop_training
                    if stop:
                        stopped_at = epoch
                        break
                if ours:
                    cb.on_train_end()
                else:
                    cb.on_train_end()
                outcomes.append((stopped_at, cb.best_epoch, model.restored))
            assert outcomes[0] == outcomes[1], (patience, seq, outcomes)


def test_reporter_hooks_and_seeded_runs_are_identical():
    spec = _spec(dropout=0.3)
    x, y = _data(50, spec)

    class Rec:
        wants_batches = True

        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            if name.startswith("on_"):
                return lambda *a: self.calls.append(
                    (name, a[:2] if name != "on_epoch_end" else a[:1])
                )
            raise AttributeError(name)

    runs = []
    for seed in (11, 11, 12):
        rec = Rec()
        backend.set_seed(seed, deterministic=True)
        m = models.build_model(spec)
        res = models.fit(m, x, y, x[:10], y[:10], settings=FitSettings(2, 16, 5), reporter=rec)
        runs.append((models.weights_bytes(m), res.history))
    names = [c[0] for c in rec.calls]
    assert rec.calls[0] == ("on_train_begin", (2, 4))
    assert names.count("on_batch_end") == 8 and names.count("on_epoch_end") == 2
    assert ("on_epoch_end", (2,)) in rec.calls and names[-1] == "on_train_end"
    assert runs[0] == runs[1]  # same seed: bit-identical weights and history
    assert runs[0][0] != runs[2][0]


# ------------------------------------------------------------------ TensorFlow stays out
_NO_TF = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from lstmfc.network import backend, models
    from lstmfc.network.fit_settings import FitSettings
    from tests.specs import model_spec
    backend.keras_module()
    backend.set_seed(1)
    spec = model_spec(lookback=8, n_features=1, units=(4,), dense=2)
    m = models.build_model(spec)
    x = np.random.default_rng(0).random((40, 8, 1), dtype=np.float32)
    models.fit(m, x, x[:, -1, 0], x, x[:, -1, 0], settings=FitSettings(1, 16, 5))
    models.save_model(m, sys.argv[1])
    back = models.load_model_file(sys.argv[1])
    same = bool(np.array_equal(models.predict(m, x), models.predict(back, x)))
    from keras.src.utils import module_utils
    print(json.dumps({"tf": "tensorflow" in sys.modules, "same": same,
                      "lazy": module_utils.tensorflow._available}))
    """
)


def test_torch_process_never_imports_tensorflow(tmp_path):
    """Seeding, compiling, training, saving and loading on the torch backend leave
    TensorFlow unimported (Keras would otherwise import it, ~470 MiB, just to ask
    whether it is installed), and the lazy module is left as Keras had it."""
    env = {**os.environ, "LSTMFC_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TF, str(tmp_path / "m.keras")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"tf": False, "same": True, "lazy": None}


def test_tensorflow_left_unloaded_changes_nothing_outside_the_block():
    from keras.src.utils import module_utils

    lazy = module_utils.tensorflow
    before = lazy._available
    with backend.tensorflow_left_unloaded():
        cfg = models.build_model(_spec()).get_compile_config()
    assert lazy._available == before
    assert (
        cfg["loss"] == "mean_squared_error" and cfg["optimizer"]["config"]["global_clipnorm"] == 5
    )


def test_weights_off_the_cpu_are_left_to_model_fit():
    """On CUDA Keras already runs cuDNN and this loop is untested there: a weight that
    is not on the CPU (a ``meta`` tensor stands in for a CUDA one) is refused."""
    model = models.build_model(_spec())
    assert fastfit.problem(model) is None
    v = model.layers[-1].kernel
    v._value = torch.nn.Parameter(torch.empty(tuple(v.shape), device="meta"))
    msg = fastfit.problem(model)
    assert msg is not None and "lives on meta" in msg
