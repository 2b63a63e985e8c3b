"""Keras recurrent networks: build, fit, predict, save and (safely) load.

Keras itself is imported through :func:`lstmfc.network.backend.keras_module` inside these
functions, so ``import lstmfc.network.models`` is cheap and ``lstmfc --help`` never pays for
it. Backend choice, seeding and threads live in :mod:`lstmfc.network.backend`; the output
layer and loss come from the forecast head (:mod:`lstmfc.heads`).

The default network is the reference stacked LSTM of the course the project grew from
(60 past sessions of one feature in, one value out)::

    Input(lookback, n_features)
    -> LSTM(128, return_sequences=True) -> Dropout(0.2)
    -> LSTM(64)                         -> Dropout(0.2)
    -> Dense(25)            (linear)
    -> the head's output    (Dense(1) linear for price, sigmoid for direction)

compiled with Adam (learning rate 1e-3; Kingma & Ba 2015) and gradient clipping by
global norm 5 (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
neural networks", ICML, eq. of the clipping rule; ``global_clipnorm`` in Keras 3: the
norm is taken over all gradients together, Keras's ``clipnorm`` would clip each
weight's gradient separately).

Initialisation: the Keras defaults, checked in the Keras 3.15 source
(``keras/src/layers/rnn/lstm.py``): ``kernel_initializer="glorot_uniform"`` (Glorot &
Bengio 2010), ``recurrent_initializer="orthogonal"``, ``bias_initializer="zeros"`` and
``unit_forget_bias=True`` (adds 1 to the forget-gate bias at initialisation,
Jozefowicz, Zaremba & Sutskever 2015). GRU and SimpleRNN use the same kernel /
recurrent / bias initialisers (GRU has no forget gate; Keras's default
``reset_after=True``). Dense layers use ``glorot_uniform`` and zero biases. lstmfc
does not override any of them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.core.limits import MAX_PARAMS
from lstmfc.heads.registry import check_path_options, head_class, make_head
from lstmfc.network import fastfit
from lstmfc.network.backend import keras_module, tensorflow_left_unloaded
from lstmfc.network.fit_settings import FitSettings

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
"""``--cell`` choices -> Keras layer class (LSTM: Hochreiter & Schmidhuber 1997; GRU: Cho
et al. 2014; SimpleRNN: Elman 1990)."""


#: Weight matrices per recurrent layer: LSTM 4 gates, GRU 3, SimpleRNN 1 (Keras 3).
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
_FLOAT32_MAX = 3.4028234663852886e38


def estimate_params(cell: str, units, dense: int, n_features: int, n_outputs: int = 1) -> int:
    """Trainable weights of the network :func:`build_model` would build.

    Per recurrent layer with ``u`` units on ``i`` inputs: ``g * (u * (i + u) + u)``
    with ``g`` gates (LSTM 4, SimpleRNN 1), and ``3 * (u * (i + u) + 2 * u)`` for
    Keras's GRU (``reset_after=True``: two bias vectors); then ``d * (i + 1)`` for the
    hidden Dense layer and ``n_outputs * (i + 1)`` for the output (Keras 3 layer
    definitions, ``keras/src/layers/rnn/{lstm,gru,simple_rnn}.py``; checked against
    ``Model.count_params()`` in ``tests/test_cli_robust.py``).

    Returns
    -------
    int
        The count (exact for the layers above; no weights for Dropout).
    """
    g = _GATES[cell]
    total, i = 0, int(n_features)
    for u in units:
        u = int(u)
        total += g * (u * (i + u) + u) + (3 * u if cell == "gru" else 0)
        i = u
    if dense > 0:
        total += dense * (i + 1)
        i = dense
    return total + n_outputs * (i + 1)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and optimiser settings of one network (all stored in the manifest).

    Every field is given by the caller: the defaults live in
    :class:`lstmfc.workflows.train.TrainOptions` (their one home), whose
    :meth:`~lstmfc.workflows.train.TrainOptions.spec` builds this.

    Attributes
    ----------
    lookback : int
        Time steps per input window.
    n_features : int
        Features per time step.
    head : str
        A forecast head of :data:`lstmfc.heads.registry.HEADS`; it decides the output layer and
        the loss (``price``: one linear output, MSE; ``direction``: one sigmoid
        output, binary cross-entropy, read as P(close rises)).
    cell : {"lstm", "gru", "rnn"}
        Recurrent layer class (``LSTM``, ``GRU``, ``SimpleRNN``).
    units : tuple of int
        Units per stacked recurrent layer; every layer but the last returns
        sequences so that the next recurrent layer sees every step.
    dropout : float
        Rate of the ``Dropout`` layer after each recurrent layer, in [0, 1).
    dense : int
        Units of the hidden linear ``Dense`` layer before the output;
        0 leaves it out.
    l2 : float
        L2 penalty on every kernel (input kernels of the recurrent layers and Dense
        kernels); 0 disables it.
    learning_rate : float
        Adam learning rate (Kingma & Ba 2015).
    clipnorm : float
        Global-norm gradient clipping threshold (Pascanu et al. 2013); 0
        disables it.
    steps : int
        Sessions in the forecast path (:mod:`lstmfc.heads.paths`); 1 is a single forecast.
    strategy : {"mimo", "seq2seq", "recursive"}
        How a path is forecast (:data:`lstmfc.heads.registry.STRATEGIES`): one network with one
        output per step (MIMO; Ben Taieb et al. 2012), an encoder-decoder
        (:func:`build_model` "seq2seq"), or the one-step network fed its own forecasts
        (the network itself has one output).
    attention : bool
        Attention over the recurrent states: for ``seq2seq`` the decoder attends to the
        encoder's states (Luong et al. 2015, dot-product ``Attention``); otherwise the
        last recurrent layer's states are pooled by learned attention weights instead of
        taking the last state (Bahdanau et al. 2015 style additive scores).
    """

    lookback: int
    n_features: int
    head: str
    cell: str
    units: tuple[int, ...]
    dropout: float
    dense: int
    l2: float
    learning_rate: float
    clipnorm: float
    steps: int = 1
    strategy: str = "mimo"
    attention: bool = False

    def __post_init__(self):
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))
        self.validate()

    def validate(self) -> None:
        """Check every field, and the size of the network before it is built.

        Raises
        ------
        UsageError
            Naming the first invalid option (one line); a network of more than
            :data:`MAX_PARAMS` weights (:func:`estimate_params`) names the estimate.
        """
        head_class(self.head)  # UsageError naming the valid heads
        if self.cell not in CELLS:
            raise UsageError(f"--cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if not self.units or any(u < 1 or u > 4096 for u in self.units):
            raise UsageError(
                f"--units must be 1 to 8 positive layer sizes (e.g. 128,64), got {self.units}"
            )
        if len(self.units) > 8:
            raise UsageError(f"--units allows at most 8 stacked layers, got {len(self.units)}")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise UsageError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.dense < 0 or self.dense > 4096:
            raise UsageError(f"--dense must be 0 (none) to 4096 units, got {self.dense}")
        if not (self.l2 >= 0.0 and math.isfinite(self.l2)):
            raise UsageError(f"--l2 must be >= 0, got {self.l2}")
        if not (self.learning_rate > 0.0 and math.isfinite(self.learning_rate)):
            raise UsageError(f"--lr must be > 0, got {self.learning_rate}")
        if not (self.clipnorm >= 0.0 and math.isfinite(self.clipnorm)):
            raise UsageError(f"--clipnorm must be >= 0 (0 = no clipping), got {self.clipnorm}")
        if self.lookback < 1 or self.n_features < 1:
            raise UsageError(
                f"lookback and n_features must be >= 1, got {self.lookback}, {self.n_features}"
            )

        check_path_options(self.steps, self.strategy, self.head)
        n = estimate_params(
            self.cell, self.units, self.dense, self.n_features, head_class(self.head).n_outputs
        )
        if n > MAX_PARAMS:
            arch = ",".join(str(u) for u in self.units)
            raise UsageError(
                f"--units {arch} --dense {self.dense} would build a network of {n:,} weights "
                f"({self.cell}, {self.n_features} input feature"
                f"{'s' if self.n_features != 1 else ''}), above the cap of {MAX_PARAMS:,}; "
                "use fewer or smaller layers"
            )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``units`` as a list)."""
        d = asdict(self)
        d["units"] = list(self.units)
        return d


def build_model(spec: ModelSpec, head=None):
    """Build and compile the network described by ``spec``.

    Parameters
    ----------
    spec : ModelSpec
    head : lstmfc.heads.Head, optional
        The head instance (default: ``make_head(spec.head)`` configured for
        ``spec.steps`` and ``spec.strategy``); it supplies the output
        layer (:meth:`~lstmfc.heads.Head.build_output`), the loss and the compiled
        metrics.

    Returns
    -------
    keras.Model
        Functional model, input ``(batch, lookback, n_features)`` float32, output
        ``(batch, head.n_outputs)`` in the head's training units (e.g. a scaled price
        target, or P(up)). Compiled with Adam(``learning_rate``,
        ``global_clipnorm=clipnorm``) and the head's loss.
    """
    if head is None:  # the spec's head, configured for the spec's path
        head = make_head(spec.head).configure_path(spec.steps, spec.strategy)
    keras = keras_module()
    layers = keras.layers
    reg = keras.regularizers.L2(spec.l2) if spec.l2 > 0 else None

    inputs = keras.Input(shape=(spec.lookback, spec.n_features), name="window")
    if spec.strategy == "seq2seq" and spec.steps > 1:
        outputs = _seq2seq(keras, spec, head, inputs, reg)
    else:
        x = _recurrent_stack(keras, spec, inputs, reg, sequences=spec.attention)
        if spec.attention:
            x = _attention_pool(keras, x, reg)
        if spec.dense > 0:
            x = layers.Dense(spec.dense, kernel_regularizer=reg, name="dense")(x)
        outputs = head.build_output(keras, x, reg)
    model = keras.Model(inputs, outputs, name=f"lstmfc_{spec.cell}_{head.name}")
    loss = head.make_loss(keras)

    # A clip norm above float32's largest value never acts, and Keras would compute its
    # scale as inf * 0 = NaN (clip * min(1 / norm, 1 / clip) in float32): off, like 0.
    clip = spec.clipnorm if 0 < spec.clipnorm <= _FLOAT32_MAX else None
    optimizer = keras.optimizers.Adam(learning_rate=spec.learning_rate, global_clipnorm=clip)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(head.compile_metrics))
    return model


def _recurrent_stack(keras, spec: ModelSpec, x, reg, *, sequences: bool, prefix: str = ""):
    """The stacked recurrent layers (each followed by Dropout). The last one returns its
    final state, or every step's state when ``sequences`` (for attention)."""
    rnn_cls = getattr(keras.layers, CELLS[spec.cell])
    for i, n in enumerate(spec.units):
        last = i == len(spec.units) - 1
        x = rnn_cls(
            n,
            return_sequences=sequences or not last,
            kernel_regularizer=reg,
            name=f"{prefix}{spec.cell}_{i + 1}",
        )(x)
        if spec.dropout > 0:
            x = keras.layers.Dropout(spec.dropout, name=f"{prefix}dropout_{i + 1}")(x)
    return x


def _attention_pool(keras, seq, reg, name: str = "attention"):
    """Attention pooling over time: ``softmax_t(v' tanh(W h_t)) . h_t``.

    Additive scores (Bahdanau, Cho & Bengio 2015, "Neural machine translation by jointly
    learning to align and translate", ICLR) computed by two Dense layers, normalised over
    the time axis, and the weighted sum of the states (``Dot`` over time): the network
    learns which sessions of the window matter instead of keeping only the last state.
    Built from standard Keras layers only, so a bundle holds no custom code.
    """
    layers = keras.layers
    units = int(seq.shape[-1])
    score = layers.Dense(units, activation="tanh", kernel_regularizer=reg, name=f"{name}_w")(seq)
    score = layers.Dense(1, use_bias=False, name=f"{name}_v")(score)  # (batch, L, 1)
    weights = layers.Softmax(axis=1, name=f"{name}_weights")(score)
    pooled = layers.Dot(axes=1, name=f"{name}_pool")([weights, seq])  # (batch, 1, units)
    return layers.Reshape((units,), name=f"{name}_vector")(pooled)


def _seq2seq(keras, spec: ModelSpec, head, inputs, reg):
    """Encoder-decoder for a path of ``spec.steps`` sessions (Sutskever, Vinyals & Le
    2014, "Sequence to sequence learning with neural networks", NeurIPS).

    The encoder (the stacked recurrent layers) summarises the window into its last state
    (or, with attention, an attention-pooled state); ``RepeatVector(K)`` hands it to a
    decoder recurrent layer that returns one state per step; with ``attention`` each
    decoder state also attends to every encoder state (Luong, Pham & Manning 2015,
    dot-product ``Attention``) and the context is concatenated to it; a
    ``TimeDistributed`` Dense (the head's activation) gives one output per step,
    reshaped to ``(batch, K)``.
    """
    layers = keras.layers
    k = int(spec.steps)
    enc = _recurrent_stack(keras, spec, inputs, reg, sequences=spec.attention, prefix="enc_")
    summary = _attention_pool(keras, enc, reg, "enc_attention") if spec.attention else enc
    rnn_cls = getattr(layers, CELLS[spec.cell])
    units = int(spec.units[-1])
    dec = layers.RepeatVector(k, name="repeat")(summary)
    dec = rnn_cls(units, return_sequences=True, kernel_regularizer=reg, name=f"dec_{spec.cell}")(
        dec
    )
    if spec.dropout > 0:
        dec = layers.Dropout(spec.dropout, name="dec_dropout")(dec)
    if spec.attention:
        context = layers.Attention(name="dec_attention")([dec, enc])
        dec = layers.Concatenate(axis=-1, name="dec_context")([dec, context])
    if spec.dense > 0:
        dec = layers.TimeDistributed(
            layers.Dense(spec.dense, kernel_regularizer=reg), name="dense"
        )(dec)
    out = layers.TimeDistributed(
        layers.Dense(1, activation=head.activation, kernel_regularizer=reg), name=head.name
    )(dec)
    return layers.Reshape((k,), name=f"{head.name}_path")(out)


@dataclass
class FitResult:
    """What :func:`fit` learnt about the run.

    Attributes
    ----------
    history : dict of str -> list of float
        Per-epoch ``loss`` and ``val_loss`` (plus ``binary_accuracy`` /
        ``val_binary_accuracy`` for the direction head), in the loss's units
        (scaled target for MSE, nats for binary cross-entropy).
    epochs_run : int
    best_epoch : int
        1-based epoch whose weights were kept (lowest ``val_loss``).
    best_val_loss : float
    stopped_early : bool
    train_seconds : float
        Wall-clock seconds spent in ``model.fit``.
    windows_per_second : float
        Training windows processed per second (``epochs_run * n_train / train_seconds``).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_loss: float = float("nan")
    stopped_early: bool = False
    train_seconds: float = 0.0
    windows_per_second: float = 0.0


def _bridge_callback(reporter, epochs: int, steps: int):
    """Wrap a plain-Python progress ``reporter`` into a Keras callback.

    ``reporter`` may define ``on_train_begin(epochs, steps)``, ``on_epoch_begin(epoch)``,
    ``on_batch_end(step)``, ``on_epoch_end(epoch, logs, seconds)`` and
    ``on_train_end()``; epochs are 1-based. Batch hooks are only wired when the
    reporter sets ``wants_batches = True`` (each batch hook makes Keras hand the
    batch logs to Python, which costs a little speed).
    """
    keras = keras_module()

    def call(name, *args):
        fn = getattr(reporter, name, None)
        if fn is not None:
            fn(*args)

    class _Bridge(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            call("on_train_begin", epochs, steps)

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()
            call("on_epoch_begin", epoch + 1)

        def on_epoch_end(self, epoch, logs=None):
            clean = {k: float(v) for k, v in (logs or {}).items()}
            call("on_epoch_end", epoch + 1, clean, time.perf_counter() - self._t0)

        def on_train_end(self, logs=None):
            call("on_train_end")

    if getattr(reporter, "wants_batches", False):

        class _BatchBridge(_Bridge):
            def on_train_batch_end(self, batch, logs=None):
                call("on_batch_end", batch + 1)

        return _BatchBridge()
    return _Bridge()


def fit(
    model,
    x_train,
    y_train,
    x_val,
    y_val,
    *,
    settings: FitSettings,
    reporter=None,
) -> FitResult:
    """Train ``model`` with early stopping on the validation windows.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_model`.
    x_train, x_val : ndarray, shape (n_windows, lookback, n_features), float32
    y_train, y_val : ndarray, shape (n_windows,), float32
        Targets in the head's training units (scaled price target or 0/1 direction).
    settings : FitSettings
        Epochs (an upper bound), batch size, early-stopping patience and shuffling of
        the training windows (:class:`lstmfc.network.fit_settings.FitSettings`).
        ``EarlyStopping(monitor="val_loss", patience=settings.patience,
        restore_best_weights=True)`` keeps the weights of the best validation epoch;
        ``TerminateOnNaN`` stops at once if the loss becomes NaN.
    reporter : object, optional
        Progress reporter, see :func:`_bridge_callback`.

    Which loop runs: on the torch backend, :func:`lstmfc.network.fastfit.fit` (the same
    arithmetic, callbacks and history as ``Model.fit`` without Keras's per-batch
    Python overhead) whenever :func:`lstmfc.network.fastfit.problem` accepts the model;
    otherwise, and on every other backend, Keras's ``Model.fit``.

    Returns
    -------
    FitResult
    """
    keras = keras_module()
    import numpy as np

    x_train = np.ascontiguousarray(x_train, dtype="float32")
    y_train = np.ascontiguousarray(y_train, dtype="float32")
    x_val = np.ascontiguousarray(x_val, dtype="float32")
    y_val = np.ascontiguousarray(y_val, dtype="float32")
    epochs, batch_size = settings.epochs, settings.batch_size

    t0 = time.perf_counter()
    if fastfit.problem(model) is None:
        loop = fastfit.fit(model, x_train, y_train, x_val, y_val, settings, reporter=reporter)
        raw_history = loop.history
    else:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True
        )
        callbacks = [stopper, keras.callbacks.TerminateOnNaN()]
        steps = int(math.ceil(len(x_train) / batch_size))
        if reporter is not None:
            callbacks.append(_bridge_callback(reporter, epochs, steps))
        raw_history = model.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=epochs,
            batch_size=batch_size,
            shuffle=settings.shuffle,
            callbacks=callbacks,
            verbose=0,
        ).history
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in raw_history.items()}
    val = history.get("val_loss", [])
    finite = [v for v in val if math.isfinite(v)]
    best_i = int(np.nanargmin(val)) if finite else len(val) - 1
    n_epochs = len(history.get("loss", []))
    return FitResult(
        history=history,
        epochs_run=n_epochs,
        best_epoch=best_i + 1,
        best_val_loss=float(val[best_i]) if val else float("nan"),
        stopped_early=n_epochs < epochs,
        train_seconds=seconds,
        windows_per_second=n_epochs * len(x_train) / seconds if seconds > 0 else 0.0,
    )


def predict(model, x, batch_size: int = 256):
    """Run the network on windows.

    Parameters
    ----------
    model : keras.Model
    x : ndarray, shape (n_windows, lookback, n_features)

    Returns
    -------
    ndarray, shape (n_windows, n_outputs), float64
        Raw network output in the head's training units (e.g. a scaled price target,
        or P(up)); the head's :meth:`~lstmfc.heads.Head.decode` turns it into a forecast.
    """
    import numpy as np

    x = np.asarray(x, dtype="float32")
    n_out = int(model.output_shape[-1])
    if len(x) == 0:
        return np.empty((0, n_out), dtype="float64")
    keras_module()
    if fastfit.problem(model, training=False) is None:  # torch: without predict()'s loop
        return fastfit.predict(model, x, batch_size=batch_size)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype="float64").reshape(len(x), n_out)


def save_model(model, path: str | os.PathLike) -> None:
    """Save ``model`` in the Keras 3 ``.keras`` zip format at ``path`` (must end in .keras).

    The file carries the architecture and the weights but no compile configuration
    (optimizer, loss, metrics): inference loads it with ``compile=False`` anyway, and
    a head's own loss (:mod:`lstmfc.heads.losses`) then never has to be deserialised, so the
    class allowlist of :func:`lstmfc.bundles.archive.check_keras_archive` stays closed.
    """
    import json
    import zipfile

    path = Path(path)
    with tensorflow_left_unloaded():
        model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    if config.pop("compile_config", None) is None:
        return
    members["config.json"] = json.dumps(config).encode("utf-8")
    tmp = path.with_name(path.name + ".strip")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    os.replace(tmp, path)


def load_model_file(path: str | os.PathLike):
    """Load a ``.keras`` file with ``safe_mode=True`` and ``compile=False``.

    ``safe_mode=True`` makes Keras refuse to deserialise Python lambdas (a ``Lambda``
    layer's function would be arbitrary code) and ``compile=False`` skips the
    optimiser/loss config, which inference does not need. Callers must already have
    checked that ``path`` is a regular file inside the bundle (see
    :func:`lstmfc.bundles.bundle.load_bundle`).

    Raises
    ------
    ArtifactError
        With Keras's reason squeezed onto one line, never its traceback.
    """
    keras = keras_module()
    path = Path(path)
    try:
        with tensorflow_left_unloaded():
            return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError/... on bad files
        reason = " ".join(str(exc).split())
        if len(reason) > 300:
            reason = reason[:297] + "..."
        raise ArtifactError(
            f"refused {path}: Keras could not load it safely ({type(exc).__name__}: {reason})"
        ) from None


def weights_bytes(model) -> bytes:
    """All weights concatenated as raw bytes (for bit-identity checks and hashing)."""
    import numpy as np

    return b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())
