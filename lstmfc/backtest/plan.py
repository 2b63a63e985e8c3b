"""Walk-forward fold planning: which windows each fit trains on and each fold tests.

Rows and windows
----------------
As in :mod:`lstmfc.dataset.prepare`: rows ``r = 0 .. N-1`` are the feature rows left after the
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
horizon gap, "purging"; de Prado 2018, *Advances in Financial Machine Learning*,
ch. 7). A ``K``-step path forecast (``--steps K``) reaches ``h + K - 1`` sessions, so
the gap grows by ``K - 1``: fits end at ``a_k - h - K + 1``, and the last window of
the series is the last with a full path. Within a fit the last ``K - 1`` training
windows are left out too (their paths end in the validation period), as ``prepare``
does between its splits. ``s_k = L - 1`` for ``--window expanding``; ``--window rolling`` keeps the
last ``--train-size`` windows (default: as many as fold 1 has). The last 15 %
(``--val-fraction``) of those windows are the validation windows of early stopping;
the MinMax scaler is fit on the rows that feed the other (training) windows,
``s_k - L + 1 .. t_k`` with ``t_k`` the last training window end row
(:func:`scaler_rows`, the arithmetic of ``lstmfc prepare``). With
``--retrain-every D`` a fold re-uses the previous fit (model, scaler, target scaling
and baselines) unless at least ``D`` trading days passed since the fold that made it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import MAX_FITS, MAX_HORIZON, MAX_LOOKBACK

DEFAULT_FOLDS = 5
DEFAULT_TEST_FRACTION = 0.30
DEFAULT_VAL_FRACTION = 0.15
MIN_TRAIN_WINDOWS = 2
WINDOWS = ("expanding", "rolling")
_EPS = 1e-9


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
    steps : int
        ``K``, sessions in each forecast path (1: one-step forecasts).
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
    steps: int = 1

    @property
    def reach(self) -> int:
        """Sessions from a window's end to its last target: ``h + K - 1``."""
        return self.horizon + self.steps - 1

    @property
    def n_windows(self) -> int:
        return self.n_rows - self.lookback - self.reach + 1

    @property
    def test_size(self) -> int:
        return sum(f.n for f in self.folds)


def _pos_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be an integer from {minimum} to {maximum}, got {value!r}")
    return int(value)


def check_fit_count(plan: FoldPlan, ensemble: int = 1, ticker: str = "") -> None:
    """Refuse a plan of more than :data:`MAX_FITS` network fits (fits x ``ensemble``).

    Raises
    ------
    DataError
        One line naming the count, the cap and the options that lower it.
    """
    n = len(plan.fits) * ensemble
    if n <= MAX_FITS:
        return
    who = f"{ticker}: " if ticker else ""
    what = f"{len(plan.fits)} fits x --ensemble {ensemble}, " if ensemble > 1 else ""
    raise DataError(
        f"{who}the plan needs {n} network fits ({what}{len(plan.folds)} folds over "
        f"{plan.test_size} test days), above the cap of {MAX_FITS}; use --retrain-every D "
        "to refit only every D trading days, fewer --folds"
        + (", a larger --step or a smaller --ensemble" if ensemble > 1 else " or a larger --step")
    )


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
    if folds is not None and step is None and total < folds:
        raise DataError(
            f"{total} test windows cannot make {folds} folds; use at most {total} --folds"
        )
    start = first_end + n_windows - total
    if step is not None:
        k = folds if folds is not None else math.ceil(total / step)
        return [
            (start + i * step, min(start + (i + 1) * step, start + total) - 1) for i in range(k)
        ]
    k = folds if folds is not None else DEFAULT_FOLDS
    if total < k:
        raise DataError(f"{total} test windows cannot make {k} folds; use at most {total} --folds")
    base, extra = divmod(total, k)
    blocks, a = [], start
    for i in range(k):
        size = base + (1 if i < extra else 0)
        blocks.append((a, a + size - 1))
        a += size
    return blocks


@dataclass(frozen=True)
class PlanOptions:
    """The options of a walk-forward plan (module docstring, "Folds").

    Attributes
    ----------
    folds : int, optional
        ``K`` test blocks (``--folds``).
    step : int, optional
        Windows (trading days) per test block (``--step``).
    test_size : int, optional
        Windows in the test region (``--test-size``; default ``floor(0.30 * W)``).
    window : {"expanding", "rolling"}
        Training window of each fit (``--window``).
    train_size : int, optional
        Rolling window: training + validation windows per fit (default: fold 1's).
    retrain_every : int, optional
        Refit only when at least this many trading days passed since the last fit.
    val_fraction : float
        Share of each fit's windows kept for early stopping (the last ones), in (0, 1).
    """

    folds: int | None = None
    step: int | None = None
    test_size: int | None = None
    window: str = "expanding"
    train_size: int | None = None
    retrain_every: int | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION

    def to_json(self) -> dict[str, Any]:
        """The options as recorded in ``backtest.json``'s settings."""
        return dataclasses.asdict(self)


def check_plan_options(lookback: Any, horizon: Any, options: PlanOptions) -> tuple:
    """Check the plan's option values and combinations without building anything.

    Constant time whatever the values (``--folds 100000`` is checked against the
    series in :func:`plan_folds`, not by planning a huge one). ``lookback`` and
    ``horizon`` are at most :data:`lstmfc.core.limits.MAX_LOOKBACK` and
    :data:`lstmfc.core.limits.MAX_HORIZON`; the number of fits is bounded after planning
    (:func:`check_fit_count`).

    Returns
    -------
    (int, int, PlanOptions)
        ``lookback``, ``horizon`` and the options with every count as an int.

    Raises
    ------
    UsageError
        One line naming the option.
    """
    o = options
    lookback = _pos_int("--lookback", lookback, maximum=MAX_LOOKBACK)
    horizon = _pos_int("--horizon", horizon, maximum=MAX_HORIZON)
    checked = PlanOptions(
        folds=_pos_int("--folds", o.folds),
        step=_pos_int("--step", o.step),
        test_size=_pos_int("--test-size", o.test_size),
        window=o.window,
        train_size=_pos_int("--train-size", o.train_size, minimum=MIN_TRAIN_WINDOWS + 1),
        retrain_every=_pos_int("--retrain-every", o.retrain_every),
        val_fraction=o.val_fraction,
    )
    if o.window not in WINDOWS:
        raise UsageError(f"--window must be expanding or rolling, not {o.window!r}")
    if checked.train_size is not None and o.window != "rolling":
        raise UsageError("--train-size applies to --window rolling only")
    vf = o.val_fraction
    if isinstance(vf, bool) or not (isinstance(vf, float | int) and 0.0 < vf < 1.0):
        raise UsageError(f"--val-fraction must be in (0, 1), got {vf!r}")
    if sum(v is not None for v in (checked.folds, checked.step, checked.test_size)) == 3:
        raise UsageError("give at most two of --folds, --step and --test-size")
    return lookback, horizon, checked


def plan_folds(
    n_rows: int, lookback: int, horizon: int = 1, options: PlanOptions | None = None, steps: int = 1
) -> FoldPlan:
    """Plan the folds and fits of a walk-forward backtest (module docstring, "Folds").

    Parameters
    ----------
    n_rows : int
        ``N``, feature rows (after the warm-up).
    lookback, horizon : int
        ``L`` and ``h``.
    options : PlanOptions, optional
        Folds, step, test size, window, train size, refit interval and validation share
        (default :class:`PlanOptions()`: 5 folds over the last 30 % of the windows).
    steps : int
        ``K`` of a path forecast (:mod:`lstmfc.heads.paths`): a window's targets reach
        ``h + K - 1`` sessions, so that is the gap purged before each test block and
        the windows without a full path are left out (module docstring).

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
    lookback, horizon, o = check_plan_options(lookback, horizon, options or PlanOptions())
    window, val_fraction, retrain_every = o.window, o.val_fraction, o.retrain_every
    reach = horizon + int(steps) - 1
    n_windows = n_rows - lookback - reach + 1
    if n_windows < 2:
        raise DataError(
            f"{n_rows} feature rows make {max(n_windows, 0)} windows of lookback {lookback} "
            f"and horizon {horizon}; need a longer history"
        )
    first_end = lookback - 1
    blocks = _test_blocks(n_windows, first_end, o.folds, o.step, o.test_size)

    fits: list[Fit] = []
    fold_list: list[Fold] = []
    fit_origin = None  # test_first of the fold that made the current fit
    size = o.train_size
    for k, (a, b) in enumerate(blocks):
        refit = (
            not fits or retrain_every is None or a - fit_origin >= retrain_every  # type: ignore[operator]
        )
        if refit:
            last_end = a - reach
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
    served: dict[int, list[int]] = {}
    for fd in fold_list:
        served.setdefault(fd.fit, []).append(fd.index)
    fits = [
        Fit(f.index, f.first_end, f.train_last, f.last_end, tuple(served.get(f.index, ())))
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
        steps=int(steps),
    )


def scaler_rows(fit_first_end: int, fit_train_last: int, lookback: int) -> tuple[int, int]:
    """Feature rows the fold's MinMax scaler is fit on (inclusive).

    The rows feeding the training windows, ``first_end - L + 1 .. train_last``, as
    :func:`lstmfc.dataset.split.scaler_fit_rows` does for ``prepare``. (The no-future test
    monkeypatches this to show that a leaky scaler is caught.)
    """
    return fit_first_end - lookback + 1, fit_train_last
