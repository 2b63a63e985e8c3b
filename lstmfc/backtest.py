"""Walk-forward backtests of the LSTM against the baselines, on one machine or a Dask cluster.

A single 70/15/15 split scores one period. A walk-forward backtest re-fits the scaler
and the network before each of several consecutive test blocks, on data before that
block only, and concatenates the blocks' forecasts into one out-of-sample series per
ticker (seed 004: "Walk-forward validation is the gold standard"; "Implement
walk-forward validation to detect drift over time").

Rows and windows
----------------
As in :mod:`lstmfc.windows`: rows ``r = 0 .. N-1`` are the feature rows left after the
warm-up; the window ending at row ``e`` covers rows ``e-L+1 .. e`` and its target is
row ``e+h`` (lookback ``L``, horizon ``h``). Window end rows run ``L-1 .. N-1-h``
(``W = N - L - h + 1`` windows). Backtest options count **windows** (one per trading
day), so "days" in ``--step``, ``--test-size`` and ``--retrain-every`` are trading days.

Folds (:func:`plan_folds`)
--------------------------
The last ``T`` windows are the test region: ``T = --test-size`` or, by default,
``floor(0.30 * W)``. It is cut into consecutive test blocks (folds):

* ``--folds K`` alone: ``K`` blocks as equal as possible; the first ``T mod K`` blocks
  get one window more (``numpy.array_split``);
* ``--step S`` alone: blocks of ``S`` windows from the start of the test region, the
  last one possibly shorter;
* ``--folds K --step S``: ``K`` blocks of ``S`` windows ending at the last window
  (``T = K * S``);
* neither: 5 folds.

Fold ``k`` tests the windows ending at rows ``a_k .. b_k`` (first target row
``a_k + h``). Its model is fit on the windows ending at ``s_k .. a_k - h``: their
targets (rows ``<= a_k``) are all known at the close of ``a_k``, the first forecast
origin, so none overlaps the test period (the ``h - 1`` windows in between are the
horizon gap, "purging"). ``s_k = L - 1`` for ``--window expanding``;
``--window rolling`` keeps the last ``--train-size`` windows (default: as many as
fold 1 has). The last 15 % (``--val-fraction``) of those windows are the validation
windows of early stopping; the MinMax scaler is fit on the rows that feed the other
(training) windows, ``s_k - L + 1 .. t_k`` with ``t_k`` the last training window end
row: the arithmetic of ``lstmfc prepare`` (:func:`lstmfc.windows.scaler_fit_rows`),
applied per fold. The target scaling (:func:`lstmfc.artifacts.fit_target_scaling`)
and the baselines (:mod:`lstmfc.baselines`) are fit on the same training windows.
With ``--retrain-every D`` a fold re-uses the previous fit (model, scaler, target
scaling and baselines) unless at least ``D`` trading days passed since the fold that
made it.

Units of work
-------------
One unit = one ticker x one fit (x one fold unless ``--retrain-every`` lets later
folds re-use it). The driver reads the stored series, builds the features
(:func:`lstmfc.features.build_features`) and ships each unit the UNSCALED feature
rows and closes up to its last test window's end row only, as NumPy arrays: a unit
never receives a row after its last forecast origin, and workers need no shared file
system. :func:`run_unit` is a pure function of its input (seed included): it fits the
scaler, builds the windows, trains a network with :mod:`lstmfc.models` (the same
builder and fit loop as ``lstmfc train``), predicts its test windows and returns plain
Python/NumPy values. Each unit seeds Python, NumPy and TensorFlow
(``keras.utils.set_random_seed``) and enables TensorFlow op determinism, so a unit
gives bit-identical weights and forecasts whichever process or machine runs it: the
``local`` and ``dask`` executors produce identical numbers.

Executors (:func:`execute_units`)
---------------------------------
* ``local``: ``--jobs 1`` runs the units one after another in this process;
  ``--jobs N`` runs them in ``N`` worker processes with joblib's ``loky`` backend.
  Each worker limits TensorFlow to ``max(1, cores // N)`` threads
  (``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` / ``OMP_NUM_THREADS`` set
  before TensorFlow is imported, joblib's ``inner_max_num_threads`` for BLAS/OpenMP)
  so the machine's cores are not oversubscribed.
* ``dask``: one task per unit is submitted to a ``dask.distributed`` scheduler
  (``--scheduler tcp://HOST:PORT`` or ``DASK_SCHEDULER_ADDRESS``; without either a
  ``LocalCluster`` of ``--jobs`` single-threaded worker processes is started on
  loopback) with ``retries=2``; when a worker dies its tasks are re-run elsewhere by
  the scheduler. Results are gathered by the driver, which alone writes the
  workspace.

Output
------
``data/backtests/<TICKER>/<backtest_id>/`` (built in a temporary folder and renamed
into place, so it is complete or absent): ``backtest.json`` (the ticker's report,
below), ``forecasts.csv`` (one row per test window: fold, fit, forecast origin date,
target date, close, realised value and every model's forecast) and, unless
``--no-save-models``, ``models/fit-NN.keras`` (each fit's network; scaler and target
scaling are in ``backtest.json``, sha256 too).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from lstmfc.config import Workspace, normalize_ticker
from lstmfc.errors import ArtifactError, DataError, LstmfcError, TemporaryFailure, UsageError

__all__ = [
    "BacktestConfig",
    "Fit",
    "Fold",
    "FoldPlan",
    "TickerJob",
    "backtest",
    "execute_units",
    "fold_arrays",
    "make_progress",
    "plan_folds",
    "prepare_ticker",
    "run_unit",
    "score_ticker",
]

DEFAULT_FOLDS = 5
DEFAULT_TEST_FRACTION = 0.30
DEFAULT_VAL_FRACTION = 0.15
MIN_TRAIN_WINDOWS = 2
BACKTESTS_DIR = "backtests"
BACKTEST_FILE = "backtest.json"
FORECASTS_FILE = "forecasts.csv"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT = "15s"  # to reach a remote scheduler
EXECUTORS = ("local", "dask")
WINDOWS = ("expanding", "rolling")
_EPS = 1e-9


# ======================================================================= planning
@dataclass(frozen=True)
class Fit:
    """One model fit: the windows it is trained on, in feature-frame rows.

    Attributes
    ----------
    index : int
        0-based fit number.
    first_end : int
        End row of the first training window (``s``).
    train_last : int
        End row of the last training (non-validation) window (``t``).
    last_end : int
        End row of the last validation window, ``a - h`` for the fold that made it.
    folds : tuple of int
        Folds (0-based) that are forecast with this fit.
    """

    index: int
    first_end: int
    train_last: int
    last_end: int
    folds: tuple[int, ...]

    @property
    def n_train(self) -> int:
        return self.train_last - self.first_end + 1

    @property
    def n_val(self) -> int:
        return self.last_end - self.train_last


@dataclass(frozen=True)
class Fold:
    """One test block: windows ending at rows ``test_first .. test_last``.

    Attributes
    ----------
    index : int
        0-based fold number (shown 1-based).
    test_first, test_last : int
        End rows of the first and last test window (targets ``+ horizon``).
    fit : int
        Index of the :class:`Fit` whose model forecasts this block.
    """

    index: int
    test_first: int
    test_last: int
    fit: int

    @property
    def n(self) -> int:
        return self.test_last - self.test_first + 1


@dataclass(frozen=True)
class FoldPlan:
    """The walk-forward plan of one series (see the module docstring).

    Attributes
    ----------
    n_rows, lookback, horizon : int
        ``N``, ``L``, ``h``.
    window : {"expanding", "rolling"}
    train_size : int or None
        Windows per fit (training + validation) for ``rolling``; None for expanding.
    val_fraction : float
    retrain_every : int or None
        Trading days between refits; None refits before every fold.
    folds : tuple of Fold
    fits : tuple of Fit
    """

    n_rows: int
    lookback: int
    horizon: int
    window: str
    train_size: int | None
    val_fraction: float
    retrain_every: int | None
    folds: tuple[Fold, ...]
    fits: tuple[Fit, ...]

    @property
    def n_windows(self) -> int:
        return self.n_rows - self.lookback - self.horizon + 1

    @property
    def test_size(self) -> int:
        return sum(f.n for f in self.folds)


def _pos_int(name: str, value: Any, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _test_blocks(
    n_windows: int, first_end: int, folds: int | None, step: int | None, test_size: int | None
) -> list[tuple[int, int]]:
    """Test blocks as (first end row, last end row), in order."""
    if folds is not None and step is not None:
        if test_size is not None:
            raise UsageError("give at most two of --folds, --step and --test-size")
        total = folds * step
    else:
        total = (
            test_size
            if test_size is not None
            else math.floor(n_windows * DEFAULT_TEST_FRACTION + _EPS)
        )
    if total >= n_windows:
        raise DataError(
            f"the test period ({total} windows) leaves no training windows out of "
            f"{n_windows}; use fewer --folds or a smaller --step/--test-size"
        )
    if total < 1:
        raise DataError(f"{n_windows} windows leave no test period; use a longer history")
    start = first_end + n_windows - total
    if step is not None:
        k = folds if folds is not None else math.ceil(total / step)
        return [
            (start + i * step, min(start + (i + 1) * step, start + total) - 1) for i in range(k)
        ]
    k = folds if folds is not None else DEFAULT_FOLDS
    if total < k:
        raise DataError(f"{total} test windows cannot make {k} folds; use fewer --folds")
    base, extra = divmod(total, k)
    blocks, a = [], start
    for i in range(k):
        size = base + (1 if i < extra else 0)
        blocks.append((a, a + size - 1))
        a += size
    return blocks


def plan_folds(
    n_rows: int,
    lookback: int,
    horizon: int = 1,
    *,
    folds: int | None = None,
    step: int | None = None,
    test_size: int | None = None,
    window: str = "expanding",
    train_size: int | None = None,
    retrain_every: int | None = None,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> FoldPlan:
    """Plan the folds and fits of a walk-forward backtest (module docstring, "Folds").

    Parameters
    ----------
    n_rows : int
        ``N``, feature rows (after the warm-up).
    lookback, horizon : int
        ``L`` and ``h``.
    folds : int, optional
        ``K`` test blocks.
    step : int, optional
        Windows (trading days) per test block.
    test_size : int, optional
        Windows in the test region (default ``floor(0.30 * W)``).
    window : {"expanding", "rolling"}
    train_size : int, optional
        Rolling window: training + validation windows per fit (default: fold 1's).
    retrain_every : int, optional
        Refit only when at least this many trading days passed since the last fit.
    val_fraction : float
        Share of each fit's windows kept for early stopping (the last ones).

    Returns
    -------
    FoldPlan

    Raises
    ------
    UsageError
        Invalid option values or combinations.
    DataError
        The series is too short for the plan ("N windows ..."), naming the option to
        change.
    """
    lookback = _pos_int("lookback", lookback)
    horizon = _pos_int("horizon", horizon)
    folds = _pos_int("--folds", folds)
    step = _pos_int("--step", step)
    test_size = _pos_int("--test-size", test_size)
    train_size = _pos_int("--train-size", train_size, minimum=MIN_TRAIN_WINDOWS + 1)
    retrain_every = _pos_int("--retrain-every", retrain_every)
    if window not in WINDOWS:
        raise UsageError(f"--window must be expanding or rolling, not {window!r}")
    if train_size is not None and window != "rolling":
        raise UsageError("--train-size applies to --window rolling only")
    if not (isinstance(val_fraction, float | int) and 0.0 < val_fraction < 1.0):
        raise UsageError(f"--val-fraction must be in (0, 1), got {val_fraction!r}")
    n_windows = n_rows - lookback - horizon + 1
    if n_windows < 2:
        raise DataError(
            f"{n_rows} feature rows make {max(n_windows, 0)} windows of lookback {lookback} "
            f"and horizon {horizon}; need a longer history"
        )
    first_end = lookback - 1
    blocks = _test_blocks(n_windows, first_end, folds, step, test_size)

    fits: list[Fit] = []
    fold_list: list[Fold] = []
    fit_origin = None  # test_first of the fold that made the current fit
    size = train_size
    for k, (a, b) in enumerate(blocks):
        refit = (
            not fits or retrain_every is None or a - fit_origin >= retrain_every  # type: ignore[operator]
        )
        if refit:
            last_end = a - horizon
            if window == "rolling" and size is None:
                size = last_end - first_end + 1
            s = first_end if window == "expanding" else max(first_end, last_end - size + 1)
            n_fit = last_end - s + 1
            n_train = math.floor(n_fit * (1.0 - val_fraction) + _EPS)
            n_val = n_fit - n_train
            if n_train < MIN_TRAIN_WINDOWS or n_val < 1:
                raise DataError(
                    f"fold {k + 1} has {max(n_fit, 0)} windows before its test block "
                    f"({max(n_train, 0)} training, {max(n_val, 0)} validation); need at "
                    f"least {MIN_TRAIN_WINDOWS} and 1: use fewer --folds, a smaller "
                    "--test-size or a longer history"
                )
            fits.append(Fit(len(fits), s, s + n_train - 1, last_end, ()))
            fit_origin = a
        fold_list.append(Fold(k, a, b, len(fits) - 1))
    fits = [
        Fit(
            f.index,
            f.first_end,
            f.train_last,
            f.last_end,
            tuple(fd.index for fd in fold_list if fd.fit == f.index),
        )
        for f in fits
    ]
    return FoldPlan(
        n_rows=n_rows,
        lookback=lookback,
        horizon=horizon,
        window=window,
        train_size=size if window == "rolling" else None,
        val_fraction=float(val_fraction),
        retrain_every=retrain_every,
        folds=tuple(fold_list),
        fits=tuple(fits),
    )


def scaler_rows(fit_first_end: int, fit_train_last: int, lookback: int) -> tuple[int, int]:
    """Feature rows the fold's MinMax scaler is fit on (inclusive).

    The rows feeding the training windows, ``first_end - L + 1 .. train_last``, as
    :func:`lstmfc.windows.scaler_fit_rows` does for ``prepare``. (The no-future test
    monkeypatches this to show that a leaky scaler is caught.)
    """
    return fit_first_end - lookback + 1, fit_train_last


# ======================================================================= the unit
_UNIT_LOCK = threading.Lock()
"""Units seed process-wide state (Keras, NumPy, TF): one at a time per process."""


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@dataclass
class FoldArrays:
    """Everything a unit feeds the network, built from its shipped rows only.

    Attributes
    ----------
    scaler : lstmfc.windows.MinMaxParams
        Fit on :func:`scaler_rows`.
    scaler_rows : tuple of int
    target : dict
        Target scaling (:func:`lstmfc.artifacts.fit_target_scaling`), training windows only.
    x_train, x_val, x_test : ndarray, shape (n, lookback, n_features), float32
    y_train, y_val : ndarray, shape (n,), float32
        Encoded targets.
    close_test : ndarray, shape (n_test,), float64
        Close at each test window's end row (currency).
    """

    scaler: Any
    scaler_rows: tuple[int, int]
    target: dict[str, Any]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    close_test: np.ndarray

    def fingerprints(self) -> dict[str, str]:
        """sha256 of every array (bit-identity checks across processes)."""
        return {
            name: _sha(getattr(self, name))
            for name in ("x_train", "y_train", "x_val", "y_val", "x_test")
        }


def fold_arrays(unit: dict[str, Any]) -> FoldArrays:
    """Scale the unit's rows and cut its training, validation and test windows.

    Parameters
    ----------
    unit : dict
        A unit (see :func:`run_unit`): ``x`` unscaled features ``(rows, n_features)``,
        ``close`` ``(rows,)`` currency, both ending at the last test window's end row;
        ``first_end``, ``train_last``, ``last_end``, ``test_first``, ``test_last``,
        ``lookback``, ``horizon``, ``feature_names``, ``model`` (``head``,
        ``price_target``).

    Returns
    -------
    FoldArrays

    Raises
    ------
    DataError
        A feature with zero range in the scaler's rows, or constant training targets.
    """
    import pandas as pd

    from lstmfc import artifacts
    from lstmfc.features import build_targets
    from lstmfc.windows import MinMaxParams

    L, h = int(unit["lookback"]), int(unit["horizon"])
    x = np.asarray(unit["x"], dtype="float64")
    close = np.asarray(unit["close"], dtype="float64")
    names = list(unit["feature_names"])
    s, t, v = int(unit["first_end"]), int(unit["train_last"]), int(unit["last_end"])
    a, b = int(unit["test_first"]), int(unit["test_last"])
    if x.shape[0] != b + 1 or close.shape != (b + 1,):
        raise ValueError(f"unit rows: expected {b + 1}, got {x.shape[0]} and {close.shape}")
    lo, hi = scaler_rows(s, t, L)
    try:
        scaler = MinMaxParams.fit(x[lo : hi + 1], names)
    except DataError:
        fit = x[lo : hi + 1]
        j = int(np.argmin(fit.max(axis=0) - fit.min(axis=0)))
        raise DataError(
            f"fit {int(unit['fit']) + 1}: feature {names[j]!r} has zero range in its "
            f"training rows; remove it from --features"
        ) from None
    scaled = np.ascontiguousarray(scaler.transform(x).astype("float32"))
    view = np.lib.stride_tricks.sliding_window_view(scaled, L, axis=0)  # [k]: rows k..k+L-1

    def windows(e0: int, e1: int) -> np.ndarray:
        return np.ascontiguousarray(view[e0 - L + 1 : e1 - L + 2].transpose(0, 2, 1))

    targets = build_targets(pd.Series(close), h)
    head, price_target = unit["model"]["head"], unit["model"]["price_target"]
    tr, va = targets.iloc[s : t + 1], targets.iloc[t + 1 : v + 1]
    try:
        scaling = artifacts.fit_target_scaling(head, price_target, tr)
    except ArtifactError as exc:
        raise DataError(f"fit {int(unit['fit']) + 1}: {exc}") from None
    y_tr, y_va = artifacts.encode_target(scaling, tr), artifacts.encode_target(scaling, va)
    if not (np.all(np.isfinite(y_tr)) and np.all(np.isfinite(y_va))):
        raise DataError(f"fit {int(unit['fit']) + 1}: training targets are not finite")
    return FoldArrays(
        scaler=scaler,
        scaler_rows=(lo, hi),
        target=scaling,
        x_train=windows(s, t),
        y_train=y_tr,
        x_val=windows(t + 1, v),
        y_val=y_va,
        x_test=windows(a, b),
        close_test=close[a : b + 1].copy(),
    )


def _limit_threads(n: int | None) -> None:
    """Cap the backend's (and OpenMP's) CPU threads in this worker process.

    The environment variables only take effect before the backend starts its pools;
    :func:`lstmfc.models.set_threads` sets torch's or TensorFlow's thread count.
    """
    if not n:
        return
    n = max(1, int(n))
    if "tensorflow" not in sys.modules and "torch" not in sys.modules:
        for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ[var] = str(n)
    from lstmfc.models import set_threads

    set_threads(n)


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Fit one fold's scaler and network and forecast its test windows (pure function).

    Parameters
    ----------
    unit : dict
        ``ticker``, ``fit`` (0-based), ``folds``, ``lookback``, ``horizon``,
        ``feature_names``, ``x`` (unscaled features, ``(rows, n_features)`` float64),
        ``close`` (``(rows,)`` float64, currency), ``first_end``, ``train_last``,
        ``last_end``, ``test_first``, ``test_last`` (end rows), ``model`` (``head``,
        ``cell``, ``units``, ``dropout``, ``dense``, ``l2``, ``lr``, ``clipnorm``,
        ``epochs``, ``batch_size``, ``patience``, ``price_target``), ``seed``,
        ``threads`` (TensorFlow threads or None), ``save_model`` (bool).

    Returns
    -------
    dict
        ``ok`` True, ``ticker``, ``fit``, ``raw`` (network output per test window,
        ``(n_test,)`` float64), ``forecast`` (price at ``t+h`` in currency, or P(up)),
        ``scaler`` (JSON + ``fit_rows``), ``target`` (target scaling), ``n_train``,
        ``n_val``, ``epochs_run``, ``best_epoch``, ``best_val_loss``,
        ``stopped_early``, ``train_seconds``, ``seconds``, ``fingerprints`` (sha256
        of the arrays and of the weights), ``model_bytes`` (``.keras`` file bytes or
        None); or ``ok`` False and ``error`` (one line) for a data problem.

    Raises
    ------
    Exception
        Anything but :class:`lstmfc.errors.LstmfcError` propagates, so that Dask's
        ``retries`` apply to it.
    """
    t0 = time.perf_counter()
    try:
        with _UNIT_LOCK:
            out = _run_unit_locked(unit)
    except LstmfcError as exc:
        return {
            "ok": False,
            "ticker": unit.get("ticker"),
            "fit": unit.get("fit"),
            "error": str(exc),
            "seconds": time.perf_counter() - t0,
        }
    out["seconds"] = time.perf_counter() - t0
    return out


@contextlib.contextmanager
def _private_python_rng(seed: int):
    """Give Keras's default-seed draws a private ``random.Random(seed)`` while building.

    Keras draws the seed of every initializer and dropout layer created without an
    explicit seed from Python's process-global ``random`` module
    (``keras.src.random.seed_generator.make_default_seed``). On a Dask worker the
    event-loop thread draws from that same global generator (timer jitter, work
    stealing) while the unit runs in an executor thread, so the weights would depend
    on timing. A private generator seeded with the unit's seed makes them a function
    of the seed alone. (A seed argument to ``lstmfc.models.build_model`` that sets
    every initializer's seed would make this unnecessary.)
    """
    import random

    try:
        from keras.src.random import seed_generator as sg
    except ImportError:  # pragma: no cover - other Keras layouts: keep the global one
        yield
        return
    saved = sg.python_random
    sg.python_random = random.Random(seed)
    try:
        yield
    finally:
        sg.python_random = saved


def _run_unit_locked(unit: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    from lstmfc import artifacts, models

    _limit_threads(unit.get("threads"))
    arrays = fold_arrays(unit)
    m = unit["model"]
    spec = models.ModelSpec(
        lookback=int(unit["lookback"]),
        n_features=len(unit["feature_names"]),
        head=m["head"],
        cell=m["cell"],
        units=tuple(m["units"]),
        dropout=float(m["dropout"]),
        dense=int(m["dense"]),
        l2=float(m["l2"]),
        learning_rate=float(m["lr"]),
        clipnorm=float(m["clipnorm"]),
    )
    keras = models.keras_module()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # "N out of the last M calls ... retracing": noise
    keras.backend.clear_session()
    models.set_seed(int(unit["seed"]), deterministic=True)
    with _private_python_rng(int(unit["seed"])):
        model = models.build_model(spec)
    res = models.fit(
        model,
        arrays.x_train,
        arrays.y_train,
        arrays.x_val,
        arrays.y_val,
        epochs=int(m["epochs"]),
        batch_size=int(m["batch_size"]),
        patience=int(m["patience"]),
        shuffle=True,
    )
    fit_no = int(unit["fit"]) + 1
    if not math.isfinite(res.best_val_loss):
        raise DataError(
            f"fit {fit_no}: training diverged (validation loss is not finite after "
            f"{res.epochs_run} epochs); try a smaller --lr"
        )
    raw = models.predict(model, arrays.x_test)
    if m["head"] == "price":
        forecast = artifacts.decode_prices(arrays.target, raw, arrays.close_test)
    else:
        forecast = raw.copy()
    if not np.all(np.isfinite(forecast)):
        raise DataError(f"fit {fit_no}: the network's forecasts are not finite; try a smaller --lr")
    model_bytes = None
    if unit.get("save_model"):
        with tempfile.TemporaryDirectory(prefix="lstmfc-unit-") as tmp:
            path = Path(tmp) / "model.keras"
            models.save_model(model, path)
            model_bytes = path.read_bytes()
    fp = arrays.fingerprints()
    fp["weights"] = hashlib.sha256(models.weights_bytes(model)).hexdigest()
    out = {
        "ok": True,
        "ticker": unit["ticker"],
        "fit": int(unit["fit"]),
        "raw": raw,
        "forecast": np.asarray(forecast, dtype="float64"),
        "scaler": {**arrays.scaler.to_json(), "fit_rows": list(arrays.scaler_rows)},
        "target": arrays.target,
        "n_train": len(arrays.x_train),
        "n_val": len(arrays.x_val),
        "epochs_run": res.epochs_run,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "stopped_early": res.stopped_early,
        "train_seconds": res.train_seconds,
        "fingerprints": fp,
        "model_bytes": model_bytes,
    }
    keras.backend.clear_session()
    return out


def run_unit_safe(unit: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_unit` that also turns unexpected exceptions into a failed result.

    Used by the local executor, which has no retries: one broken unit must not stop
    the others.
    """
    try:
        return run_unit(unit)
    except Exception as exc:  # reported per ticker, never a traceback
        return {
            "ok": False,
            "ticker": unit.get("ticker"),
            "fit": unit.get("fit"),
            "error": f"internal error: {type(exc).__name__}: {exc}",
        }


# ======================================================================= executors
def _indexed(fn: Callable, i: int, unit: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return i, fn(unit)


def local_threads(jobs: int) -> int:
    """TensorFlow threads per local worker: ``max(1, cores // jobs)``."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _run_local(units, jobs, on_result, fn):
    results: list[dict[str, Any] | None] = [None] * len(units)

    def done(i, res):
        results[i] = res
        if on_result is not None:
            on_result(i, res)

    if jobs == 1 or len(units) <= 1:
        for i, u in enumerate(units):
            done(i, fn(u))
        return results
    from joblib import Parallel, delayed, parallel_config

    threads = local_threads(jobs)
    shipped = [{**u, "threads": threads} for u in units]
    try:
        with parallel_config(backend="loky", inner_max_num_threads=threads):
            gen = Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(_indexed)(fn, i, u) for i, u in enumerate(shipped)
            )
            for i, res in gen:
                done(i, res)
    except Exception as exc:  # e.g. joblib's TerminatedWorkerError: a worker died
        msg = " ".join(str(exc).split())[:200]
        for i, r in enumerate(results):
            if r is None:
                done(
                    i,
                    {
                        "ok": False,
                        "ticker": units[i].get("ticker"),
                        "fit": units[i].get("fit"),
                        "error": f"local worker failed ({type(exc).__name__}: {msg}); "
                        "rerun, or use --executor dask, which retries",
                    },
                )
    return results


def scheduler_address(scheduler: str | None) -> str | None:
    """``--scheduler`` or ``$DASK_SCHEDULER_ADDRESS`` (None: start a local cluster)."""
    addr = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if addr is not None and "://" not in addr and ":" not in addr:
        raise UsageError(f"--scheduler {addr!r} is not an address like tcp://HOST:8786")
    return addr


def _run_dask(units, jobs, scheduler, on_result, fn, notify):
    try:
        from dask.base import tokenize
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UsageError(
            "--executor dask needs dask.distributed: pip install 'dask[distributed]'"
        ) from None

    addr = scheduler_address(scheduler)
    cluster = None
    threads = None
    if addr is None:
        threads = local_threads(jobs)
        if notify:
            notify(f"starting a local Dask cluster: {jobs} worker processes on 127.0.0.1")
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(addr, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise TemporaryFailure(
                f"cannot reach the Dask scheduler at {addr} ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:160]}); is `dask scheduler` running?"
            ) from None
        if notify:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            notify(f"Dask scheduler {addr}: {n} workers")
    results: list[dict[str, Any] | None] = [None] * len(units)
    try:
        futures = {}
        for i, u in enumerate(units):
            shipped = u if threads is None else {**u, "threads": threads}
            key = f"lstmfc-unit-{u['ticker']}-fit{int(u['fit']) + 1}-{tokenize(shipped)}"
            fut = client.submit(fn, shipped, key=key, retries=2, pure=False)
            futures[fut.key] = (i, fut)
        for fut in as_completed([f for _, f in futures.values()]):
            i = futures[fut.key][0]
            try:
                res = fut.result()
            except Exception as exc:  # KilledWorker, or an error left after the retries
                res = {
                    "ok": False,
                    "ticker": units[i].get("ticker"),
                    "fit": units[i].get("fit"),
                    "error": f"Dask task failed ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]})",
                }
            results[i] = res
            if on_result is not None:
                on_result(i, res)
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def execute_units(
    units: Sequence[dict[str, Any]],
    *,
    executor: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    on_result: Callable[[int, dict[str, Any]], None] | None = None,
    fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    notify: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run units of work with the local (joblib/loky) or the Dask executor.

    Parameters
    ----------
    units : sequence of dict
        Inputs of :func:`run_unit`.
    executor : {"local", "dask"}
    jobs : int
        Local worker processes (``local``) or local-cluster workers (``dask``
        without a scheduler address).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running ``dask scheduler`` (default
        ``$DASK_SCHEDULER_ADDRESS``; neither: a ``LocalCluster`` on loopback).
    on_result : callable, optional
        ``on_result(index, result)`` as each unit finishes (any order).
    fn : callable, optional
        The unit function (default :func:`run_unit_safe` locally, :func:`run_unit`
        on Dask, whose exceptions Dask retries twice). Must be importable by workers.
    notify : callable, optional
        Receives one-line status messages (cluster started ...).

    Returns
    -------
    list of dict
        One result per unit, in the order of ``units``; failed units have ``ok``
        False and an ``error`` line.

    Raises
    ------
    UsageError
        Unknown executor or ``jobs < 1``.
    TemporaryFailure
        The Dask scheduler cannot be reached.
    """
    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be local or dask, not {executor!r}")
    jobs = _pos_int("--jobs", jobs)
    if executor == "local":
        return _run_local(list(units), jobs, on_result, fn or run_unit_safe)
    return _run_dask(list(units), jobs, scheduler, on_result, fn or run_unit, notify)


# ======================================================================= driver
@dataclass
class BacktestConfig:
    """All options of ``lstmfc backtest`` (defaults as ``prepare``/``train``/``evaluate``)."""

    lookback: int = 60
    horizon: int = 1
    features: Any = ("close",)
    folds: int | None = None
    step: int | None = None
    test_size: int | None = None
    retrain_every: int | None = None
    window: str = "expanding"
    train_size: int | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION
    head: str = "price"
    cell: str = "lstm"
    units: Any = (128, 64)
    dropout: float = 0.2
    dense: int = 25
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    clipnorm: float = 5.0
    l2: float = 0.0
    patience: int = 5
    seed: int | None = None
    price_target: str = "logret"
    sma_k: int = 20
    ema_span: int = 20
    cost_bps: float = 0.0
    alpha: float = 0.05
    save_models: bool = True
    _validated: bool = field(default=False, repr=False)

    def validate(self) -> BacktestConfig:
        """Check every option (before any data is read); draw the seed if None.

        Raises
        ------
        UsageError / DataError
            One line naming the option.
        """
        from lstmfc import artifacts, models
        from lstmfc.features import parse_features
        from lstmfc.train import parse_units

        self.features = parse_features(self.features)
        self.units = parse_units(self.units)
        self.lookback = _pos_int("--lookback", self.lookback)
        self.horizon = _pos_int("--horizon", self.horizon)
        for name in ("epochs", "batch_size"):
            setattr(self, name, _pos_int("--" + name.replace("_", "-"), getattr(self, name)))
        self.patience = _pos_int("--patience", self.patience, minimum=0)
        self.dense = _pos_int("--dense", self.dense, minimum=0)
        if self.price_target not in artifacts.PRICE_TARGETS:
            raise UsageError(f"--price-target must be logret or level, not {self.price_target!r}")
        models.ModelSpec(
            lookback=self.lookback,
            n_features=1,
            head=self.head,
            cell=self.cell,
            units=self.units,
            dropout=float(self.dropout),
            dense=self.dense,
            l2=float(self.l2),
            learning_rate=float(self.lr),
            clipnorm=float(self.clipnorm),
        )
        if self.sma_k < 1 or self.ema_span < 1:
            raise UsageError("--sma and --ema must be >= 1")
        if not 0.0 <= self.cost_bps < 10_000:
            raise UsageError(f"--cost-bps must be in [0, 10000), got {self.cost_bps}")
        if not 0.0 < self.alpha < 1.0:
            raise UsageError(f"--alpha must be in (0, 1), got {self.alpha}")
        if self.seed is None:
            self.seed = secrets.randbelow(2**31)
        self.seed = _pos_int("--seed", self.seed, minimum=0)
        if self.seed > 2**32 - 1:
            raise UsageError(f"--seed must be below 2**32, got {self.seed}")
        # options of the plan are checked on a series long enough for any of them
        plan_folds(
            10**7,
            self.lookback,
            self.horizon,
            folds=self.folds,
            step=self.step,
            test_size=self.test_size,
            window=self.window,
            train_size=self.train_size,
            retrain_every=self.retrain_every,
            val_fraction=self.val_fraction,
        )
        self._validated = True
        return self

    def model_options(self) -> dict[str, Any]:
        """The ``model`` entry of a unit."""
        return {
            "head": self.head,
            "cell": self.cell,
            "units": list(self.units),
            "dropout": float(self.dropout),
            "dense": int(self.dense),
            "l2": float(self.l2),
            "lr": float(self.lr),
            "clipnorm": float(self.clipnorm),
            "epochs": int(self.epochs),
            "batch_size": int(self.batch_size),
            "patience": int(self.patience),
            "price_target": self.price_target,
        }

    def to_json(self) -> dict[str, Any]:
        """Settings as recorded in ``backtest.json``."""
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "features": list(self.features),
            "folds": self.folds,
            "step": self.step,
            "test_size": self.test_size,
            "retrain_every": self.retrain_every,
            "window": self.window,
            "train_size": self.train_size,
            "val_fraction": self.val_fraction,
            "model": self.model_options(),
            "seed": self.seed,
            "deterministic": True,
            "sma": self.sma_k,
            "ema": self.ema_span,
            "cost_bps": self.cost_bps,
            "alpha": self.alpha,
        }


@dataclass
class TickerJob:
    """One ticker's series, plan and units (built by :func:`prepare_ticker`).

    Attributes
    ----------
    ticker : str
    dates : pandas.DatetimeIndex
        Dates of the feature rows, ``(N,)``.
    x : ndarray, shape (N, n_features), float64
        Unscaled features.
    close : ndarray, shape (N,), float64
        Close of each feature row (currency).
    feature_names : list of str
    warmup : int
        Raw rows dropped before the first feature row.
    plan : FoldPlan
    units : list of dict
        One per fit, inputs of :func:`run_unit`.
    raw_info : dict
        Where the series came from (path, sha256, rows, dates).
    """

    ticker: str
    dates: Any
    x: np.ndarray
    close: np.ndarray
    feature_names: list[str]
    warmup: int
    plan: FoldPlan
    units: list[dict[str, Any]]
    raw_info: dict[str, Any] = field(default_factory=dict)


def prepare_ticker(ticker: str, raw, cfg: BacktestConfig) -> TickerJob:
    """Features, fold plan and units of one ticker (driver side, no TensorFlow).

    Parameters
    ----------
    ticker : str
    raw : pandas.DataFrame
        Stored OHLCV frame (layout of :mod:`lstmfc.store`).
    cfg : BacktestConfig
        Validated options.

    Returns
    -------
    TickerJob

    Raises
    ------
    DataError
        Invalid raw data or a series too short for the plan.
    """
    from lstmfc.features import build_features, warmup_rows

    t = normalize_ticker(ticker)
    if not cfg._validated:
        cfg.validate()
    warm = warmup_rows(cfg.features)
    if len(raw) <= warm + cfg.lookback + cfg.horizon:
        raise DataError(
            f"{len(raw)} rows are too few for lookback {cfg.lookback}, horizon {cfg.horizon} "
            f"and {warm} warm-up rows"
        )
    frame, warmup = build_features(raw, cfg.features)
    plan = plan_folds(
        len(frame),
        cfg.lookback,
        cfg.horizon,
        folds=cfg.folds,
        step=cfg.step,
        test_size=cfg.test_size,
        window=cfg.window,
        train_size=cfg.train_size,
        retrain_every=cfg.retrain_every,
        val_fraction=cfg.val_fraction,
    )
    x = frame.to_numpy(dtype="float64")
    close = raw["close"].iloc[warmup:].to_numpy(dtype="float64")
    names = list(frame.columns)
    units = []
    for fit in plan.fits:
        fds = [plan.folds[k] for k in fit.folds]
        a, b = fds[0].test_first, fds[-1].test_last
        units.append(
            {
                "ticker": t,
                "fit": fit.index,
                "folds": list(fit.folds),
                "lookback": plan.lookback,
                "horizon": plan.horizon,
                "feature_names": names,
                "x": np.ascontiguousarray(x[: b + 1]),  # nothing after the last forecast origin
                "close": np.ascontiguousarray(close[: b + 1]),
                "first_end": fit.first_end,
                "train_last": fit.train_last,
                "last_end": fit.last_end,
                "test_first": a,
                "test_last": b,
                "model": cfg.model_options(),
                "seed": int(cfg.seed),
                "threads": None,
                "save_model": bool(cfg.save_models),
            }
        )
    return TickerJob(t, frame.index, x, close, names, warmup, plan, units)


def _iso(ts) -> str:
    import pandas as pd

    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def score_ticker(
    job: TickerJob, results: Sequence[dict[str, Any]], cfg: BacktestConfig
) -> tuple[dict[str, Any], Any]:
    """Per-fold rows and the overall out-of-sample report of one ticker.

    Baselines are fit per fit on its training windows only
    (:func:`lstmfc.evaluate.fit_baselines`, the same as ``evaluate``) and predict the
    same test windows as the network.

    Parameters
    ----------
    job : TickerJob
    results : sequence of dict
        :func:`run_unit` results, one per fit, in fit order, all ``ok``.
    cfg : BacktestConfig

    Returns
    -------
    (dict, pandas.DataFrame)
        The report (``folds``, ``fits``, ``overall`` ...) and the forecasts table
        (one row per test window).

    Raises
    ------
    DataError
        A baseline cannot be fitted or a metric is undefined for the data.
    """
    import pandas as pd

    from lstmfc.baselines import direction_baselines, price_baselines
    from lstmfc.evaluate import conclusion, fit_baselines, score_direction, score_price

    plan, h, dates, closes = job.plan, job.plan.horizon, job.dates, job.close
    head = cfg.head
    fold_rows: list[dict[str, Any]] = []
    fits_doc: list[dict[str, Any]] = []
    frames = []
    series: dict[str, list[np.ndarray]] = {}
    params = {}
    for fit, res in zip(plan.fits, results, strict=True):
        train_rows = np.arange(fit.first_end, fit.train_last + 1)
        if head == "price":
            bl = price_baselines(lookback=plan.lookback, sma_k=cfg.sma_k, ema_span=cfg.ema_span)
        else:
            bl = direction_baselines(lookback=plan.lookback)
        bl = fit_baselines(bl, closes, train_rows, h)
        params = {name: b.get_params() for name, b in bl.items()}
        fits_doc.append(
            {
                "fit": fit.index + 1,
                "folds": [k + 1 for k in fit.folds],
                "train_start": _iso(dates[fit.first_end + h]),
                "train_end": _iso(dates[fit.train_last + h]),
                "val_start": _iso(dates[fit.train_last + 1 + h]),
                "val_end": _iso(dates[fit.last_end + h]),
                "train_rows": [fit.first_end, fit.train_last],
                "val_rows": [fit.train_last + 1, fit.last_end],
                "n_train": res["n_train"],
                "n_val": res["n_val"],
                "scaler": {
                    **res["scaler"],
                    "fit_start_date": _iso(dates[res["scaler"]["fit_rows"][0]]),
                    "fit_end_date": _iso(dates[res["scaler"]["fit_rows"][1]]),
                },
                "target": res["target"],
                "epochs_run": res["epochs_run"],
                "best_epoch": res["best_epoch"],
                "best_val_loss": res["best_val_loss"],
                "stopped_early": res["stopped_early"],
                "train_seconds": round(float(res["train_seconds"]), 3),
                "unit_seconds": round(float(res.get("seconds", 0.0)), 3),
                "weights_sha256": res["fingerprints"]["weights"],
                "fingerprints": res["fingerprints"],
            }
        )
        offset = plan.folds[fit.folds[0]].test_first
        forecast = np.asarray(res["forecast"], dtype="float64")
        for k in fit.folds:
            fd = plan.folds[k]
            rows = np.arange(fd.test_first, fd.test_last + 1)
            lstm = forecast[fd.test_first - offset : fd.test_last - offset + 1]
            realised = np.log(closes[rows + h] / closes[rows])
            frame = {
                "fold": k + 1,
                "fit": fit.index + 1,
                "date": dates[rows],
                "target_date": dates[rows + h],
                "close": closes[rows],
            }
            try:
                if head == "price":
                    preds = {"lstm": lstm, **{n: b.predict(closes, rows) for n, b in bl.items()}}
                    y_true = closes[rows + h]
                    table, tests, _ = score_price(
                        y_true,
                        preds,
                        closes[rows],
                        realised,
                        h,
                        cfg.cost_bps,
                        cfg.alpha,
                        trading=False,
                    )
                    frame.update({"actual": y_true, **preds})
                    m = table["lstm"]
                    summary = {
                        "rmse": m["rmse"],
                        "naive_rmse": table["naive"]["rmse"],
                        "theils_u": m["theils_u"],
                        "directional_accuracy": m["directional_accuracy"],
                    }
                    better = m["rmse"] < table["naive"]["rmse"]
                else:
                    probas = {
                        "lstm": lstm,
                        **{n: b.predict_proba(closes, rows) for n, b in bl.items()},
                    }
                    y = (closes[rows + h] > closes[rows]).astype("int64")
                    table, tests, _, maj = score_direction(
                        y, probas, realised, h, cfg.cost_bps, cfg.alpha, trading=False
                    )
                    frame.update({"up": y, **{f"p_up_{n}": p for n, p in probas.items()}})
                    summary = {"accuracy": table["lstm"]["accuracy"], "majority_accuracy": maj}
                    better = table["lstm"]["accuracy"] > maj
            except ValueError as exc:
                raise DataError(f"fold {k + 1}: {exc}") from None
            for name, arr in (preds if head == "price" else probas).items():
                series.setdefault(name, []).append(arr)
            series.setdefault("_rows", []).append(rows)
            frames.append(pd.DataFrame(frame))
            fold_rows.append(
                {
                    "fold": k + 1,
                    "fit": fit.index + 1,
                    "refit": k == fit.folds[0],
                    "train_start": fits_doc[-1]["train_start"],
                    "train_end": fits_doc[-1]["val_end"],
                    "test_start": _iso(dates[fd.test_first + h]),
                    "test_end": _iso(dates[fd.test_last + h]),
                    "test_rows": [fd.test_first, fd.test_last],
                    "n": fd.n,
                    **summary,
                    "beats_benchmark": bool(better),
                    "skill": tests[0] if tests else None,
                    "metrics": table,
                }
            )

    rows = np.concatenate(series.pop("_rows"))
    cat = {name: np.concatenate(parts) for name, parts in series.items()}
    realised = np.log(closes[rows + h] / closes[rows])
    try:
        if head == "price":
            table, tests, trading = score_price(
                closes[rows + h], cat, closes[rows], realised, h, cfg.cost_bps, cfg.alpha
            )
        else:
            y = (closes[rows + h] > closes[rows]).astype("int64")
            table, tests, trading, _ = score_direction(y, cat, realised, h, cfg.cost_bps, cfg.alpha)
    except ValueError as exc:
        raise DataError(f"out-of-sample series: {exc}") from None
    overall = {
        "n": int(rows.size),
        "test_start": _iso(dates[rows[0] + h]),
        "test_end": _iso(dates[rows[-1] + h]),
        "metrics": table,
        "skill": tests[0],
        "skill_tests": tests,
        "trading": trading,
        "conclusion": conclusion(head, tests[0], trading),
        "baselines": params,
    }
    doc = {
        "ticker": job.ticker,
        "ok": True,
        "head": head,
        "price_target": cfg.price_target if head == "price" else None,
        "cell": cfg.cell,
        "lookback": plan.lookback,
        "horizon": h,
        "features": list(cfg.features),
        "feature_names": job.feature_names,
        "n_rows": int(len(dates)),
        "first_date": _iso(dates[0]),
        "last_date": _iso(dates[-1]),
        "warmup_rows_dropped": job.warmup,
        "raw": job.raw_info,
        "plan": {
            "window": plan.window,
            "n_windows": plan.n_windows,
            "test_size": plan.test_size,
            "folds": len(plan.folds),
            "fits": len(plan.fits),
            "train_size": plan.train_size,
            "val_fraction": plan.val_fraction,
            "retrain_every": plan.retrain_every,
        },
        "seed": cfg.seed,
        "folds": fold_rows,
        "fits": fits_doc,
        "overall": overall,
    }
    return doc, pd.concat(frames, ignore_index=True)


def _write_backtest(ws: Workspace, doc, forecasts, results, backtest_id: str) -> Path:
    import json

    from lstmfc.artifacts import json_clean, sha256_file
    from lstmfc.atomic import atomic_dir

    final = ws.data_dir / BACKTESTS_DIR / doc["ticker"] / backtest_id
    if final.exists():
        raise ArtifactError(f"backtest {backtest_id} already exists in {final.parent}")
    with atomic_dir(final) as tmp:
        out = forecasts.copy()
        for col in ("date", "target_date"):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        out.to_csv(tmp / FORECASTS_FILE, index=False, float_format="%.10g")
        for res, fit_doc in zip(results, doc["fits"], strict=True):
            if res.get("model_bytes"):
                rel = f"models/fit-{fit_doc['fit']:02d}.keras"
                (tmp / "models").mkdir(exist_ok=True)
                (tmp / rel).write_bytes(res["model_bytes"])
                fit_doc["model_file"] = rel
                fit_doc["model_sha256"] = sha256_file(tmp / rel)
        doc["forecasts_file"] = FORECASTS_FILE
        text = json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n"
        (tmp / BACKTEST_FILE).write_text(text, encoding="utf-8")
    return final


def _load_raw(ws: Workspace, t: str, source: str | None):
    from lstmfc.store import file_sha256, read_raw

    path = ws.raw_path(t)
    if not path.is_file():
        if source == "sample":
            from lstmfc.fetch import fetch_ticker

            fetch_ticker(ws, t, source="sample")
        else:
            raise DataError(f"no data for {t}; run `lstmfc fetch {t}` first")
    raw, _prov = read_raw(path)
    info = {
        "path": path.relative_to(ws.home).as_posix() if path.is_relative_to(ws.home) else str(path),
        "sha256": file_sha256(path),
        "rows": int(len(raw)),
        "first_date": _iso(raw.index[0]) if len(raw) else None,
        "last_date": _iso(raw.index[-1]) if len(raw) else None,
    }
    return raw, info


def summarise(reports: dict[str, dict[str, Any]], head: str, alpha: float) -> dict[str, Any]:
    """Summary across tickers: skill vs the benchmark per ticker and how many beat it.

    Returns
    -------
    dict
        ``rows`` (one per ticker), ``n_tickers``, ``n_ok``, ``n_failed``,
        ``n_beat`` (significantly better than naive, or than the majority class for the
        direction head, at ``alpha``), ``benchmark``, ``alpha``.
    """
    rows = []
    for t, r in reports.items():
        if not r.get("ok"):
            rows.append({"ticker": t, "ok": False, "error": r.get("error")})
            continue
        o = r["overall"]
        sk = o["skill"]
        p = sk.get("p_value")
        row = {
            "ticker": t,
            "ok": True,
            "n": o["n"],
            "folds": len(r["folds"]),
            "test_start": o["test_start"],
            "test_end": o["test_end"],
            "test": sk.get("test"),
            "statistic": sk.get("statistic"),
            "p_value": p,
            "verdict": sk.get("verdict"),
            "beats_benchmark": p is not None and p < alpha,
            "sharpe": (o["trading"].get("lstm") or {}).get("sharpe"),
            "buy_and_hold_sharpe": (o["trading"].get("buy_and_hold") or {}).get("sharpe"),
        }
        m = o["metrics"]
        if head == "price":
            row.update(
                rmse=m["lstm"]["rmse"],
                naive_rmse=m["naive"]["rmse"],
                theils_u=m["lstm"]["theils_u"],
            )
        else:
            row.update(accuracy=m["lstm"]["accuracy"], majority_accuracy=m["majority"]["accuracy"])
        rows.append(row)
    ok = [r for r in rows if r["ok"]]
    return {
        "benchmark": "naive" if head == "price" else "majority",
        "alpha": alpha,
        "n_tickers": len(rows),
        "n_ok": len(ok),
        "n_failed": len(rows) - len(ok),
        "n_beat": sum(1 for r in ok if r["beats_benchmark"]),
        "rows": rows,
    }


def backtest(
    ws: Workspace,
    tickers: Sequence[str],
    cfg: BacktestConfig | None = None,
    *,
    source: str | None = None,
    executor: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    progress=None,
    write: bool = True,
    unit_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Walk-forward backtest of several tickers (module docstring).

    Parameters
    ----------
    ws : Workspace
    tickers : sequence of str
        Tickers with stored data (``lstmfc fetch``).
    cfg : BacktestConfig, optional
        Options; default :class:`BacktestConfig()`.
    source : {None, "sample"}
        ``sample`` fetches a bundled sample series first when it is not stored yet.
    executor, jobs, scheduler
        See :func:`execute_units`.
    progress : object, optional
        Progress display (:func:`make_progress`).
    write : bool
        Write ``data/backtests/<TICKER>/<backtest_id>/`` for each ticker.
    unit_fn : callable, optional
        Replacement unit function (tests).

    Returns
    -------
    dict
        ``backtest_id``, ``settings``, ``executor``, ``tickers`` (ticker -> report, or
        ``{"ok": False, "error": ...}``), ``summary`` (:func:`summarise`),
        ``n_units``, ``seconds``.

    Raises
    ------
    UsageError
        Invalid options (before anything runs).
    TemporaryFailure
        The Dask scheduler cannot be reached.
    """
    from lstmfc.artifacts import json_clean, new_run_id

    t0 = time.perf_counter()
    cfg = (cfg or BacktestConfig()).validate()
    if source not in (None, "sample"):
        raise UsageError(
            f"backtest reads stored data; run `lstmfc fetch TICKER --source {source}` first "
            "(--source sample alone is accepted: it fetches a bundled sample if missing)"
        )
    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be local or dask, not {executor!r}")
    jobs = _pos_int("--jobs", jobs)
    if executor == "dask":
        scheduler = scheduler_address(scheduler)
    elif scheduler:
        raise UsageError("--scheduler needs --executor dask")
    names = []
    for t in tickers:
        n = normalize_ticker(t)
        if n not in names:
            names.append(n)
    if not names:
        raise UsageError("give at least one TICKER or --tickers-file FILE")

    backtest_id = new_run_id()
    reports: dict[str, dict[str, Any]] = {}
    jobs_by_ticker: dict[str, TickerJob] = {}
    for t in names:
        try:
            raw, info = _load_raw(ws, t, source)
            job = prepare_ticker(t, raw, cfg)
            job.raw_info = info
            jobs_by_ticker[t] = job
        except LstmfcError as exc:  # this ticker only; the others go on
            reports[t] = {"ticker": t, "ok": False, "error": str(exc)}
            if progress is not None:
                progress.ticker_failed(t, str(exc))

    all_units, owners = [], []
    for t, job in jobs_by_ticker.items():
        for u in job.units:
            all_units.append(u)
            owners.append(t)
    results_by_ticker: dict[str, list] = {
        t: [None] * len(j.units) for t, j in jobs_by_ticker.items()
    }
    if progress is not None:
        progress.start(len(all_units), {t: len(j.units) for t, j in jobs_by_ticker.items()})

    def finish_ticker(t: str) -> None:
        job, res = jobs_by_ticker[t], results_by_ticker[t]
        bad = [r for r in res if not r.get("ok")]
        try:
            if bad:
                raise DataError(bad[0]["error"])
            doc, forecasts = score_ticker(job, res, cfg)
            doc["backtest_id"] = backtest_id
            if write:
                path = _write_backtest(ws, doc, forecasts, res, backtest_id)
                doc["path"] = path.relative_to(ws.home).as_posix()
            reports[t] = json_clean(doc)
            if progress is not None:
                progress.ticker_done(t, reports[t])
        except Exception as exc:  # reported for this ticker; the others go on
            msg = (
                str(exc)
                if isinstance(exc, LstmfcError)
                else (f"internal error: {type(exc).__name__}: {exc}")
            )
            reports[t] = {"ticker": t, "ok": False, "error": msg}
            if progress is not None:
                progress.ticker_failed(t, msg)

    def on_result(i: int, res: dict[str, Any]) -> None:
        t = owners[i]
        res.setdefault("ok", False)
        results_by_ticker[t][int(all_units[i]["fit"])] = res
        if progress is not None:
            progress.unit_done(t, int(all_units[i]["fit"]), res)
        if all(r is not None for r in results_by_ticker[t]):
            finish_ticker(t)

    try:
        if all_units:
            execute_units(
                all_units,
                executor=executor,
                jobs=jobs,
                scheduler=scheduler,
                on_result=on_result,
                fn=unit_fn,
                notify=(progress.note if progress is not None else None),
            )
    finally:
        if progress is not None:
            progress.close()

    ordered = {
        t: reports.get(t, {"ticker": t, "ok": False, "error": "not run (interrupted)"})
        for t in names
    }
    return {
        "backtest_id": backtest_id,
        "settings": cfg.to_json(),
        "executor": {
            "kind": executor,
            "jobs": jobs,
            "scheduler": scheduler if executor == "dask" else None,
        },
        "n_units": len(all_units),
        "seconds": round(time.perf_counter() - t0, 2),
        "tickers": ordered,
        "summary": summarise(ordered, cfg.head, cfg.alpha),
    }


# ======================================================================= progress
class LineProgress:
    """Plain progress lines on ``stream`` (cron logs, pipes, CliRunner)."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total = 0
        self.done = 0
        self.per: dict[str, list[int]] = {}

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self._say(text)

    def start(self, total: int, per_ticker: dict[str, int]) -> None:
        self.total = total
        self.per = {t: [0, n] for t, n in per_ticker.items()}
        if total:
            self._say(f"backtest: {total} units of work over {len(per_ticker)} tickers")

    def unit_done(self, ticker: str, fit: int, res: dict[str, Any]) -> None:
        self.done += 1
        self.per[ticker][0] += 1
        what = "ok" if res.get("ok") else "failed"
        secs = res.get("seconds")
        took = f" in {secs:.1f} s" if isinstance(secs, int | float) else ""
        d, n = self.per[ticker]
        self._say(f"[{self.done}/{self.total}] {ticker} fit {fit + 1}/{n} {what}{took}")

    def ticker_done(self, ticker: str, report: dict[str, Any]) -> None:
        self._say(f"{ticker}: done, {report['overall']['skill'].get('verdict', '')}")

    def ticker_failed(self, ticker: str, message: str) -> None:
        self._say(f"Error: {ticker}: {message}")

    def close(self) -> None:
        pass


class RichProgress(LineProgress):
    """One rich progress bar over all units, with per-ticker status (terminal only)."""

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__()
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
        )
        self.task = None
        self.failed: set[str] = set()

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def _status(self) -> str:
        parts = []
        for t, (d, n) in self.per.items():
            mark = " ✗" if t in self.failed else (" ✓" if d == n else "")
            parts.append(f"{t} {d}/{n}{mark}")
        text = "  ".join(parts)
        return text if len(text) <= 70 else text[:67] + "..."

    def start(self, total: int, per_ticker: dict[str, int]) -> None:
        self.total = total
        self.per = {t: [0, n] for t, n in per_ticker.items()}
        self.progress.start()
        self.task = self.progress.add_task("units", total=max(total, 1), status=self._status())

    def unit_done(self, ticker: str, fit: int, res: dict[str, Any]) -> None:
        self.done += 1
        self.per[ticker][0] += 1
        if not res.get("ok"):
            self.failed.add(ticker)
        self.progress.update(self.task, completed=self.done, status=self._status())

    def ticker_done(self, ticker: str, report: dict[str, Any]) -> None:
        pass  # the status column shows it; the tables follow on stdout

    def ticker_failed(self, ticker: str, message: str) -> None:
        self.failed.add(ticker)
        if self.task is not None:
            self.progress.update(self.task, status=self._status())
        super().ticker_failed(ticker, message)

    def close(self) -> None:
        self.progress.stop()


def make_progress(stream: IO[str] | None = None):
    """Rich progress bar if ``stream`` (default stderr) is a terminal, else plain lines."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from rich.console import Console

        return RichProgress(Console(file=stream))
    return LineProgress(stream)
