"""A lean training loop for lstmfc's Keras networks on the torch backend.

Why
---
With the fused recurrent kernels of :mod:`lstmfc.network.fastrnn`, ``Model.fit`` on Keras's
torch backend still spends about 9 ms of every 32-window batch in Python around the
arithmetic (measured with ``cProfile`` and ``torch.profiler`` on the reference network,
2-core CPU, Keras 3.15): ``Layer.__call__`` bookkeeping for seven layers (~2 ms),
``Optimizer.apply`` (~1.7 ms), the loss and metric trackers, the epoch iterator and the
callback list, plus ~2.4 ms for the two dropout masks (``torch.nn.functional.dropout``
draws one Bernoulli variate per element). The kernels themselves take ~16 ms. This
module runs the same arithmetic with that bookkeeping stripped:

* **forward pass**: the model's own layers, in the model's own order, through their
  ``call`` methods (what ``Layer.__call__`` runs after its checks): same weights, same
  gates, same activations. Only models that are a plain chain of ``LSTM`` / ``GRU`` /
  ``SimpleRNN`` / ``Dropout`` / ``Dense`` layers in float32 qualify (:func:`problem`);
* **dropout**: Keras's torch dropout (``F.dropout``): keep each element with
  probability ``1 - rate`` and scale kept elements by ``1 / (1 - rate)`` (inverted
  dropout, Srivastava et al. 2014). The Bernoulli masks are drawn from torch's global
  generator (seeded by :func:`lstmfc.network.backend.set_seed`) as 32 random bits per element
  compared with ``round((1 - rate) * 2**32)``, so the keep probability is exact to
  2**-33; about 3.5x faster than ``bernoulli_``;
* **loss**: the compiled Keras loss function (``keras.losses.get(name)``) averaged
  over the batch (``sum_over_batch_size``) plus every weight regulariser's penalty,
  as ``Trainer.compute_loss`` does;
* **optimiser**: Keras's own torch ``Adam`` update (``keras/src/backend/torch/
  optimizers/torch_adam.py``) and ``clip_by_global_norm``
  (``keras/src/optimizers/base_optimizer.py``) replayed op for op on the optimiser's
  own slot variables (moments, velocities, iteration count), so the weights after a
  step are those ``Optimizer.apply`` gives (tests compare them to 1e-6) and the
  optimiser state stays Keras's. An Adam configured beyond that (AMSGrad, weight
  decay, EMA, per-variable clipping, gradient accumulation, loss scaling, a
  learning-rate schedule) or any other optimiser is stepped through
  ``Optimizer.apply`` itself;
* **epochs**: Keras's semantics for ``shuffle=True`` (a new permutation of the
  training windows each epoch), batch-size-weighted running loss and
  ``binary_accuracy``, a validation pass after every epoch (in 256-window batches:
  the same mean, up to float rounding, as Keras's ``batch_size`` batches),
  ``EarlyStopping(monitor="val_loss", restore_best_weights=True)`` and
  ``TerminateOnNaN`` re-implemented line for line from Keras 3.15
  (``keras/src/callbacks/early_stopping.py``, ``terminate_on_nan.py``).

The model object is not changed: it is still the compiled ``keras.Model`` and saves to
the same ``.keras`` file. ``LSTMFC_FASTFIT=0`` switches the loop off (lstmfc then calls
``Model.fit``); other backends always use ``Model.fit``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from lstmfc.network import fastrnn
from lstmfc.network.backend import tensorflow_left_unloaded
from lstmfc.network.fit_settings import FitSettings

SUPPORTED_KERAS = fastrnn.SUPPORTED_KERAS
"""Keras versions ``[low, high)`` whose trainer, Adam and callbacks this loop replays."""

VAL_BATCH = 256
"""Windows per validation batch (inference only; the mean loss does not depend on it)."""

CHAIN_LAYERS = ("LSTM", "GRU", "SimpleRNN", "Dropout", "Dense")
SUPPORTED_LOSSES = {
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
    "binary_crossentropy": "binary_crossentropy",
}
SUPPORTED_METRICS = ("binary_accuracy",)


def _switched_off() -> bool:
    return os.environ.get("LSTMFC_FASTFIT", "1").strip().lower() in ("0", "false", "no", "off")


def status() -> str:
    """``"active"`` or why lstmfc trains with Keras's ``Model.fit`` (loads Keras)."""
    if _switched_off():
        return "switched off by LSTMFC_FASTFIT=0"
    import keras

    backend = keras.backend.backend()
    if backend != "torch":
        return f"not used on the {backend} backend"
    v = fastrnn._version_tuple(keras.__version__)
    lo, hi = SUPPORTED_KERAS
    if not (lo <= v[:2] < hi):
        return (
            f"keras {keras.__version__} is outside the versions this loop was checked "
            f"against ({lo[0]}.{lo[1]} to before {hi[0]}.{hi[1]})"
        )
    return "active"


def problem(model, training: bool = True) -> str | None:
    """Why :func:`fit` (``training``) or :func:`predict` cannot run ``model`` exactly as
    ``Model.fit`` / ``Model.predict`` would, or ``None`` when they can.

    Besides :func:`status`, the model must be a single-input, single-output chain of
    built float32 ``LSTM`` / ``GRU`` / ``SimpleRNN`` (not stateful, no
    ``return_state``), ``Dropout`` (no ``noise_shape``) and ``Dense`` layers on the
    CPU, each fed by the previous one (on CUDA, Keras already runs cuDNN and this
    loop is untested, so ``Model.fit`` trains there). For training it must also be
    compiled with loss ``mean_squared_error``, ``binary_crossentropy`` or a loss of
    :mod:`lstmfc.heads.losses`, no metrics but ``binary_accuracy`` and no ``add_loss``
    terms. That is what :func:`lstmfc.network.models.build_model` makes (and what a bundle
    loads back to).
    """
    why = status()
    if why != "active":
        return why
    try:
        _chain(model)
        if training:
            _compiled(model)
    except _Unsupported as exc:
        return str(exc)
    return None


class _Unsupported(Exception):
    pass


def _chain(model) -> list:
    """The model's layers in order as ``(kind, layer)``; raises ``_Unsupported``."""
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise _Unsupported("the model does not have exactly one input and one output")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers:
        raise _Unsupported("the model has no layers")
    chain = []
    prev = inputs[0]
    for layer in layers:
        kind = type(layer).__name__
        if kind not in CHAIN_LAYERS:
            raise _Unsupported(f"layer {layer.name!r} is a {kind}")
        if not layer.built or len(getattr(layer, "_inbound_nodes", [])) != 1:
            raise _Unsupported(f"layer {layer.name!r} is not built once into the model")
        if layer.input is not prev:
            raise _Unsupported(f"layer {layer.name!r} is not fed by the layer before it")
        if layer.compute_dtype != "float32" or layer.variable_dtype != "float32":
            raise _Unsupported(f"layer {layer.name!r} does not compute in float32")
        if kind == "Dropout" and layer.noise_shape is not None:
            raise _Unsupported(f"layer {layer.name!r} has a noise_shape")
        if kind in ("LSTM", "GRU", "SimpleRNN") and (layer.stateful or layer.return_state):
            raise _Unsupported(f"layer {layer.name!r} is stateful or returns its state")
        for v in layer.weights:
            device = getattr(getattr(v, "value", None), "device", None)
            if device is not None and device.type != "cpu":
                raise _Unsupported(
                    f"layer {layer.name!r} lives on {device.type}; Keras's Model.fit "
                    "(with cuDNN there) trains it"
                )
        chain.append((kind, layer))
        prev = layer.output
    if outputs[0] is not prev:
        raise _Unsupported("the model's output is not its last layer's output")
    return chain


def _compiled(model):
    """``(loss, metric names)`` of a supported compile config.

    ``loss`` is a Keras loss name of :data:`SUPPORTED_LOSSES`, or a loss function of
    :mod:`lstmfc.heads.losses` (tagged ``lstmfc_loss``; built by the head's ``make_loss(keras)``
    from the loaded ``keras.ops``, so it runs on torch tensors as it is).
    """
    if getattr(model, "optimizer", None) is None:
        raise _Unsupported("the model is not compiled")
    with tensorflow_left_unloaded():
        cfg = model.get_compile_config() or {}
    compiled = getattr(model, "loss", None)
    if callable(compiled) and getattr(compiled, "lstmfc_loss", None):
        loss = compiled
    else:
        loss = cfg.get("loss")
        if not isinstance(loss, str) or loss not in SUPPORTED_LOSSES:
            raise _Unsupported(f"loss {loss!r} is not one this loop replays")
        loss = SUPPORTED_LOSSES[loss]
    metrics = cfg.get("metrics") or []
    if cfg.get("weighted_metrics") or cfg.get("loss_weights"):
        raise _Unsupported("weighted metrics or loss weights")
    if not isinstance(metrics, (list, tuple)) or any(
        not isinstance(m, str) or m not in SUPPORTED_METRICS for m in metrics
    ):
        raise _Unsupported(f"metrics {metrics!r} are not ones this loop replays")
    n_regularised = sum(1 for v in model.trainable_weights if getattr(v, "regularizer", None))
    if len(model.losses) != n_regularised:
        raise _Unsupported("the model has losses added with add_loss")
    return loss, tuple(metrics)


# ------------------------------------------------------------------ forward pass
def dropout(x, rate: float, generator=None):
    """Inverted dropout of ``x`` (any shape, float32) at ``rate`` in (0, 1).

    Returns ``x * mask / (1 - rate)`` with ``mask`` i.i.d. Bernoulli(``1 - rate``):
    the math of ``torch.nn.functional.dropout`` (which Keras's torch ``Dropout`` layer
    calls), with the mask made from 32 random bits per element of ``generator``
    (default: torch's global generator), kept where the bits, read as a signed 32-bit
    integer, are below ``-2**31 + round((1 - rate) * 2**32)``. Autograd multiplies the
    incoming gradient by the same scaled mask.
    """
    import torch

    keep = 1.0 - float(rate)
    n = x.numel()
    bits = torch.empty((n + 1) // 2, dtype=torch.int64)
    bits.random_(-(2**63), None, generator=generator)  # full 64-bit range: two int32 draws
    threshold = -(2**31) + round(keep * 2**32)
    noise = (bits.view(torch.int32)[:n] < threshold).view(x.shape).to(x.dtype).div_(keep)
    return x * noise


def forward(chain, x, training: bool, generator=None):
    """Run the chain from :func:`_chain` on a torch tensor ``x``.

    ``x``: ``(batch, lookback, n_features)`` float32; returns ``(batch, 1)``. With
    ``training`` the ``Dropout`` layers drop (see :func:`dropout`); otherwise they pass
    their input through, as Keras's ``Dropout.call`` does.
    """
    import torch

    h = x
    for kind, layer in chain:
        if kind == "Dropout":
            if training and layer.rate >= 1:
                h = torch.zeros_like(h)
            elif training and layer.rate > 0:
                h = dropout(h, layer.rate, generator)
        elif kind == "Dense":
            h = layer.call(h)
        else:
            h = layer.call(h, training=training)
    return h


def predict(model, x, batch_size: int = 256):
    """Network output for ``x`` of shape ``(n_windows, lookback, n_features)``.

    Same layers and weights as ``Model.predict`` (inference mode, no dropout), without
    its epoch iterator; returns an ndarray ``(n_windows, n_outputs)`` float64. Raises
    ``ValueError`` (from :func:`problem`) when the model does not qualify.
    """
    import numpy as np
    import torch

    why = problem(model, training=False)
    if why is not None:
        raise ValueError(why)
    chain = _chain(model)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype="float32"))
    out = []
    with torch.inference_mode():
        for i in range(0, len(xt), int(batch_size)):
            out.append(forward(chain, xt[i : i + int(batch_size)], False))
    n_out = int(model.output_shape[-1])
    return torch.cat(out).double().numpy() if out else np.empty((0, n_out), dtype="float64")


# ------------------------------------------------------------------ optimiser
class _Stepper:
    """Applies gradients as ``model.optimizer.apply`` does (see the module docstring)."""

    def __init__(self, model):
        import torch

        self.opt = model.optimizer
        self.variables = list(model.trainable_variables)
        self.params = [v.value for v in self.variables]
        opt = self.opt
        if not opt.built:
            opt.build(self.variables)
        self.replay = False
        with tensorflow_left_unloaded():
            cfg = opt.get_config()
        plain = (
            type(opt).__name__ == "Adam"
            and type(opt).__module__.startswith("keras.src.backend.torch.optimizers")
            and not cfg.get("amsgrad")
            and cfg.get("weight_decay") is None
            and cfg.get("clipnorm") is None
            and cfg.get("clipvalue") is None
            and not cfg.get("use_ema")
            and cfg.get("loss_scale_factor") is None
            and cfg.get("gradient_accumulation_steps") is None
            and isinstance(cfg.get("learning_rate"), float)
        )
        if plain:
            try:
                idx = [opt._get_variable_index(v) for v in self.variables]
                self.m = [opt._momentums[i].value for i in idx]
                self.v = [opt._velocities[i].value for i in idx]
                self.iterations = opt.iterations.value
                self.lr = opt._learning_rate.value
                self.beta_1, self.beta_2 = float(opt.beta_1), float(opt.beta_2)
                self.epsilon = float(opt.epsilon)
                gcn = cfg.get("global_clipnorm")
                self.global_clipnorm = float(gcn) if gcn and gcn > 0 else None
                self.replay = all(
                    isinstance(t, torch.Tensor) for t in (*self.m, *self.v, self.iterations)
                )
            except (AttributeError, IndexError, KeyError, TypeError, ValueError):
                self.replay = False

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        grads = [p.grad for p in self.params]
        with torch.no_grad():
            if not self.replay or any(g is None for g in grads):
                self.opt.apply(grads, self.variables)
                return
            if self.global_clipnorm is not None:
                # base_optimizer.clip_by_global_norm, op for op
                squares = [torch.sum(torch.square(g)) for g in grads]
                norm = torch.sqrt(torch.sum(torch.stack(squares)))
                clip = self.global_clipnorm
                scale = clip * torch.minimum(1.0 / norm, torch.tensor(1.0 / clip)) + (norm - norm)
                grads = [g * scale for g in grads]
            # torch_adam.Adam._parallel_update_step, op for op
            dtype = self.params[0].dtype
            lr = self.lr.to(dtype)
            local_step = (self.iterations + 1).to(dtype)
            beta_1_power = torch.pow(torch.tensor(self.beta_1, dtype=dtype), local_step)
            beta_2_power = torch.pow(torch.tensor(self.beta_2, dtype=dtype), local_step)
            alpha = lr * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            torch._foreach_mul_(self.m, self.beta_1)
            torch._foreach_add_(self.m, grads, alpha=1 - self.beta_1)
            torch._foreach_mul_(self.v, self.beta_2)
            torch._foreach_add_(self.v, torch._foreach_mul(grads, grads), alpha=1 - self.beta_2)
            torch._foreach_add_(
                self.params,
                torch._foreach_div(
                    torch._foreach_mul(self.m, alpha),
                    torch._foreach_add(torch._foreach_sqrt(self.v), self.epsilon),
                ),
                alpha=-1,
            )
            self.iterations.add_(1)


# ------------------------------------------------------------------ callbacks
class EarlyStopping:
    """Keras 3.15's ``EarlyStopping(monitor="val_loss", patience=p,
    restore_best_weights=True)`` with ``min_delta=0``, no baseline, mode ``min``.

    ``on_epoch_end`` returns True when training should stop; ``on_train_end`` puts the
    best epoch's weights back (``model.set_weights``), also when training ran to the
    last epoch, as Keras 3 does.
    """

    def __init__(self, model, patience: int):
        self.model = model
        self.patience = int(patience)
        self.wait = 0
        self.best: float | None = None
        self.best_weights = None
        self.best_epoch = 0
        self.stopped_epoch = 0

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        if val_loss is None:
            return False
        if self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self.best is None or val_loss - 0.0 < self.best:  # np.less semantics
            self.best = val_loss
            self.best_epoch = epoch
            self.best_weights = self.model.get_weights()
            self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


@dataclass
class LoopResult:
    """Per-epoch logs (Keras ``History`` keys) of one :func:`fit`."""

    history: dict[str, list[float]] = field(default_factory=dict)
    terminated_on_nan: bool = False


def _call(reporter, name, *args):
    fn = getattr(reporter, name, None) if reporter is not None else None
    if fn is not None:
        fn(*args)


class Trainer:
    """One model's forward pass, loss and optimiser step, as Keras's ``train_step``.

    Parameters
    ----------
    model : keras.Model
        Must qualify (:func:`problem` returns ``None``).

    Raises
    ------
    ValueError
        The model does not qualify (message from :func:`problem`).
    """

    def __init__(self, model):
        import keras

        why = problem(model)
        if why is not None:
            raise ValueError(why)
        self.model = model
        self.chain = _chain(model)
        loss, metric_names = _compiled(model)
        self.loss_fn = loss if callable(loss) else keras.losses.get(loss)
        self.regularised = [v for v in model.trainable_variables if getattr(v, "regularizer", None)]
        self.accuracy = "binary_accuracy" in metric_names
        self.stepper = _Stepper(model)

    def loss(self, y_true, y_pred):
        """``Trainer.compute_loss``: the compiled loss averaged over the batch
        (``sum_over_batch_size``) plus every weight regulariser's penalty, summed in
        one reduction. ``y_true``, ``y_pred``: ``(batch, n_outputs)``; returns a 0-d
        tensor."""
        import torch

        per_window = self.loss_fn(y_true, y_pred)  # (batch,): mean over the output axis
        loss = torch.sum(per_window) / per_window.numel()
        if not self.regularised:
            return loss
        penalties = [v.regularizer(v.value) for v in self.regularised]
        return torch.sum(torch.stack([loss, *penalties]))

    def train_step(self, xb, yb, generator=None):
        """One optimiser step on a batch; returns ``(loss, y_pred)`` (detached).

        ``xb``: ``(batch, lookback, n_features)``, ``yb``: ``(batch, 1)``, float32
        torch tensors. Dropout masks come from ``generator`` (default: torch's global
        generator).
        """
        self.stepper.zero_grad()
        y_pred = forward(self.chain, xb, True, generator)
        loss = self.loss(yb, y_pred)
        loss.backward()
        self.stepper.step()
        return loss.detach(), y_pred.detach()

    def evaluate(self, x, y, batch_size: int = VAL_BATCH) -> dict[str, float]:
        """Mean loss (and ``binary_accuracy``) over ``x`` ``(n, lookback, n_features)``
        and ``y`` ``(n, 1)`` in inference mode, as ``Model.evaluate`` reports them."""
        import torch

        total, hits = 0.0, 0.0
        with torch.inference_mode():
            for i in range(0, len(x), int(batch_size)):
                yb = y[i : i + int(batch_size)]
                y_pred = forward(self.chain, x[i : i + int(batch_size)], False)
                total += float(self.loss(yb, y_pred)) * len(yb)
                if self.accuracy:
                    hits += _correct(yb, y_pred)
        out = {"loss": total / len(x)}
        if self.accuracy:  # Keras's log order: compiled metrics, then loss
            out = {"binary_accuracy": hits / len(x), **out}
        return out


def _correct(y_true, y_pred) -> float:
    """Windows with ``(y_pred > 0.5) == y_true`` (Keras's ``binary_accuracy``)."""
    import torch

    return float(torch.sum((y_pred > 0.5).to(y_true.dtype) == y_true))


def fit(
    model, x_train, y_train, x_val, y_val, settings: FitSettings, *, reporter=None
) -> LoopResult:
    """Train ``model`` as ``model.fit(x_train, y_train, validation_data=(x_val, y_val),
    epochs=epochs, batch_size=batch_size, shuffle=shuffle, callbacks=[EarlyStopping(
    "val_loss", patience, restore_best_weights=True), TerminateOnNaN()])`` would, with
    those four from ``settings``.

    Parameters
    ----------
    model : keras.Model
        Must qualify (:func:`problem` returns ``None``).
    x_train, x_val : ndarray, shape (n_windows, lookback, n_features), float32
    y_train, y_val : ndarray, shape (n_windows,) or (n_windows, n_outputs), float32
    settings : FitSettings
        Epochs, batch size, patience and shuffling
        (:class:`lstmfc.network.fit_settings.FitSettings`).
    reporter : object, optional
        :func:`lstmfc.network.models.fit`'s progress reporter (hooks ``on_train_begin(epochs,
        steps)``, ``on_epoch_begin(epoch)``, ``on_batch_end(step)`` when
        ``wants_batches``, ``on_epoch_end(epoch, logs, seconds)``, ``on_train_end()``;
        epochs 1-based).

    Returns
    -------
    LoopResult
        ``history`` has ``loss`` and ``val_loss`` (plus ``binary_accuracy`` and
        ``val_binary_accuracy`` when compiled with that metric), one value per epoch
        run; the model holds the best validation epoch's weights.

    Raises
    ------
    ValueError
        The model does not qualify (message from :func:`problem`).
    """
    import numpy as np
    import torch

    trainer = Trainer(model)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype="float32"))
    yt = torch.from_numpy(np.ascontiguousarray(y_train, dtype="float32")).reshape(len(x_train), -1)
    xv = torch.from_numpy(np.ascontiguousarray(x_val, dtype="float32"))
    yv = torch.from_numpy(np.ascontiguousarray(y_val, dtype="float32")).reshape(len(x_val), -1)
    n = len(xt)
    epochs, batch_size, shuffle = settings.epochs, settings.batch_size, settings.shuffle
    steps = int(math.ceil(n / batch_size))
    stopper = EarlyStopping(model, settings.patience)
    accuracy = trainer.accuracy

    result = LoopResult()
    history = result.history
    _call(reporter, "on_train_begin", epochs, steps)
    wants_batches = bool(getattr(reporter, "wants_batches", False))
    stop = False
    for epoch in range(epochs):
        t0 = time.perf_counter()
        _call(reporter, "on_epoch_begin", epoch + 1)
        order = torch.randperm(n) if shuffle else torch.arange(n)
        loss_sum, hits, seen = 0.0, 0.0, 0
        for step in range(steps):
            idx = order[step * batch_size : (step + 1) * batch_size]
            yb = yt[idx]
            loss, y_pred = trainer.train_step(xt[idx], yb)
            b = len(idx)
            loss_sum += float(loss) * b  # Keras's loss tracker: batch-size-weighted mean
            seen += b
            if accuracy:
                hits += _correct(yb, y_pred)
            if wants_batches:
                _call(reporter, "on_batch_end", step + 1)
            running = loss_sum / seen
            if math.isnan(running) or math.isinf(running):  # TerminateOnNaN
                result.terminated_on_nan = True
                stop = True
                break
        logs = {"loss": loss_sum / seen}
        if accuracy:  # Keras's log order: compiled metrics, then loss
            logs = {"binary_accuracy": hits / seen, **logs}
        if len(xv):
            logs.update({f"val_{k}": v for k, v in trainer.evaluate(xv, yv).items()})
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        if stopper.on_epoch_end(epoch, logs.get("val_loss")):
            stop = True
        _call(reporter, "on_epoch_end", epoch + 1, dict(logs), time.perf_counter() - t0)
        if stop:
            break
    stopper.on_train_end()
    _call(reporter, "on_train_end")
    return result
