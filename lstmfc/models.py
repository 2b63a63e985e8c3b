"""Keras recurrent networks: build, fit, predict, save and (safely) load.

This is the only module of lstmfc that imports Keras and its backends (TensorFlow,
PyTorch, JAX; plus :mod:`lstmfc.fastrnn` and :mod:`lstmfc.fastfit`, which it calls),
and it does so lazily inside its functions (:func:`keras_module`), so
``import lstmfc.models`` is cheap and ``lstmfc --help`` never pays for them. The
backend is chosen by :func:`backend_choice` (default: torch with the fused CPU
recurrent kernels of :mod:`lstmfc.fastrnn`, trained by the lean loop of
:mod:`lstmfc.fastfit`).

The default network is the reference model of seed 004 ("Module 3 - Building an LSTM
for Stock Prediction", Step 2)::

    Input(lookback, n_features)
    -> LSTM(128, return_sequences=True) -> Dropout(0.2)
    -> LSTM(64)                         -> Dropout(0.2)
    -> Dense(25)            (linear, as in the seed)
    -> Dense(1)             (linear for the price head, sigmoid for the direction head)

compiled with Adam (learning rate 1e-3, seed 000 s.4 "typical hyperparameters") and
gradient clipping by global norm 5 (seed 000 s.4.3, eq. 40, ``global_clipnorm`` in
Keras 3: the norm is taken over all gradients together, which is eq. 40's
``||g||``; Keras's ``clipnorm`` would clip each weight's gradient separately).

Initialisation (seed 000 s.10.1 asks for Glorot weights and a forget-gate bias of 1):
these are the Keras defaults, checked in the Keras 3.15 source
(``keras/src/layers/rnn/lstm.py``): ``kernel_initializer="glorot_uniform"``,
``recurrent_initializer="orthogonal"``, ``bias_initializer="zeros"`` and
``unit_forget_bias=True`` (adds 1 to the forget-gate bias at initialisation,
Jozefowicz et al. 2015). GRU and SimpleRNN use the same kernel / recurrent / bias
initialisers (GRU has no forget gate; Keras's default ``reset_after=True``). Dense
layers use ``glorot_uniform`` and zero biases. lstmfc does not override any of them.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lstmfc.errors import ArtifactError, UsageError

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
"""``--cell`` choices -> Keras layer class (seeds 001/002 compare all three)."""

HEADS = ("price", "direction")
"""``--head`` choices: ``price`` (linear output, MSE) and ``direction`` (sigmoid, BCE)."""

LOSSES = {"price": "mean_squared_error", "direction": "binary_crossentropy"}


@contextlib.contextmanager
def _native_stderr_captured():
    """Send file descriptor 2 to a temporary file while TensorFlow loads.

    TensorFlow's C++ libraries print start-up notices ("Could not find cuda drivers
    ...") straight to fd 2 before any log level applies, which would clutter cron
    logs and ``--json`` runs. They are dropped on success and replayed if the import
    fails. ``LSTMFC_DEBUG=1`` leaves stderr alone.
    """
    if os.environ.get("LSTMFC_DEBUG", "") not in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            os.write(2, tmp.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


BACKENDS = ("torch", "tensorflow", "jax")
"""Keras 3 backends lstmfc can run on (``LSTMFC_BACKEND``; see :func:`backend_choice`)."""


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def backend_choice() -> str:
    """The Keras backend lstmfc will load, decided before Keras is first imported.

    ``LSTMFC_BACKEND`` (``torch``, ``tensorflow`` or ``jax``) wins; else an explicit
    ``KERAS_BACKEND``; else ``torch`` when PyTorch is installed (with the fused CPU
    recurrent kernels of :mod:`lstmfc.fastrnn` it trains the reference network 2-3x
    as fast as TensorFlow on a CPU; docs/readme-speed.md), else
    ``tensorflow``.

    Raises
    ------
    UsageError
        ``LSTMFC_BACKEND`` names an unknown or uninstalled backend.
    """
    want = os.environ.get("LSTMFC_BACKEND", "").strip().lower()
    if want:
        if want not in BACKENDS:
            raise UsageError(f"LSTMFC_BACKEND must be one of {', '.join(BACKENDS)}, not {want!r}")
        if not _installed(want):
            raise UsageError(
                f"LSTMFC_BACKEND={want} but the {want} package is not installed "
                f"(pip install {want}, or unset LSTMFC_BACKEND)"
            )
        return want
    explicit = os.environ.get("KERAS_BACKEND", "").strip().lower()
    if explicit:
        return explicit
    return "torch" if _installed("torch") else "tensorflow"


def select_backend(name: str | None) -> str:
    """Pick the backend for this process (``--backend``); must run before Keras loads.

    ``None`` or ``""`` keeps :func:`backend_choice`'s default.

    Raises
    ------
    UsageError
        Unknown / uninstalled backend, or Keras already loaded with another one.
    """
    if name:
        name = name.strip().lower()
        if name not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {name!r}")
        if "keras" in sys.modules:
            current = sys.modules["keras"].backend.backend()
            if current != name:
                raise UsageError(
                    f"--backend {name}: Keras is already loaded with the {current} backend "
                    "in this process"
                )
        os.environ["LSTMFC_BACKEND"] = name
    return backend_choice()


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def keras_module():
    """Import and return :mod:`keras` on the backend of :func:`backend_choice`.

    * ``KERAS_BACKEND`` is set from :func:`backend_choice` before the first import
      (Keras reads it once per process);
    * torch backend: ``torch.set_num_threads`` to the usable cores and the fused CPU
      recurrent kernels of :mod:`lstmfc.fastrnn` are switched on;
    * tensorflow backend: TensorFlow's C++ start-up chatter is silenced
      (``TF_CPP_MIN_LOG_LEVEL=3`` unless already set).

    Kept in a function so that importing lstmfc never imports Keras, TensorFlow or torch.

    Raises
    ------
    UsageError
        ``LSTMFC_BACKEND`` is invalid (:func:`backend_choice`).
    """
    keras = sys.modules.get("keras")
    if keras is not None and _KERAS_READY.get("done"):
        return keras
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend_choice()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_captured():
        import keras

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA probing happens here, also on fd 2
            tf.get_logger().setLevel("ERROR")  # e.g. retracing notices when loading many models
    if backend == "torch":
        import torch

        if torch.get_num_threads() != _cpu_count():
            torch.set_num_threads(_cpu_count())
        from lstmfc import fastrnn

        fastrnn.install()
    _KERAS_READY["done"] = True
    return keras


_KERAS_READY: dict[str, bool] = {}


def backend_name() -> str:
    """The Keras backend in use (loads Keras)."""
    return keras_module().backend.backend()


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and optimiser settings of one network (all stored in the manifest).

    Attributes
    ----------
    lookback : int
        Time steps per input window (seed 004: 60 trading days).
    n_features : int
        Features per time step.
    head : {"price", "direction"}
        ``price``: one linear output trained with MSE; ``direction``: one sigmoid
        output trained with binary cross-entropy, read as P(close rises).
    cell : {"lstm", "gru", "rnn"}
        Recurrent layer class (``LSTM``, ``GRU``, ``SimpleRNN``).
    units : tuple of int
        Units per stacked recurrent layer; every layer but the last returns
        sequences (seed 004, "Why return_sequences=True"). Default ``(128, 64)``.
    dropout : float
        Rate of the ``Dropout`` layer after each recurrent layer, in [0, 1). Default 0.2.
    dense : int
        Units of the hidden linear ``Dense`` layer before the output (seed 004: 25);
        0 leaves it out.
    l2 : float
        L2 penalty on every kernel (input kernels of the recurrent layers and Dense
        kernels); 0 disables it.
    learning_rate : float
        Adam learning rate (seed 000 s.4: 1e-3).
    clipnorm : float
        Global-norm gradient clipping threshold (seed 000 s.4.3: 5); 0 disables it.
    """

    lookback: int
    n_features: int
    head: str = "price"
    cell: str = "lstm"
    units: tuple[int, ...] = (128, 64)
    dropout: float = 0.2
    dense: int = 25
    l2: float = 0.0
    learning_rate: float = 1e-3
    clipnorm: float = 5.0

    def __post_init__(self):
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))
        self.validate()

    def validate(self) -> None:
        """Check every field.

        Raises
        ------
        UsageError
            Naming the first invalid option (one line).
        """
        if self.head not in HEADS:
            raise UsageError(f"--head must be one of {', '.join(HEADS)}, not {self.head!r}")
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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``units`` as a list)."""
        d = asdict(self)
        d["units"] = list(self.units)
        return d


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``).

    With ``deterministic`` the same seed on the same CPU gives bit-identical weights:

    * torch backend: ``torch.use_deterministic_algorithms(True)`` (switched back off
      by a later call with ``deterministic=False``; PyTorch docs, "Reproducibility");
    * tensorflow backend: ``tf.config.experimental.enable_op_determinism()`` (cannot
      be switched off again in the same process; TensorFlow docs, "Determinism").

    On the torch and JAX backends TensorFlow is seeded only if something already
    imported it (:func:`tensorflow_left_unloaded`).
    """
    keras = keras_module()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(int(seed))
    else:
        with tensorflow_left_unloaded():
            keras.utils.set_random_seed(int(seed))
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(bool(deterministic))
    elif deterministic and backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def tensorflow_left_unloaded():
    """Keep Keras from importing TensorFlow only to ask whether it is installed.

    Keras 3.15 tests ``tf.available`` (a lazy module that imports TensorFlow) in
    ``keras.utils.set_random_seed`` and whenever it serialises a config
    (``get_compile_config``, ``Model.save``; ``keras/src/saving/serialization_lib.py``)
    to seed TensorFlow or to recognise TensorFlow objects. On the torch and JAX
    backends that import costs ~470 MiB of memory and seconds of start-up for
    nothing: while TensorFlow is not imported no TensorFlow object can exist and
    nothing of ours draws from its generator. Inside this block the lazy module reads
    as unavailable if TensorFlow is not imported yet; outside it nothing changes.
    """
    try:
        from keras.src.utils import module_utils
    except ImportError:  # private layout changed: leave Keras as it is
        yield
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if (
        "tensorflow" in sys.modules
        or lazy is None
        or getattr(lazy, "module", 1) is not None
        or getattr(lazy, "_available", 1) is not None
    ):
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None


def set_threads(n: int | None) -> None:
    """Use ``n`` CPU threads for the backend's intra-op work (``None``: all cores).

    torch: ``torch.set_num_threads``; tensorflow: intra/inter-op pools (only
    effective before TensorFlow runs its first op; later calls are ignored).
    """
    keras = keras_module()
    n = _cpu_count() if not n else max(1, int(n))
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(n)
    elif backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # TF already initialised in this process: keep its pools
            pass


def build_model(spec: ModelSpec):
    """Build and compile the network described by ``spec``.

    Parameters
    ----------
    spec : ModelSpec

    Returns
    -------
    keras.Model
        Functional model, input ``(batch, lookback, n_features)`` float32, output
        ``(batch, 1)``: a scaled price target for ``head="price"`` or P(up) for
        ``head="direction"``. Compiled with Adam(``learning_rate``,
        ``global_clipnorm=clipnorm``) and MSE or binary cross-entropy.
    """
    keras = keras_module()
    layers = keras.layers
    reg = keras.regularizers.L2(spec.l2) if spec.l2 > 0 else None
    rnn_cls = getattr(layers, CELLS[spec.cell])

    inputs = keras.Input(shape=(spec.lookback, spec.n_features), name="window")
    x = inputs
    for i, n in enumerate(spec.units):
        last = i == len(spec.units) - 1
        x = rnn_cls(
            n, return_sequences=not last, kernel_regularizer=reg, name=f"{spec.cell}_{i + 1}"
        )(x)
        if spec.dropout > 0:
            x = layers.Dropout(spec.dropout, name=f"dropout_{i + 1}")(x)
    if spec.dense > 0:
        x = layers.Dense(spec.dense, kernel_regularizer=reg, name="dense")(x)
    activation = "sigmoid" if spec.head == "direction" else None
    outputs = layers.Dense(1, activation=activation, kernel_regularizer=reg, name=spec.head)(x)
    model = keras.Model(inputs, outputs, name=f"lstmfc_{spec.cell}_{spec.head}")

    optimizer = keras.optimizers.Adam(
        learning_rate=spec.learning_rate,
        global_clipnorm=spec.clipnorm if spec.clipnorm > 0 else None,
    )
    metrics = ["binary_accuracy"] if spec.head == "direction" else []
    model.compile(optimizer=optimizer, loss=LOSSES[spec.head], metrics=metrics)
    return model


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
    epochs: int = 30,
    batch_size: int = 32,
    patience: int = 5,
    shuffle: bool = True,
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
    epochs : int
        Upper bound on epochs.
    batch_size : int
    patience : int
        ``EarlyStopping(monitor="val_loss", patience=patience,
        restore_best_weights=True)``: the weights of the best validation epoch are
        kept (Keras 3 restores them at the end of training even when it did not stop
        early). ``TerminateOnNaN`` stops at once if the loss becomes NaN.
    shuffle : bool
        Shuffle the order of *training* windows each epoch. Every window keeps its own
        past and its own target, and validation windows stay in the later period, so
        shuffling inside the training split does not leak future information; it only
        decorrelates consecutive mini-batches (standard SGD practice).
    reporter : object, optional
        Progress reporter, see :func:`_bridge_callback`.

    Which loop runs: on the torch backend, :func:`lstmfc.fastfit.fit` (the same
    arithmetic, callbacks and history as ``Model.fit`` without Keras's per-batch
    Python overhead) whenever :func:`lstmfc.fastfit.problem` accepts the model;
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
    from lstmfc import fastfit

    t0 = time.perf_counter()
    if fastfit.problem(model) is None:
        loop = fastfit.fit(
            model,
            x_train,
            y_train,
            x_val,
            y_val,
            epochs=int(epochs),
            batch_size=int(batch_size),
            patience=int(patience),
            shuffle=bool(shuffle),
            reporter=reporter,
        )
        raw_history = loop.history
    else:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=int(patience), restore_best_weights=True
        )
        callbacks = [stopper, keras.callbacks.TerminateOnNaN()]
        steps = int(math.ceil(len(x_train) / batch_size))
        if reporter is not None:
            callbacks.append(_bridge_callback(reporter, epochs, steps))
        raw_history = model.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=int(epochs),
            batch_size=int(batch_size),
            shuffle=bool(shuffle),
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
    ndarray, shape (n_windows,), float64
        Raw network output: scaled price target (price head) or P(up) (direction head).
    """
    import numpy as np

    x = np.asarray(x, dtype="float32")
    if len(x) == 0:
        return np.empty(0, dtype="float64")
    keras_module()
    from lstmfc import fastfit

    if fastfit.problem(model, training=False) is None:  # torch: without predict()'s loop
        return fastfit.predict(model, x, batch_size=batch_size)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype="float64").reshape(-1)


def save_model(model, path: str | os.PathLike) -> None:
    """Save ``model`` in the Keras 3 ``.keras`` zip format at ``path`` (must end in .keras)."""
    with tensorflow_left_unloaded():
        model.save(str(path))


def load_model_file(path: str | os.PathLike):
    """Load a ``.keras`` file with ``safe_mode=True`` and ``compile=False``.

    ``safe_mode=True`` makes Keras refuse to deserialise Python lambdas (a ``Lambda``
    layer's function would be arbitrary code) and ``compile=False`` skips the
    optimiser/loss config, which inference does not need. Callers must already have
    checked that ``path`` is a regular file inside the bundle (see
    :func:`lstmfc.artifacts.load_bundle`).

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


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on (recorded in the manifest)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    keras = sys.modules.get("keras")
    if keras is not None:
        out["keras_backend"] = keras.backend.backend()
        if out["keras_backend"] == "torch":
            from lstmfc import fastrnn

            out["fused_cpu_rnn"] = fastrnn.status()
        from lstmfc import fastfit

        loop = fastfit.status()
        out["training_loop"] = "lstmfc.fastfit" if loop == "active" else f"Model.fit ({loop})"
    for name in (
        "lstmfc",
        "keras",
        "tensorflow",
        "torch",
        "jax",
        "numpy",
        "pandas",
        "scikit-learn",
        "h5py",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
