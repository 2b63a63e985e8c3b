"""The one protocol of every baseline of every head: fit on training rows, forecast origins.

"Baselines are models too" (darts ``baselines.py``, statsforecast ``Naive``): every
baseline is fitted on the **training** windows only, then held fixed, and forecasts the
same target dates as the network, so the evaluation compares like with like.

Protocol (:class:`Forecaster`)
------------------------------
All forecasters work on the **unscaled** close series and the row of each window's last
session ``t`` (the forecast origin: the forecast is made at the close of ``t``):

* ``closes``: ``numpy.ndarray`` of shape ``(n_rows,)``, float, currency, strictly
  positive, in date order (the prepared series the windows were cut from);
* ``rows``: ``numpy.ndarray`` of shape ``(n_windows,)``, int, the origins ``t``;
* ``horizon``: ``h >= 1``, sessions between the origin and the target.

``fit(closes, train_rows, horizon) -> self`` reads ``closes`` only up to the last
training target, ``max(train_rows) + h``; ``forecast(closes, rows)`` reads
``closes[: t + 1]`` for the forecast at origin ``t`` (the leak tests of each head
change every later close and check that no forecast moves) and returns the head's
natural units: currency (price, :mod:`lstmfc.forecasters.price`), P(up) (direction,
:mod:`lstmfc.forecasters.direction`), the variance of the h-session percent log return
(vol, :mod:`lstmfc.forecasters.vol`) or ``(n_windows, k)`` log-return quantiles
(quantile, :mod:`lstmfc.forecasters.quantile`). ``get_params()`` is the JSON record of
the fit shown in reports; ``min_history`` is the rows of history a forecast at ``t``
needs before ``t``.

Methods raise ``ValueError`` with a one-line message on bad input (wrong shape,
non-positive or non-finite closes, rows out of range, too little history);
:func:`fit_all` turns it into :class:`lstmfc.core.errors.DataError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.core.errors import DataError
from lstmfc.stats.checks import check_closes, check_horizon, check_rows


def log_return_features(closes, end_rows, lookback: int) -> np.ndarray:
    """The last ``lookback`` daily log returns up to each end row.

    Row ``i`` is ``log(closes[t-lookback+1 : t+1] / closes[t-lookback : t])`` for
    ``t = end_rows[i]``, oldest first.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
        Unscaled closes, currency, > 0.
    end_rows : array_like, shape (n_windows,)
        Window end rows ``t``; each needs ``t >= lookback``.
    lookback : int
        Number of log returns per window, >= 1.

    Returns
    -------
    numpy.ndarray, shape (n_windows, lookback), float64
        Log returns (dimensionless).

    Raises
    ------
    ValueError
        Bad closes, ``lookback < 1``, or a row with fewer than ``lookback`` returns.
    """
    c = check_closes(closes)
    k = int(lookback)
    if k < 1:
        raise ValueError(f"lookback must be >= 1, got {lookback}")
    rows = check_rows(end_rows, c.size, first=k)
    logret = np.diff(np.log(c))  # logret[s - 1] = log(c[s] / c[s-1])
    windows = np.lib.stride_tricks.sliding_window_view(logret, k)  # [j] = logret[j:j+k]
    return np.array(windows[rows - k], dtype=np.float64)


def logret_targets(closes, end_rows, horizon: int) -> np.ndarray:
    """h-step log return targets ``log(close[t+h] / close[t])``.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
    end_rows : array_like, shape (n_windows,)
        Rows ``t`` with ``t + h < n_rows``.
    horizon : int

    Returns
    -------
    numpy.ndarray, shape (n_windows,), float64

    Raises
    ------
    ValueError
        Bad closes or horizon, or a row whose target lies past the series end.
    """
    c = check_closes(closes)
    h = check_horizon(horizon)
    rows = check_rows(end_rows, c.size, last=c.size - 1 - h)
    return np.log(c[rows + h] / c[rows])


def direction_targets(closes, end_rows, horizon: int) -> np.ndarray:
    """Direction targets: 1 when ``close[t+h] > close[t]`` else 0 (ties are "not up").

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
    end_rows : array_like, shape (n_windows,)
    horizon : int

    Returns
    -------
    numpy.ndarray, shape (n_windows,), int64

    Raises
    ------
    ValueError
        As :func:`logret_targets`.
    """
    c = check_closes(closes)
    h = check_horizon(horizon)
    rows = check_rows(end_rows, c.size, last=c.size - 1 - h)
    return (c[rows + h] > c[rows]).astype(np.int64)


class Forecaster:
    """Base class of every baseline (the protocol of the module docstring).

    :meth:`fit` checks the closes and rows and reads closes only up to the last
    training target (``max(train_end_rows) + horizon``); subclasses implement
    ``_fit(closes, rows, h)`` (nothing to learn by default) and :meth:`forecast`.
    """

    name = "baseline"
    #: rows of history a prediction at ``t`` needs before ``t`` (``t >= min_history``)
    min_history = 0

    def __init__(self) -> None:
        self.horizon_: int | None = None

    def fit(self, closes, train_end_rows, horizon: int = 1):
        """Fit on the training windows only.

        Parameters
        ----------
        closes : array_like, shape (n_rows,)
            Unscaled closes, currency, > 0.
        train_end_rows : array_like, shape (n_train,)
            End rows ``t`` of the training windows; needs ``t + horizon < n_rows``. Only
            ``closes[: max(train_end_rows) + horizon + 1]`` is read.
        horizon : int, default 1
            Forecast horizon h in trading days.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad closes, horizon or rows.
        """
        c = check_closes(closes)
        h = check_horizon(horizon)
        rows = check_rows(train_end_rows, c.size, first=self.min_history, last=c.size - 1 - h)
        self.horizon_ = h
        self._fit(c[: int(rows.max()) + h + 1], rows, h)
        return self

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        """Default: nothing to learn."""

    def forecast(self, closes, rows) -> np.ndarray:
        """Forecasts for origins ``rows`` ``(n_windows,)`` in the head's natural units
        (``(n_windows, k)`` quantiles for the quantile head).

        Raises
        ------
        ValueError
            Not fitted, bad closes or rows, or too little history before a row.
        """
        raise NotImplementedError

    def _prepare(self, closes, end_rows) -> tuple[np.ndarray, np.ndarray]:
        if self.horizon_ is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit() first")
        c = check_closes(closes)
        return c, check_rows(end_rows, c.size, first=self.min_history)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (for the evaluation report)."""
        return {}


def training_drift(closes: np.ndarray, rows: np.ndarray, h: int) -> tuple[float, float]:
    """Mean and standard deviation of the daily log returns of the training span.

    The span runs from the close at the first training window's end ``t0 = min(rows)``
    to the last training target ``t1 = max(rows) + h``: every daily log return
    ``r_s = log(c[s] / c[s-1])``, ``s = t0+1 .. t1``. Its mean is
    ``mu = log(c[t1] / c[t0]) / (t1 - t0)`` (the log returns telescope); ``sigma`` is
    their population standard deviation. Only closes up to the last training target
    are read.

    Returns
    -------
    (float, float)
        ``mu`` and ``sigma``, log return per session.
    """
    t0, t1 = int(rows.min()), int(rows.max()) + h
    r = np.diff(np.log(closes[t0 : t1 + 1]))
    return float(np.log(closes[t1] / closes[t0]) / (t1 - t0)), float(np.std(r))


class _DriftFit:
    """The fit shared by the drift baselines: ``mu_`` and ``sigma_`` of
    :func:`training_drift` (log return per session), from training rows only."""

    def __init__(self) -> None:
        super().__init__()
        self.mu_: float | None = None
        self.sigma_: float | None = None

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        self.mu_, self.sigma_ = training_drift(closes, rows, h)

    def get_params(self) -> dict[str, Any]:
        return {"mu": self.mu_, "sigma": self.sigma_}


def fit_all(baselines: dict, closes: np.ndarray, train_rows: np.ndarray, horizon: int):
    """Fit each baseline on the training windows it has enough history for.

    A baseline that needs ``min_history`` past rows (OLS and the logistic regression
    read ``lookback`` log returns, i.e. ``lookback + 1`` closes) skips the first training
    window(s), whose inputs start at row 0.

    Raises
    ------
    DataError
        A baseline cannot be fitted (too little history, one-class targets ...).
    """
    for name, b in baselines.items():
        rows = train_rows[train_rows >= b.min_history]
        if rows.size == 0:
            raise DataError(
                f"baseline {name} needs {b.min_history} rows of history before "
                "its first training window; prepare a longer series"
            )
        try:
            b.fit(closes, rows, horizon)
        except ValueError as exc:
            raise DataError(f"baseline {name}: {exc}") from exc
    return baselines
