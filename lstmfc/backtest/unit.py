"""The unit of work of a walk-forward backtest: one ticker x one fit.

A :class:`Unit` carries the UNSCALED feature rows and closes of one ticker up to the
last test window's end row only, as NumPy arrays: a unit never receives a row after
its last forecast origin, and workers need no shared file system. :func:`run_unit` is
a pure function of its input (seed included): it fits the scaler and the target
scaling on the fit's training rows with the same code as ``lstmfc prepare`` and
``lstmfc train`` (:func:`lstmfc.dataset.scaling.fit_scaler`,
:func:`lstmfc.dataset.windows.cut_windows`,
the head's :meth:`~lstmfc.heads.Head.fit_scaling`), trains the network(s) with
:func:`lstmfc.workflows.train.fit_networks`, forecasts its test windows and returns a
:class:`UnitResult`. Each unit seeds Python, NumPy and the backend, enables
deterministic kernels and draws Keras's default seeds from a private generator, so a
unit gives bit-identical weights and forecasts whichever process or machine runs it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.core.errors import ArtifactError, DataError, LstmfcError
from lstmfc.dataset.scaling import fit_scaler, out_of_range_share, scale
from lstmfc.dataset.targets import add_path_targets, target_frame
from lstmfc.dataset.windows import cut_windows
from lstmfc.network import backend, models
from lstmfc.workflows.train import fit_networks

_UNIT_LOCK = threading.Lock()
"""Units seed process-wide state (Keras, NumPy, torch/TF): one at a time per process."""


@dataclass
class Unit:
    """Everything one fit needs, shipped to a worker (picklable, no file paths).

    Attributes
    ----------
    ticker : str
    fit : int
        0-based fit number.
    folds : tuple of int
        0-based folds this fit forecasts.
    lookback, horizon : int
    feature_names : tuple of str
    x : ndarray, shape (test_last + 1, n_features), float64
        Unscaled features up to the last forecast origin.
    close : ndarray, shape (test_last + 1,), float64
        Closes (currency) of the same rows.
    first_end, train_last, last_end : int
        End rows of the first training window, the last training window and the last
        validation window (:class:`lstmfc.backtest.plan.Fit`).
    test_first, test_last : int
        End rows of the first and last test window of its folds.
    options : lstmfc.workflows.train.TrainOptions
        Validated network, head and fitting options.
    seed : int
        Seed of the first network (ensemble member ``i``: ``seed + i``).
    steps : int
        ``K`` of a path forecast (1: one step); the strategy is in ``options``.
    threads : int or None
        Backend threads in the worker (None: all its cores).
    save_model : bool
        Return each network's ``.keras`` bytes.
    """

    ticker: str
    fit: int
    folds: tuple[int, ...]
    lookback: int
    horizon: int
    feature_names: tuple[str, ...]
    x: np.ndarray
    close: np.ndarray
    first_end: int
    train_last: int
    last_end: int
    test_first: int
    test_last: int
    options: Any
    seed: int
    steps: int = 1
    threads: int | None = None
    save_model: bool = True


@dataclass
class UnitResult:
    """What :func:`run_unit` returns (plain values and arrays, picklable).

    Attributes
    ----------
    ok : bool
    ticker : str
    fit : int
    error : str or None
        One line when ``ok`` is False (a data problem, or a crashed worker).
    raw : ndarray, shape (n_test, n_outputs)
        Mean network output per test window.
    forecast : ndarray, shape (n_test,) or (n_test, steps)
        The head's forecast (e.g. price at ``t + h`` in currency, or P(up)); a path
        forecast has one column per step.
    scaler : dict
        The fit's MinMax scaler (JSON) and its ``fit_rows``.
    target : dict
        The fit's target scaling.
    n_train, n_val, epochs_run, best_epoch : int
        First network's figures (``members`` has every network's).
    best_val_loss, train_seconds, seconds : float
    stopped_early : bool
    members : list of dict
        Per network: seed and training figures.
    fingerprints : dict
        sha256 of the arrays and of each network's weights (``weights``: the first).
    model_bytes : list of bytes
        Each network's ``.keras`` file, when ``save_model``.
    out_of_range_share : float or None
        Share of the test windows' scaled inputs outside the fit's training range.
    """

    ok: bool
    ticker: str
    fit: int
    error: str | None = None
    raw: Any = None
    forecast: Any = None
    scaler: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    n_train: int = 0
    n_val: int = 0
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_loss: float = float("nan")
    stopped_early: bool = False
    train_seconds: float = 0.0
    seconds: float = 0.0
    members: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: dict[str, Any] = field(default_factory=dict)
    model_bytes: list[bytes] = field(default_factory=list)
    out_of_range_share: float | None = None


def failed(unit: Unit, message: str, seconds: float = 0.0) -> UnitResult:
    """A failed result for ``unit`` with a one-line ``message``."""
    return UnitResult(ok=False, ticker=unit.ticker, fit=unit.fit, error=message, seconds=seconds)


def scaler_rows(fit_first_end: int, fit_train_last: int, lookback: int) -> tuple[int, int]:
    """Feature rows the fold's MinMax scaler is fit on (inclusive).

    The rows feeding the training windows, ``first_end - L + 1 .. train_last``, as
    :func:`lstmfc.dataset.split.scaler_fit_rows` does for ``prepare``. (The no-future test
    monkeypatches this to show that a leaky scaler is caught.)
    """
    return fit_first_end - lookback + 1, fit_train_last


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@dataclass
class FoldArrays:
    """Everything a unit feeds the network, built from its shipped rows only.

    Attributes
    ----------
    scaler : lstmfc.dataset.scaling.MinMaxParams
        Fit on :func:`scaler_rows`.
    scaler_rows : tuple of int
    target : dict
        Target scaling (the head's :meth:`~lstmfc.heads.Head.fit_scaling`), training
        windows only.
    x_train, x_val, x_test : ndarray, shape (n, lookback, n_features), float32
    y_train, y_val : ndarray, shape (n,) or (n, steps), float32
        Encoded targets. With ``steps > 1`` the last ``steps - 1`` training windows
        are left out (their paths end in the validation period).
    test_targets : pandas.DataFrame
        Target rows of the test windows; only their ``close`` (at ``t``) is read to
        decode forecasts.
    meta : dict
        ``features``, ``feature_names`` and ``scaler`` (as in ``prepare.json``), for
        strategies that rebuild inputs (recursive paths).
    """

    scaler: Any
    scaler_rows: tuple[int, int]
    target: dict[str, Any]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    test_targets: Any
    meta: dict[str, Any] = field(default_factory=dict)

    def fingerprints(self) -> dict[str, str]:
        """sha256 of every array (bit-identity checks across processes)."""
        return {
            name: _sha(getattr(self, name))
            for name in ("x_train", "y_train", "x_val", "y_val", "x_test")
        }


def fold_arrays(unit: Unit) -> FoldArrays:
    """Scale the unit's rows and cut its training, validation and test windows.

    Raises
    ------
    DataError
        A feature with zero range in the scaler's rows, or constant training targets.
    ValueError
        The unit's arrays do not match its row numbers.
    """
    import pandas as pd

    L, h = unit.lookback, unit.horizon
    x = np.asarray(unit.x, dtype="float64")
    close = np.asarray(unit.close, dtype="float64")
    s, t, v = unit.first_end, unit.train_last, unit.last_end
    a, b = unit.test_first, unit.test_last
    if x.shape[0] != b + 1 or close.shape != (b + 1,):
        raise ValueError(f"unit rows: expected {b + 1}, got {x.shape[0]} and {close.shape}")
    lo, hi = scaler_rows(s, t, L)
    try:
        scaler = fit_scaler(x, lo, hi, list(unit.feature_names))
    except DataError as exc:
        raise DataError(f"fit {unit.fit + 1}: {exc}") from None
    scaled = scale(x, scaler)
    targets = target_frame(pd.Series(close), h)
    steps = int(unit.steps)
    if steps > 1:
        add_path_targets(targets, h, steps)
    head = unit.options.make_head(steps)
    t_fit = t - (steps - 1)  # purged: the last K-1 paths end in the validation period
    if t_fit < s:
        raise DataError(f"fit {unit.fit + 1}: no training window left after the path purge")
    tr, va = targets.iloc[s : t_fit + 1], targets.iloc[t + 1 : v + 1]
    try:
        scaling = head.fit_scaling(tr)
    except ArtifactError as exc:
        raise DataError(f"fit {unit.fit + 1}: {exc}") from None
    y_tr, y_va = head.encode(scaling, tr), head.encode(scaling, va)
    if not (np.all(np.isfinite(y_tr)) and np.all(np.isfinite(y_va))):
        raise DataError(f"fit {unit.fit + 1}: training targets are not finite")

    def windows(e0: int, e1: int) -> np.ndarray:
        return np.ascontiguousarray(cut_windows(scaled, L, e0, e1))

    return FoldArrays(
        scaler=scaler,
        scaler_rows=(lo, hi),
        target=scaling,
        x_train=windows(s, t_fit),
        y_train=y_tr,
        x_val=windows(t + 1, v),
        y_val=y_va,
        x_test=windows(a, b),
        test_targets=targets.iloc[a : b + 1],
        meta={
            "features": list(unit.feature_names),
            "feature_names": list(unit.feature_names),
            "scaler": scaler.to_json(),
        },
    )


def run_unit(unit: Unit) -> UnitResult:
    """Fit one fold's scaler and network(s) and forecast its test windows (pure function).

    Returns
    -------
    UnitResult
        ``ok`` False with a one-line ``error`` for a data problem.

    Raises
    ------
    Exception
        Anything but :class:`lstmfc.core.errors.LstmfcError` propagates, so that Dask's
        ``retries`` apply to it.
    """
    t0 = time.perf_counter()
    try:
        with _UNIT_LOCK:
            out = _run_unit_locked(unit)
    except LstmfcError as exc:
        return failed(unit, str(exc), time.perf_counter() - t0)
    out.seconds = time.perf_counter() - t0
    return out


def _run_unit_locked(unit: Unit) -> UnitResult:
    import tempfile

    backend.limit_threads(unit.threads)
    arrays = fold_arrays(unit)
    opts = unit.options
    head = opts.make_head(int(unit.steps))
    try:
        fitted = fit_networks(
            opts,
            head,
            (arrays.x_train, arrays.y_train, arrays.x_val, arrays.y_val),
            seed=int(unit.seed),
            deterministic=True,
            isolate=True,
        )
    except DataError as exc:
        raise DataError(f"fit {unit.fit + 1}: {exc}") from None
    nets = [m for m, _ in fitted]

    def predict_raw(x: np.ndarray) -> np.ndarray:  # the ensemble's mean output
        raws = [models.predict(m, x) for m in nets]
        return raws[0] if len(raws) == 1 else np.mean(np.stack(raws), axis=0)

    raw = predict_raw(arrays.x_test)
    if head.steps > 1 and head.strategy == "recursive":  # K network calls per window
        forecast = head.forecast(
            arrays.target, predict_raw, arrays.x_test, arrays.test_targets, arrays.meta
        )
    else:
        forecast = head.decode(arrays.target, raw, arrays.test_targets)
    forecast = np.asarray(forecast, dtype="float64")
    if not np.all(np.isfinite(forecast)):
        raise DataError(
            f"fit {unit.fit + 1}: the network's forecasts are not finite; try a smaller --lr"
        )
    model_bytes = []
    if unit.save_model:
        with tempfile.TemporaryDirectory(prefix="lstmfc-unit-") as tmp:
            for i, net in enumerate(nets):
                path = Path(tmp) / f"model-{i}.keras"
                models.save_model(net, path)
                model_bytes.append(path.read_bytes())
    fp: dict[str, Any] = arrays.fingerprints()
    weights = [hashlib.sha256(models.weights_bytes(m)).hexdigest() for m in nets]
    fp["weights"] = weights[0]
    if len(weights) > 1:
        fp["member_weights"] = weights
    first = fitted[0][1]
    out = UnitResult(
        ok=True,
        ticker=unit.ticker,
        fit=unit.fit,
        raw=raw,
        forecast=forecast,
        scaler={**arrays.scaler.to_json(), "fit_rows": list(arrays.scaler_rows)},
        target=arrays.target,
        n_train=len(arrays.x_train),
        n_val=len(arrays.x_val),
        epochs_run=first.epochs_run,
        best_epoch=first.best_epoch,
        best_val_loss=first.best_val_loss,
        stopped_early=first.stopped_early,
        train_seconds=sum(r.train_seconds for _, r in fitted),
        members=[
            {"seed": int(unit.seed) + i, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch}
            for i, (_, r) in enumerate(fitted)
        ],
        fingerprints=fp,
        model_bytes=model_bytes,
        out_of_range_share=out_of_range_share(arrays.x_test),
    )
    backend.clear_session()
    return out


def run_unit_safe(unit: Unit) -> UnitResult:
    """:func:`run_unit` that also turns unexpected exceptions into a failed result.

    Used by the local executor, which has no retries: one broken unit must not stop
    the others.
    """
    try:
        return run_unit(unit)
    except Exception as exc:  # reported per ticker, never a traceback
        return failed(unit, f"internal error: {type(exc).__name__}: {exc}")
