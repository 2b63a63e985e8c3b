"""``lstmfc train``: load the prepared windows, build the network, fit it, save a bundle.

Orchestration only: Keras lives in :mod:`lstmfc.models`, bundles in
:mod:`lstmfc.artifacts`, windows in :mod:`lstmfc.windows`. This module imports none
of Keras, TensorFlow, pandas or NumPy at import time.

Defaults (DESIGN.md, seeds):

* network: seed 004's reference LSTM(128) -> Dropout(0.2) -> LSTM(64) -> Dropout(0.2)
  -> Dense(25) -> Dense(1) (:mod:`lstmfc.models`);
* Adam, learning rate 1e-3, gradient clipping by global norm 5 (seed 000 s.4, s.4.3);
* batch 32 (Keras's default), at most 30 epochs with early stopping on the
  validation loss (patience 5, best weights restored): on the SP500 sample the
  reference model stops after 6-10 epochs (seed 1), ~10 s each on 2 CPU cores;
* price head target: the next log return, standardised with the training targets'
  mean and std, turned back into a price as ``close_t * exp(r)``
  (:mod:`lstmfc.artifacts`, "Targets"); ``--price-target level`` reproduces the
  seed's min-max scaled price level.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import sys
import time
from typing import IO, Any

# re-exported for evaluate / predict
from lstmfc.artifacts import (  # noqa: F401  (public helpers)
    load_bundle,
    predict_logreturns,
    predict_prices,
    predict_proba,
)
from lstmfc.config import Workspace, normalize_ticker
from lstmfc.errors import DataError, UsageError

DEFAULTS: dict[str, Any] = {
    "head": "price",
    "cell": "lstm",
    "units": (128, 64),
    "dropout": 0.2,
    "dense": 25,
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-3,
    "clipnorm": 5.0,
    "l2": 0.0,
    "patience": 5,
    "price_target": "logret",
}


def parse_units(text: str | Any) -> tuple[int, ...]:
    """Parse ``--units`` (``"128,64"``) into layer sizes.

    Raises
    ------
    UsageError
        If an entry is not a positive integer, e.g. ``--units abc``.
    """
    if not isinstance(text, str):
        try:
            out = tuple(int(u) for u in text)
        except (TypeError, ValueError):
            raise UsageError(f"--units must be positive integers, got {text!r}") from None
    else:
        parts = [p.strip() for p in text.split(",")]
        if not all(p.isdigit() for p in parts):
            raise UsageError(
                f"--units must be comma-separated positive integers (e.g. 128,64), got {text!r}"
            )
        out = tuple(int(p) for p in parts)
    if not out or len(out) > 8 or any(u < 1 or u > 4096 for u in out):
        raise UsageError(f"--units must be 1 to 8 layer sizes between 1 and 4096, got {text!r}")
    return out


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UsageError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return value


# ------------------------------------------------------------------ progress
def _epoch_line(label: str, epoch: int, epochs: int, logs: dict[str, float], seconds: float):
    parts = [f"{k} {v:.5g}" for k, v in logs.items() if k != "learning_rate"]
    prefix = f"{label} " if label else ""
    return f"{prefix}epoch {epoch}/{epochs}  {'  '.join(parts)}  {seconds:.1f} s"


class LineReporter:
    """One plain line per epoch on ``stream`` (for cron logs and pipes).

    Example line: ``SP500 epoch 3/30  loss 0.01234  val_loss 0.015  4.1 s``.
    """

    wants_batches = False

    def __init__(self, stream: IO[str] | None = None, label: str = ""):
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.epochs = 0

    def on_train_begin(self, epochs: int, steps: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        self.stream.write(_epoch_line(self.label, epoch, self.epochs, logs, seconds) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class RichReporter:
    """A rich progress display for an interactive terminal.

    Two live bars (epochs; batches of the current epoch with time remaining) and,
    scrolling above them, the same one line per finished epoch as
    :class:`LineReporter`.
    """

    wants_batches = True

    def __init__(self, console=None, label: str = ""):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(stderr=True)
        self.label = label
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._epoch_task = None
        self._batch_task = None
        self._started = False
        self.epochs = 0

    def on_train_begin(self, epochs: int, steps: int) -> None:
        self.epochs = epochs
        self.progress.start()
        self._started = True
        self._epoch_task = self.progress.add_task(f"{self.label} epochs".strip(), total=epochs)
        self._batch_task = self.progress.add_task("  batches", total=steps)

    def on_epoch_begin(self, epoch: int) -> None:
        self.progress.reset(self._batch_task, description=f"  epoch {epoch} batches")

    def on_batch_end(self, step: int) -> None:
        self.progress.update(self._batch_task, completed=step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        self.progress.update(self._epoch_task, completed=epoch)
        self.progress.console.print(
            _epoch_line(self.label, epoch, self.epochs, logs, seconds), highlight=False
        )

    def on_train_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self.progress.stop()
            self._started = False


def make_reporter(stream: IO[str] | None = None, label: str = ""):
    """Rich display if ``stream`` (default stderr) is a terminal, else one line per epoch."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from rich.console import Console

        return RichReporter(Console(file=stream), label=label)
    return LineReporter(stream, label=label)


# ------------------------------------------------------------------ training
def train(
    ws: Workspace,
    ticker: str,
    *,
    head: str = DEFAULTS["head"],
    cell: str = DEFAULTS["cell"],
    units: str | tuple[int, ...] = DEFAULTS["units"],
    dropout: float = DEFAULTS["dropout"],
    dense: int = DEFAULTS["dense"],
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    clipnorm: float = DEFAULTS["clipnorm"],
    l2: float = DEFAULTS["l2"],
    patience: int = DEFAULTS["patience"],
    seed: int | None = None,
    deterministic: bool = False,
    price_target: str = DEFAULTS["price_target"],
    reporter=None,
    set_latest: bool = True,
) -> dict[str, Any]:
    """Train one network on ``data/prepared/<TICKER>/`` and save its bundle.

    Parameters
    ----------
    ws : Workspace
    ticker : str
    head : {"price", "direction"}
        ``price``: linear output, MSE on the scaled price target; ``direction``:
        sigmoid output, binary cross-entropy on ``target_direction`` (P(up)).
    cell : {"lstm", "gru", "rnn"}
    units : str or tuple of int
        Recurrent layer sizes, e.g. ``"128,64"``.
    dropout : float
        Dropout rate after each recurrent layer, [0, 1).
    dense : int
        Hidden Dense units before the output; 0 = none.
    epochs : int
        Maximum epochs (1-10000).
    batch_size : int
    lr : float
        Adam learning rate.
    clipnorm : float
        Global-norm gradient clipping; 0 = off.
    l2 : float
        L2 penalty on all kernels; 0 = off.
    patience : int
        Early-stopping patience in epochs (on ``val_loss``; best weights restored).
    seed : int, optional
        Seeds Python, NumPy, TensorFlow and Keras; drawn at random (and recorded in
        the manifest) when not given.
    deterministic : bool
        Also enable TensorFlow op determinism (bit-identical weights for the same
        seed on the same CPU; slower).
    price_target : {"logret", "level"}
        Price head only; see :mod:`lstmfc.artifacts` "Targets".
    reporter : object, optional
        Progress reporter (:func:`make_reporter`); ``None`` trains silently.
    set_latest : bool
        Point ``models/<TICKER>/latest`` at the new run.

    Returns
    -------
    dict
        ``ticker``, ``run_id``, ``path`` (bundle folder), ``head``, ``cell``,
        ``price_target``, ``hyperparameters``, ``seed``, ``deterministic``,
        ``n_train``, ``n_val``, ``epochs_run``, ``best_epoch``, ``best_val_loss``,
        ``stopped_early``, ``train_seconds``, ``windows_per_second``, ``val``
        (price: ``rmse``, ``mae``, ``naive_rmse`` in currency; direction:
        ``accuracy`` and ``majority_accuracy``, fractions), ``warnings``.

    Raises
    ------
    UsageError
        An invalid option (exit 2).
    ArtifactError
        No prepared data ("run `lstmfc prepare TICKER`"), or it is corrupt.
    DataError
        Training diverged (non-finite loss); nothing is saved.
    KeyboardInterrupt
        Propagated untouched; no bundle is written and ``latest`` is unchanged.
    """
    from lstmfc import artifacts, models
    from lstmfc.windows import load_prepared

    t = normalize_ticker(ticker)
    units_t = parse_units(units)
    epochs = _check_int("--epochs", epochs, 1, 10000)
    batch_size = _check_int("--batch-size", batch_size, 1, 1 << 16)
    patience = _check_int("--patience", patience, 0, 10000)
    if seed is None:
        seed = secrets.randbelow(2**31)
    seed = _check_int("--seed", seed, 0, 2**32 - 1)
    if price_target not in artifacts.PRICE_TARGETS:
        raise UsageError(f"--price-target must be logret or level, not {price_target!r}")
    for name, v in (("--dropout", dropout), ("--lr", lr), ("--clipnorm", clipnorm), ("--l2", l2)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise UsageError(f"{name} must be a number, got {v!r}")
    dense = _check_int("--dense", dense, 0, 4096)

    spec = models.ModelSpec(  # validated before any data is read
        lookback=1,
        n_features=1,
        head=head,
        cell=cell,
        units=units_t,
        dropout=float(dropout),
        dense=dense,
        l2=float(l2),
        learning_rate=float(lr),
        clipnorm=float(clipnorm),
    )

    prep = load_prepared(ws, t)
    spec = dataclasses.replace(spec, lookback=prep.lookback, n_features=prep.n_features)
    warnings: list[str] = []
    if prep.is_stale(ws):
        warnings.append(
            f"data/raw/{t}.parquet changed since `lstmfc prepare {t}`; "
            "training on the prepared (older) data"
        )

    import numpy as np

    tr_targets, va_targets = prep.split_targets("train"), prep.split_targets("val")
    scaling = artifacts.fit_target_scaling(head, price_target, tr_targets)
    x_tr = np.ascontiguousarray(prep.windows("train"), dtype="float32")
    x_va = np.ascontiguousarray(prep.windows("val"), dtype="float32")
    y_tr = artifacts.encode_target(scaling, tr_targets)
    y_va = artifacts.encode_target(scaling, va_targets)
    for name, y in (("training", y_tr), ("validation", y_va)):
        if not np.all(np.isfinite(y)):
            raise DataError(f"{t}: the {name} targets contain NaN; re-run `lstmfc prepare {t}`")

    models.set_seed(seed, deterministic)
    model = models.build_model(spec)
    if reporter is not None and hasattr(reporter, "label") and not reporter.label:
        reporter.label = t
    try:
        fitres = models.fit(
            model,
            x_tr,
            y_tr,
            x_va,
            y_va,
            epochs=epochs,
            batch_size=batch_size,
            patience=patience,
            shuffle=True,
            reporter=reporter,
        )
    finally:
        if reporter is not None and hasattr(reporter, "close"):
            reporter.close()
    if not math.isfinite(fitres.best_val_loss):
        raise DataError(
            f"{t}: training diverged (validation loss is not finite after "
            f"{fitres.epochs_run} epoch{'s' if fitres.epochs_run != 1 else ''}); "
            "try a smaller --lr; nothing was saved"
        )

    val = _val_metrics(head, scaling, models.predict(model, x_va), va_targets, tr_targets)
    hyper = {
        **spec.to_json(),
        "epochs": epochs,
        "batch_size": batch_size,
        "patience": patience,
        "optimizer": "adam",
        "loss": models.LOSSES[head],
        "shuffle_train": True,
        "early_stopping": {"monitor": "val_loss", "restore_best_weights": True},
    }
    from lstmfc import __version__

    manifest = {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "lstmfc_version": __version__,
        "head": head,
        "cell": cell,
        "price_target": price_target if head == "price" else None,
        "hyperparameters": hyper,
        "seed": seed,
        "deterministic": bool(deterministic),
        "target": scaling,
        "windows": {"train": len(x_tr), "val": len(x_va)},
        "prepare": prep.meta,
        "training": {
            "epochs_run": fitres.epochs_run,
            "best_epoch": fitres.best_epoch,
            "best_val_loss": fitres.best_val_loss,
            "stopped_early": fitres.stopped_early,
            "train_seconds": round(fitres.train_seconds, 3),
            "windows_per_second": round(fitres.windows_per_second, 1),
            "val": val,
            "history": fitres.history,
        },
        "versions": models.package_versions(),
    }
    run_dir = artifacts.save_bundle(ws, t, model, manifest, set_latest=set_latest)
    try:
        rel = run_dir.relative_to(ws.home).as_posix()
    except ValueError:
        rel = str(run_dir)
    return {
        "ticker": t,
        "run_id": run_dir.name,
        "path": rel,
        "latest": bool(set_latest),
        "head": head,
        "cell": cell,
        "price_target": manifest["price_target"],
        "hyperparameters": hyper,
        "seed": seed,
        "deterministic": bool(deterministic),
        "n_train": len(x_tr),
        "n_val": len(x_va),
        "epochs_run": fitres.epochs_run,
        "best_epoch": fitres.best_epoch,
        "best_val_loss": fitres.best_val_loss,
        "stopped_early": fitres.stopped_early,
        "train_seconds": round(fitres.train_seconds, 3),
        "windows_per_second": round(fitres.windows_per_second, 1),
        "val": val,
        "warnings": warnings,
    }


def _val_metrics(head, scaling, raw, va_targets, tr_targets) -> dict[str, float]:
    """Validation-split scores of the kept (best) weights, in plain units.

    Price head: RMSE and MAE of the predicted price (currency) and, for scale, the
    RMSE of the random-walk (naive) forecast ``price_{t+h} = close_t``. Direction
    head: directional accuracy at threshold 0.5 and the accuracy of always
    predicting the training split's majority direction.
    """
    import numpy as np

    from lstmfc.artifacts import decode_prices

    if head == "price":
        close_t = va_targets["close"].to_numpy(dtype="float64")
        actual = va_targets["target_price"].to_numpy(dtype="float64")
        pred = decode_prices(scaling, raw, close_t)
        err = pred - actual
        return {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "naive_rmse": float(np.sqrt(np.mean((close_t - actual) ** 2))),
        }
    y = va_targets["target_direction"].to_numpy(dtype="int64")
    up_share = float(np.mean(tr_targets["target_direction"].to_numpy(dtype="int64")))
    majority = 1 if up_share >= 0.5 else 0
    return {
        "accuracy": float(np.mean((raw > 0.5).astype("int64") == y)),
        "majority_accuracy": float(np.mean(y == majority)),
    }
