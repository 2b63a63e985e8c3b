"""Volatility forecasting core: proxies, GARCH-family and simple baselines, loss functions,
Mincer-Zarnowitz, Diebold-Mariano on QLIKE, the Model Confidence Set, and causal features.

Numpy only at import; ``arch``, ``statsmodels``, ``scipy`` and ``pandas`` are imported
inside the functions that use them. No Keras here: the LSTM head calls this module.

Conventions (read these first)
------------------------------
* **Returns.** ``r_t = 100 * log(close_t / close_{t-1})``, **percent log returns**. A
  return series ``returns`` has shape ``(n,)``; ``returns[t]`` is the return that ends at
  session ``t``. :func:`series_from_frame` builds it from an OHLC frame: row ``i`` of the
  frame becomes session ``i - 1`` (the first row has no return and is dropped), and
  ``high[t]`` / ``low[t]`` / ``dates[t]`` belong to the same session as ``returns[t]``.
* **Units.** Variances are **variance of percent returns** (%^2); volatilities are
  percent. A daily variance of 1.0 means a 1 % daily standard deviation.
* **Origins and horizon.** A forecast made at the close of session ``t`` (its *origin*)
  for horizon ``h`` is the variance of the h-session return ``r_{t+1} + ... + r_{t+h}``.
  ``origins`` is an int array of shape ``(m,)`` of such ``t``; every function returns one
  value per origin, in the order given. Besides the fixed parameters, a forecast at
  ``t`` reads ``returns[: t + 1]`` only (checked by tests: changing any later return
  leaves it bit-identical). The parameters themselves use the whole training window, so
  forecasts at origins inside it are in-sample.
* **Training.** ``train_last`` is the index of the last return the fit may use: every
  parameter (GARCH coefficients, HAR coefficients, EWMA start value, constant variance)
  is computed from ``returns[: train_last + 1]`` and then held fixed; forecasts for later
  origins filter through realised returns with those fixed parameters. The HAR fit also
  keeps its training targets inside the window (``t + h <= train_last``).
* **Targets (proxies).** :func:`squared_return_proxy` and :func:`parkinson_proxy` give the
  realised counterpart of each forecast, shape ``(m,)``, from sessions ``t+1 .. t+h``.
* **Errors.** Pure numeric helpers raise ``ValueError`` with a one-line message (bad
  shape, non-finite values, origin out of range, too little history); callers wrap it
  into :class:`lstmfc.core.errors.DataError`. Functions that need the high/low columns raise
  ``DataError`` naming the missing column.

Models (``BASELINES``)
----------------------
``garch_normal``, ``garch_t`` (GARCH(1,1), Bollerslev 1986, J. Econometrics 31(3)),
``gjr_normal``, ``gjr_t`` (GJR-GARCH(1,1,1), Glosten, Jagannathan & Runkle 1993, J.
Finance 48(5)), ``egarch_normal``, ``egarch_t`` (EGARCH(1,1) with the sign term, Nelson
1991, Econometrica 59(2)) -- all with a constant mean, normal or standardized Student-t
errors (Bollerslev 1987, REStat 69(3)), fit by maximum likelihood with ``arch``;
``ewma`` (RiskMetrics, lambda = 0.94, J.P. Morgan/Reuters 1996, RiskMetrics Technical
Document, 4th ed.); ``har`` (HAR on squared returns, Corsi 2009, J. Financial
Econometrics 7(2)); ``rolling22`` (mean squared return over 22 sessions); ``constant``
(training variance).

Wiring summary
--------------
``series = series_from_frame(frame)``; ``train_last = last_index_on_or_before(series.dates,
"2013-01-28")``; ``origins = origins_for_target_dates(series.dates, first, last, h)``;
``fc = forecast_baselines(series.returns, train_last, origins, horizon=h)``;
``proxy = squared_return_proxy(series.returns, origins, h)``;
``report = evaluate_forecasts({k: v.variance for k, v in fc.items()}, proxy, horizon=h)``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.core.errors import DataError

__all__ = [
    "BASELINES",
    "VOL_FEATURES",
    "ConstantForecaster",
    "EWMAForecaster",
    "GarchForecaster",
    "GarchPath",
    "GarchPredictive",
    "HARForecaster",
    "RollingForecaster",
    "VolForecast",
    "VolForecaster",
    "VolSeries",
    "dm_on_losses",
    "evaluate_forecasts",
    "ewma_path",
    "forecast_baselines",
    "garch_variance_feature",
    "har_design",
    "last_index_on_or_before",
    "mae_vol",
    "make_forecaster",
    "mincer_zarnowitz",
    "model_confidence_set",
    "mse",
    "mse_losses",
    "origins_for_target_dates",
    "parkinson_proxy",
    "parkinson_variance",
    "percent_log_returns",
    "qlike",
    "qlike_losses",
    "series_from_frame",
    "squared_return_proxy",
    "volatility_features",
    "volatility_metrics",
]

#: Forecaster names understood by :func:`make_forecaster`, in report order.
BASELINES: tuple[str, ...] = (
    "garch_normal",
    "garch_t",
    "gjr_normal",
    "gjr_t",
    "egarch_normal",
    "egarch_t",
    "ewma",
    "har",
    "rolling22",
    "constant",
)

#: Feature names understood by :func:`volatility_features`.
VOL_FEATURES: tuple[str, ...] = (
    "log_return",
    "abs_return",
    "squared_return",
    "log_range",
    "rv5",
    "rv22",
)

_RANGE_FEATURES = frozenset({"log_range"})

#: RiskMetrics decay factor for daily data (J.P. Morgan/Reuters 1996, Technical Document).
RISKMETRICS_LAMBDA = 0.94

#: HAR windows: daily, weekly (5 sessions), monthly (22 sessions) (Corsi 2009).
HAR_WINDOWS: tuple[int, int, int] = (1, 5, 22)

#: Forecasts of the moving-window and regression baselines are floored at this fraction
#: of the (h-scaled) training variance so every forecast is positive (QLIKE needs f > 0);
#: the number of floored values is reported in ``VolForecast.notes``.
FLOOR_FRACTION = 0.01

#: Mincer-Zarnowitz treats a forecast whose range is below this fraction of its mean as
#: constant (slope not identified; the regression would be numerically meaningless).
_MZ_MIN_SPREAD = 1e-6

#: Fewest training returns a GARCH-family fit accepts (arch's backcast alone uses 75).
MIN_GARCH_TRAIN = 250

_ARCH_SPECS: dict[str, tuple[str, int]] = {
    "garch": ("GARCH", 0),
    "gjr": ("GARCH", 1),
    "egarch": ("EGARCH", 1),
}


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _vector(name: str, values: Any, *, min_size: int = 1) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        first = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value at position {first}")
    return arr


def _pair(name_a: str, a: Any, name_b: str, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vector(name_a, a), _vector(name_b, b)
    if x.size != y.size:
        raise ValueError(f"length mismatch: {name_a}={x.size}, {name_b}={y.size}")
    return x, y


def _horizon(horizon: Any) -> int:
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    return h


def _origins(origins: Any, n: int, *, horizon: int = 0, low: int = 0) -> np.ndarray:
    """Check origins: 1-D ints in ``[low, n - 1 - horizon]`` (horizon 0: no target needed)."""
    arr = np.asarray(origins)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"origins must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        if not np.array_equal(as_int, arr):
            raise ValueError("origins must be integer indices")
        arr = as_int
    arr = arr.astype(np.int64)
    hi = n - 1 - horizon
    bad = np.flatnonzero((arr < low) | (arr > hi))
    if bad.size:
        o = int(arr[bad[0]])
        if o < low:
            why = f"below {low} (too little history)" if low > 0 else "negative"
        else:
            why = f"past {hi}, the last index with {horizon} later returns"
            if not horizon:
                why = f"past the last return index {n - 1}"
        raise ValueError(f"origin {o} at position {int(bad[0])} is {why}")
    return arr


def _train_last(train_last: Any, n: int, min_obs: int) -> int:
    tl = int(train_last)
    if tl != train_last:
        raise ValueError(f"train_last must be an integer index, got {train_last}")
    if not 0 <= tl < n:
        raise ValueError(f"train_last {tl} outside the return series (0..{n - 1})")
    if tl + 1 < min_obs:
        raise ValueError(f"too few training returns: {tl + 1} (need at least {min_obs})")
    return tl


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------
# series and index helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VolSeries:
    """Percent log returns with their sessions' dates, high, low and close, aligned.

    Attributes
    ----------
    dates : numpy.ndarray, shape (n,), datetime64[ns]
        Session each return ends at.
    returns : numpy.ndarray, shape (n,)
        ``100 * log(close_t / close_{t-1})``, percent log returns.
    close : numpy.ndarray, shape (n,)
        Close of session t, currency.
    high, low : numpy.ndarray, shape (n,), or None
        High and low of session t, currency; ``None`` when the source frame lacks them.
    """

    dates: np.ndarray
    returns: np.ndarray
    close: np.ndarray
    high: np.ndarray | None = None
    low: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of returns."""
        return int(self.returns.size)


def percent_log_returns(close) -> np.ndarray:
    """Percent log returns ``100 * log(close[1:] / close[:-1])``.

    Parameters
    ----------
    close : array_like, shape (N,)
        Closes in date order, currency, strictly positive.

    Returns
    -------
    numpy.ndarray, shape (N - 1,)
        Percent log returns; element ``i`` ends at ``close[i + 1]``.

    Raises
    ------
    ValueError
        Fewer than 2 closes, non-finite or non-positive closes.
    """
    c = _vector("close", close, min_size=2)
    if np.any(c <= 0):
        raise ValueError(f"close must be > 0 (position {int(np.flatnonzero(c <= 0)[0])})")
    return 100.0 * np.diff(np.log(c))


def series_from_frame(frame) -> VolSeries:
    """Build the aligned :class:`VolSeries` from an OHLC(V) frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``close`` (required), ``high`` and ``low`` (optional), a date index in
        ascending order (as returned by ``lstmfc.data.sources.read_sample``).

    Returns
    -------
    VolSeries
        ``n = len(frame) - 1`` returns; the first row only supplies ``close_{-1}``.

    Raises
    ------
    DataError
        No ``close`` column, fewer than 2 rows, non-finite or non-positive prices (the
        message names the column and first bad date), ``high < low``, or only one of
        ``high``/``low`` present.
    """
    import pandas as pd

    if "close" not in frame.columns:
        raise DataError("volatility needs column 'close', which the data lacks")
    if len(frame) < 2:
        raise DataError(f"volatility needs at least 2 rows, got {len(frame)}")
    has = [c for c in ("high", "low") if c in frame.columns]
    if len(has) == 1:
        missing = "low" if has == ["high"] else "high"
        raise DataError(f"volatility needs column '{missing}' together with '{has[0]}'")
    index = pd.DatetimeIndex(frame.index)
    cols = ["close", *has]
    arrays = {}
    for col in cols:
        arr = frame[col].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if bad.size:
            when = index[bad[0]].date()
            raise DataError(f"column '{col}' is missing or not positive on {when}")
        arrays[col] = arr
    if has:
        bad = np.flatnonzero(arrays["high"] < arrays["low"])
        if bad.size:
            raise DataError(f"high below low on {index[bad[0]].date()}")
    return VolSeries(
        dates=index.to_numpy()[1:],
        returns=100.0 * np.diff(np.log(arrays["close"])),
        close=arrays["close"][1:],
        high=arrays["high"][1:] if has else None,
        low=arrays["low"][1:] if has else None,
    )


def last_index_on_or_before(dates, date) -> int:
    """Index of the last session dated on or before ``date`` (e.g. ``train_last``).

    Parameters
    ----------
    dates : array_like, shape (n,)
        Ascending session dates (``VolSeries.dates``).
    date : str or datetime-like

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``date`` is before the first session.
    """
    d = np.asarray(dates, dtype="datetime64[ns]")
    pos = int(np.searchsorted(d, np.datetime64(_to_ns(date)), side="right")) - 1
    if pos < 0:
        raise ValueError(f"no session on or before {date}")
    return pos


def _to_ns(date) -> np.datetime64:
    import pandas as pd

    return pd.Timestamp(date).to_datetime64()


def origins_for_target_dates(dates, first, last, horizon: int = 1) -> np.ndarray:
    """Origins ``t`` whose first target session ``t + 1`` is dated in ``[first, last]``.

    Origins whose h-session window would run past the last return are dropped.

    Parameters
    ----------
    dates : array_like, shape (n,)
        Ascending session dates (``VolSeries.dates``).
    first, last : str or datetime-like
        Inclusive bounds on the date of session ``t + 1``.
    horizon : int, default 1

    Returns
    -------
    numpy.ndarray, shape (m,), int64
        Ascending origins, each with ``t + horizon <= n - 1``.

    Raises
    ------
    ValueError
        No origin falls in the range.
    """
    h = _horizon(horizon)
    d = np.asarray(dates, dtype="datetime64[ns]")
    t = np.arange(d.size - h, dtype=np.int64)
    target = d[t + 1]
    keep = (target >= _to_ns(first)) & (target <= _to_ns(last))
    if not keep.any():
        raise ValueError(f"no forecast origin with a target session in {first} .. {last}")
    return t[keep]


# ---------------------------------------------------------------------------
# proxies
# ---------------------------------------------------------------------------


def _window_sum(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``sum(values[t+1 : t+1+h])`` per origin (exact, no cumulative sums)."""
    idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    return values[idx].sum(axis=1)


def squared_return_proxy(
    returns, origins, horizon: int = 1, *, aggregate: str = "sum_of_squares"
) -> np.ndarray:
    """Squared-return variance proxy for each origin, %^2.

    ``h = 1``: ``r_{t+1}**2``. For ``h > 1``:

    * ``"sum_of_squares"`` (default): ``sum_{k=1..h} r_{t+k}**2``, the daily realised
      variance of the window. Conditionally unbiased for the variance of
      ``r_{t+1} + ... + r_{t+h}`` when daily returns are serially uncorrelated with a
      negligible mean, and far less noisy than one squared draw (Andersen & Bollerslev
      1998, International Economic Review 39(4)); the HAR baseline targets the same sum.
    * ``"square_of_sum"``: ``(r_{t+1} + ... + r_{t+h})**2``, unbiased even with
      autocorrelation, but a single squared draw (noisier).

    Both are valid proxies for QLIKE and MSE model rankings (Patton 2011, J.
    Econometrics 160(1)) when conditionally unbiased.

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    origins : array_like, shape (m,), int
        Forecast origins, ``0 <= t <= n - 1 - h``.
    horizon : int, default 1
    aggregate : {"sum_of_squares", "square_of_sum"}

    Returns
    -------
    numpy.ndarray, shape (m,)
        Proxy in %^2, >= 0.

    Raises
    ------
    ValueError
        Bad shapes, non-finite returns, origins out of range, unknown ``aggregate``.
    """
    r = _vector("returns", returns)
    h = _horizon(horizon)
    o = _origins(origins, r.size, horizon=h)
    if aggregate == "sum_of_squares":
        return _window_sum(r * r, o, h)
    if aggregate == "square_of_sum":
        return _window_sum(r, o, h) ** 2
    raise ValueError(f"unknown aggregate {aggregate!r}: use 'sum_of_squares' or 'square_of_sum'")


def _need_range(high, low, what: str) -> None:
    for name, arr in (("high", high), ("low", low)):
        if arr is None:
            raise DataError(f"{what} needs column '{name}', which the data lacks")


def parkinson_variance(high, low) -> np.ndarray:
    """Parkinson (1980) range-based variance of each session, %^2.

    ``(100 * ln(H / L))**2 / (4 ln 2)`` (Parkinson 1980, "The extreme value method for
    estimating the variance of the rate of return", J. Business 53(1), eq. for
    ``sigma^2``). It measures the open-to-close (trading-hours) variance only: overnight
    gaps are missed, so it is biased low against close-to-close variance.

    Parameters
    ----------
    high, low : array_like, shape (n,)
        Session high and low, currency, ``high >= low > 0``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        %^2.

    Raises
    ------
    DataError
        ``high`` or ``low`` is ``None`` (the message names the column).
    ValueError
        Length mismatch, non-finite or non-positive values, ``high < low``.
    """
    _need_range(high, low, "the Parkinson variance")
    hi, lo = _pair("high", high, "low", low)
    if np.any(lo <= 0):
        raise ValueError(f"low must be > 0 (position {int(np.flatnonzero(lo <= 0)[0])})")
    if np.any(hi < lo):
        raise ValueError(f"high below low at position {int(np.flatnonzero(hi < lo)[0])}")
    return (100.0 * np.log(hi / lo)) ** 2 / (4.0 * math.log(2.0))


def parkinson_proxy(high, low, origins, horizon: int = 1) -> np.ndarray:
    """Parkinson range variance summed over the target sessions ``t+1 .. t+h``, %^2.

    Parameters
    ----------
    high, low : array_like, shape (n,), or None
        Session high/low aligned with ``returns`` (``VolSeries.high``/``.low``).
    origins : array_like, shape (m,), int
        ``0 <= t <= n - 1 - h``.
    horizon : int, default 1

    Returns
    -------
    numpy.ndarray, shape (m,)

    Raises
    ------
    DataError
        ``high`` or ``low`` is ``None`` (the message names the column).
    ValueError
        As :func:`parkinson_variance`, or origins out of range.
    """
    _need_range(high, low, "the Parkinson proxy")
    pv = parkinson_variance(high, low)
    h = _horizon(horizon)
    return _window_sum(pv, _origins(origins, pv.size, horizon=h), h)


# ---------------------------------------------------------------------------
# forecasters
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VolForecast:
    """Variance forecasts of one model for a set of origins.

    Attributes
    ----------
    name : str
        Forecaster name (see ``BASELINES``).
    horizon : int
        h; ``variance`` is the variance of the h-session return.
    origins : numpy.ndarray, shape (m,), int64
    variance : numpy.ndarray, shape (m,)
        Forecasts, %^2, all > 0.
    params : dict
        Fitted parameters held fixed (e.g. ``mu``, ``omega``, ``alpha[1]``, ``beta[1]``,
        ``nu`` for GARCH-t; ``const``, ``beta_d``, ``beta_w``, ``beta_m`` for HAR).
    converged : bool
        Optimiser success for arch fits (``convergence_flag == 0`` and no
        ``ConvergenceWarning``); ``True`` for closed-form baselines.
    notes : tuple of str
        One-line remarks: warnings caught during the fit, floored forecasts.
    fit_seconds, predict_seconds : float
        Wall-clock time.
    """

    name: str
    horizon: int
    origins: np.ndarray
    variance: np.ndarray
    params: dict[str, float]
    converged: bool
    notes: tuple[str, ...] = ()
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """JSON-ready dict; ``arrays=True`` adds ``origins`` and ``variance`` lists."""
        out: dict[str, Any] = {
            "name": self.name,
            "horizon": self.horizon,
            "n": int(self.variance.size),
            "params": {k: _json_float(v) for k, v in self.params.items()},
            "converged": bool(self.converged),
            "notes": list(self.notes),
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
        }
        if arrays:
            out["origins"] = [int(x) for x in self.origins]
            out["variance"] = [float(x) for x in self.variance]
        return out


class VolForecaster:
    """Common interface of every baseline: ``fit`` on training returns, ``predict`` origins.

    ``fit(returns, train_last, horizon=1) -> self`` reads ``returns[: train_last + 1]``;
    ``predict(returns, origins) -> (m,)`` variance forecasts of the h-session return, %^2,
    reading ``returns[: max(origins) + 1]`` with the parameters held fixed.

    Attributes
    ----------
    name : str
        Forecaster name (``BASELINES``).
    min_history : int
        Lowest origin the model can forecast from (21 for HAR and rolling22).
    params_ : dict of str -> float
        Fitted, fixed parameters.
    converged_ : bool
        Optimiser success (always ``True`` for closed-form baselines).
    notes_ : list of str
        One-line notes: warnings caught in the fit, then (after ``predict``) how many
        forecasts were floored.
    horizon_, train_last_ : int
    train_var_ : float
        Population variance of the training returns, %^2.

    Subclasses implement ``_fit(train)`` and ``_predict(returns, origins)``.
    """

    name = "base"
    min_history = 0
    min_train = 30

    def __init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.converged_: bool = True
        self.notes_: list[str] = []
        self.horizon_: int = 1
        self.train_last_: int = -1
        self.train_var_: float = float("nan")
        self._fit_notes: list[str] = []

    def fit(self, returns, train_last: int, horizon: int = 1):
        """Fit on ``returns[: train_last + 1]`` for horizon ``h``; returns ``self``.

        Parameters
        ----------
        returns : array_like, shape (n,)
            Percent log returns (entries after ``train_last`` are not read).
        train_last : int
            Index of the last return the fit may use.
        horizon : int, default 1
            h; forecasts are variances of h-session returns.

        Raises
        ------
        ValueError
            Non-finite training returns, ``train_last`` out of range, too little data.
        """
        r = np.asarray(returns, dtype=np.float64)
        if r.ndim != 1:
            raise ValueError(f"returns must be 1-D, got shape {r.shape}")
        tl = _train_last(train_last, r.size, self.min_train)
        train = _vector("training returns", r[: tl + 1])
        self.horizon_ = _horizon(horizon)
        self.train_last_ = tl
        self.train_var_ = float(np.var(train))
        self.notes_ = []
        self.converged_ = True
        self._fit(train)
        self._fit_notes = list(self.notes_)
        return self

    def predict(self, returns, origins) -> np.ndarray:
        """Variance forecasts of the h-session return for each origin, %^2, shape (m,).

        Reads ``returns[: max(origins) + 1]`` only; a forecast at ``t`` depends on
        ``returns[: t + 1]`` and the fitted parameters.

        Raises
        ------
        ValueError
            Not fitted, origins out of range or before ``min_history``, non-finite
            returns up to the last origin.
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = np.asarray(returns, dtype=np.float64)
        if r.ndim != 1:
            raise ValueError(f"returns must be 1-D, got shape {r.shape}")
        o = _origins(origins, r.size, low=self.min_history)
        r = _vector("returns", r[: int(o.max()) + 1])
        self.notes_ = list(self._fit_notes)
        f = self._predict(r, o)
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            first = int(np.flatnonzero(~(np.isfinite(f) & (f > 0)))[0])
            raise ValueError(f"{self.name} produced a non-positive forecast at origin {o[first]}")
        return f

    def _floor(self, f: np.ndarray) -> np.ndarray:
        floor = FLOOR_FRACTION * self.horizon_ * self.train_var_
        low = f < floor
        if low.any():
            self.notes_.append(
                f"{int(low.sum())} forecasts floored at {FLOOR_FRACTION:g} x training variance"
            )
            f = np.where(low, floor, f)
        return f

    def _fit(self, train: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class ConstantForecaster(VolForecaster):
    """Constant forecast: ``h * var(training returns)`` (population variance, ddof 0)."""

    name = "constant"

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"variance": self.train_var_}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        if not self.train_var_ > 0:
            raise ValueError("constant forecaster: training variance is 0")
        return np.full(o.size, self.horizon_ * self.train_var_)


class RollingForecaster(VolForecaster):
    """Rolling realised variance: ``h * mean(r_{t-w+1..t}**2)`` (zero-mean, window ``w``).

    The mean of squared percent returns over the last ``w`` sessions (default 22, one
    trading month), scaled by h (square-root-of-time rule). Forecasts below
    ``FLOOR_FRACTION`` times the h-scaled training variance are floored (reported).
    """

    min_train = 30

    def __init__(self, window: int = 22) -> None:
        super().__init__()
        if int(window) != window or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window}")
        self.window = int(window)
        self.name = f"rolling{self.window}"
        self.min_history = self.window - 1

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"window": float(self.window)}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        rv = _trailing_mean(r * r, self.window)
        return self._floor(self.horizon_ * rv[o])


class EWMAForecaster(VolForecaster):
    """RiskMetrics EWMA: ``s_{t+1} = lam * s_t + (1 - lam) * r_t**2``, forecast ``h * s_{t+1}``.

    J.P. Morgan/Reuters (1996), RiskMetrics Technical Document, 4th ed., section 5.2
    (zero mean, ``lam = 0.94`` for daily data). The recursion starts at the first return
    with ``s_0 = var(training returns)`` (ddof 0) and runs through realised returns; the
    h-step forecast is flat (``h * s_{t+1}``), as in RiskMetrics.
    """

    name = "ewma"

    def __init__(self, lam: float = RISKMETRICS_LAMBDA) -> None:
        super().__init__()
        if not 0.0 < lam < 1.0:
            raise ValueError(f"lambda must lie in (0, 1), got {lam}")
        self.lam = float(lam)

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"lambda": self.lam, "initial_variance": self.train_var_}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        s = ewma_path(r, self.lam, self.train_var_)
        return self._floor(self.horizon_ * s[o + 1])


def ewma_path(returns, lam: float, initial_variance: float) -> np.ndarray:
    """RiskMetrics EWMA variance path, %^2.

    ``s[0] = initial_variance``, ``s[t + 1] = lam * s[t] + (1 - lam) * r_t**2``; ``s[t+1]``
    is the one-step forecast made at the close of ``t`` (J.P. Morgan/Reuters 1996).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    lam : float
        Decay, in (0, 1).
    initial_variance : float
        ``s[0]``, %^2.

    Returns
    -------
    numpy.ndarray, shape (n + 1,)
    """
    r = np.asarray(returns, dtype=np.float64)
    s = np.empty(r.size + 1)
    s[0] = initial_variance
    w = 1.0 - lam
    prev = float(initial_variance)
    for t, x in enumerate(r.tolist()):
        prev = lam * prev + w * x * x
        s[t + 1] = prev
    return s


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """``mean(values[t-w+1 : t+1])`` at each t; NaN for ``t < w - 1`` (causal)."""
    out = np.full(values.size, np.nan)
    if values.size >= window:
        from numpy.lib.stride_tricks import sliding_window_view

        out[window - 1 :] = sliding_window_view(values, window).mean(axis=1)
    return out


def har_design(returns, origins) -> np.ndarray:
    """HAR regressors at each origin: ``[1, RV_d, RV_w, RV_m]``, shape (m, 4), %^2.

    ``RV_d = r_t**2``, ``RV_w = mean(r_{t-4..t}**2)``, ``RV_m = mean(r_{t-21..t}**2)``
    (Corsi 2009, "A simple approximate long-memory model of realized volatility", J.
    Financial Econometrics 7(2) 174-196, eq. 8, with squared daily returns in place of
    intraday realised variance).

    Parameters
    ----------
    returns : array_like, shape (n,)
    origins : array_like, shape (m,), int, each ``>= 21``

    Returns
    -------
    numpy.ndarray, shape (m, 4)

    Raises
    ------
    ValueError
        Origins below 21 or past ``n - 1``, non-finite returns.
    """
    r = _vector("returns", returns)
    o = _origins(origins, r.size, low=HAR_WINDOWS[-1] - 1)
    r2 = r * r
    cols = [np.ones(o.size)]
    for w in HAR_WINDOWS:
        cols.append(_trailing_mean(r2, w)[o])
    return np.column_stack(cols)


class HARForecaster(VolForecaster):
    """HAR on squared returns, fitted by OLS on training rows; direct regression for h > 1.

    ``sum_{k=1..h} r_{t+k}**2 = b0 + b_d RV_d + b_w RV_w + b_m RV_m + e`` (Corsi 2009,
    J. Financial Econometrics 7(2); the h-session target as in Corsi's eq. 9 with a sum
    of daily squared returns). Training rows are origins ``21 <= t <= train_last - h``,
    so every training target lies inside the training window. OLS by
    ``numpy.linalg.lstsq``. Forecasts below ``FLOOR_FRACTION`` times the h-scaled training
    variance are floored (reported in notes).
    """

    name = "har"
    min_history = HAR_WINDOWS[-1] - 1
    min_train = HAR_WINDOWS[-1] + 50

    def _fit(self, train: np.ndarray) -> None:
        h = self.horizon_
        rows = np.arange(self.min_history, train.size - h, dtype=np.int64)
        if rows.size < 30:
            raise ValueError(f"HAR needs at least 30 training rows, got {rows.size}")
        x = har_design(train, rows)
        y = _window_sum(train * train, rows, h)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        self.coef_ = coef
        self.params_ = dict(
            zip(("const", "beta_d", "beta_w", "beta_m"), map(float, coef), strict=True)
        )
        self.params_["n_train_rows"] = float(rows.size)

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        return self._floor(har_design(r, o) @ self.coef_)


@dataclass(frozen=True)
class GarchPath:
    """In-sample/filtered path of a fitted GARCH-family model over a return series.

    Attributes
    ----------
    mean : numpy.ndarray, shape (n,)
        Conditional mean of ``r_t`` (the constant ``mu``), percent.
    variance : numpy.ndarray, shape (n,)
        ``sigma2_t = Var(r_t | returns up to t-1)``, %^2 (index 0 uses arch's backcast).
    std_resid : numpy.ndarray, shape (n,)
        ``(r_t - mu) / sigma_t``.
    one_step : numpy.ndarray, shape (n,)
        ``sigma2_{t+1|t}``, the one-step forecast made at the close of ``t``, %^2.
    """

    mean: np.ndarray
    variance: np.ndarray
    std_resid: np.ndarray
    one_step: np.ndarray


@dataclass(frozen=True)
class GarchPredictive:
    """One-step predictive distribution ``r_{t+1} = mean + sqrt(variance) * z``.

    ``z`` follows the fitted standardized distribution (unit variance): ``"normal"`` or
    ``"t"`` (Student-t rescaled to unit variance, shape ``nu``; arch ``StudentsT``).

    Attributes
    ----------
    origins : numpy.ndarray, shape (m,)
    mean : numpy.ndarray, shape (m,)
        Percent.
    variance : numpy.ndarray, shape (m,)
        %^2.
    dist : str
        ``"normal"`` or ``"t"``.
    shape : dict
        Shape parameters, ``{"nu": ...}`` for ``"t"``, empty for ``"normal"``.
    """

    origins: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    dist: str
    shape: dict[str, float] = field(default_factory=dict)

    def ppf(self, q) -> np.ndarray:
        """Quantiles of the standardized distribution ``z`` at probabilities ``q``.

        Parameters
        ----------
        q : float or array_like
            Probabilities in (0, 1).

        Returns
        -------
        numpy.ndarray
            Same shape as ``q`` (arch ``Normal.ppf`` / ``StudentsT.ppf``).
        """
        from arch.univariate import Normal, StudentsT

        qa = np.asarray(q, dtype=np.float64)
        if np.any((qa <= 0) | (qa >= 1)):
            raise ValueError("probabilities must lie in (0, 1)")
        if self.dist == "t":
            return np.asarray(StudentsT().ppf(qa, np.array([self.shape["nu"]])))
        return np.asarray(Normal().ppf(qa))

    def quantile(self, q: float) -> np.ndarray:
        """Return quantile per origin: ``mean + sqrt(variance) * ppf(q)``, percent, (m,).

        ``quantile(0.01)`` is the negative of the 99 % one-day VaR in percent log return.
        """
        return self.mean + np.sqrt(self.variance) * float(self.ppf(float(q)))


class GarchForecaster(VolForecaster):
    """GARCH-family forecaster (constant mean) estimated with ``arch``.

    ``kind``: ``"garch"`` GARCH(1,1) (Bollerslev 1986), ``"gjr"`` GJR-GARCH(1,1,1)
    (Glosten, Jagannathan & Runkle 1993), ``"egarch"`` EGARCH(1,1) with the sign term
    (Nelson 1991; arch ``EGARCH(p=1, o=1, q=1)``). ``dist``: ``"normal"`` or ``"t"``
    (standardized Student-t). Fit: ``arch_model(returns[:train_last+1], mean="Constant",
    vol=..., p=1, o=..., q=1, dist=..., rescale=False).fit(disp="off")`` (arch docs,
    "Univariate volatility models"). Warnings raised during the fit are caught and
    reported in ``notes_``; ``converged_`` is ``False`` when the optimiser failed.

    Filtering uses arch's own recursions (``VolatilityProcess.forecast`` /
    ``compute_variance``) with the fixed parameters, arch's backcast from the training
    residuals (weighted mean of the first 75 squared residuals) and no data-dependent
    variance bounds, so a forecast at ``t`` reads ``returns[: t + 1]`` only. It equals
    ``arch_model(returns).fix(params).forecast(...)`` whenever arch's loose bounds do not
    bind (they never do on ordinary return data; tests compare).

    h-step forecasts sum the 1..h step variance forecasts (analytic for GARCH and GJR;
    EGARCH uses arch's simulation method with ``simulations`` paths and ``seed``).
    """

    min_train = MIN_GARCH_TRAIN

    def __init__(
        self, kind: str = "garch", dist: str = "normal", *, simulations: int = 1000, seed=0
    ) -> None:
        super().__init__()
        if kind not in _ARCH_SPECS:
            raise ValueError(f"unknown GARCH kind {kind!r}: use {', '.join(_ARCH_SPECS)}")
        if dist not in ("normal", "t"):
            raise ValueError(f"unknown dist {dist!r}: use 'normal' or 't'")
        self.kind, self.dist = kind, dist
        self.name = f"{kind}_{dist}"
        self.simulations = int(simulations)
        self.seed = seed

    def _fit(self, train: np.ndarray) -> None:
        from arch import arch_model
        from arch.utility.exceptions import ConvergenceWarning

        vol, o = _ARCH_SPECS[self.kind]
        model = arch_model(
            train, mean="Constant", vol=vol, p=1, o=o, q=1, dist=self.dist, rescale=False
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = model.fit(disp="off")
        self.converged_ = int(res.convergence_flag) == 0
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                self.converged_ = False
            self.notes_.append(f"{w.category.__name__}: {' '.join(str(w.message).split())}")
        params = np.asarray(res.params, dtype=np.float64)
        if not np.all(np.isfinite(params)):
            raise ValueError(f"{self.name} fit returned non-finite parameters")
        self._model = model
        self.param_array_ = params
        self.params_ = {str(k): float(v) for k, v in res.params.items()}
        nm, nv = model.num_params, model.volatility.num_params
        self._mu = float(params[0]) if nm else 0.0
        self._vp = params[nm : nm + nv]
        self._dp = params[nm + nv :]
        self._backcast = model.volatility.backcast(train - self._mu)
        self.loglikelihood_ = float(res.loglikelihood)

    @property
    def distribution_shape(self) -> dict[str, float]:
        """``{"nu": ...}`` for Student-t errors, ``{}`` for normal."""
        return {"nu": float(self._dp[0])} if self.dist == "t" else {}

    def _variance_forecasts(self, r: np.ndarray, start: int, h: int) -> np.ndarray:
        """(len(r) - start, h) array of 1..h step variance forecasts from origins start.."""
        resids = r - self._mu
        bounds = np.column_stack([np.zeros(resids.size), np.full(resids.size, np.inf)])
        vol = self._model.volatility
        kwargs: dict[str, Any] = {}
        method = "analytic"
        if h > 1 and self.kind == "egarch":
            method = "simulation"
            dist = type(self._model.distribution)(seed=self.seed)
            kwargs = {"simulations": self.simulations, "rng": dist.simulate(self._dp)}
        fc = vol.forecast(
            self._vp,
            resids,
            self._backcast,
            bounds,
            start=start,
            horizon=h,
            method=method,
            **kwargs,
        )
        return np.asarray(fc.forecasts)

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        start = int(o.min())
        fc = self._variance_forecasts(r, start, self.horizon_)
        return fc[o - start].sum(axis=1)

    def path(self, returns) -> GarchPath:
        """Filtered conditional mean/variance path over the whole series (fixed params).

        Parameters
        ----------
        returns : array_like, shape (n,)
            Percent log returns; the first ``train_last + 1`` are the training sample.

        Returns
        -------
        GarchPath
            ``variance[t]`` reads ``returns[:t]``; ``one_step[t]`` reads ``returns[:t+1]``
            (plus arch's backcast from the first 75 training residuals).
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = _vector("returns", returns)
        resids = np.concatenate([r - self._mu, [0.0]])
        sigma2 = np.zeros(resids.size)
        bounds = np.column_stack([np.zeros(resids.size), np.full(resids.size, np.inf)])
        self._model.volatility.compute_variance(self._vp, resids, sigma2, self._backcast, bounds)
        var = sigma2[:-1].copy()
        return GarchPath(
            mean=np.full(r.size, self._mu),
            variance=var,
            std_resid=(r - self._mu) / np.sqrt(var),
            one_step=sigma2[1:].copy(),
        )

    def predictive(self, returns, origins) -> GarchPredictive:
        """One-step predictive mean, variance and standardized distribution per origin.

        Parameters
        ----------
        returns : array_like, shape (n,)
        origins : array_like, shape (m,), int, ``0 <= t <= n - 1``

        Returns
        -------
        GarchPredictive
            For ``r_{t+1}``; use ``.quantile(q)`` or ``.ppf(q)`` for VaR.
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = np.asarray(returns, dtype=np.float64)
        o = _origins(origins, r.size)
        r = _vector("returns", r[: int(o.max()) + 1])
        start = int(o.min())
        var = self._variance_forecasts(r, start, 1)[o - start, 0]
        return GarchPredictive(
            origins=o,
            mean=np.full(o.size, self._mu),
            variance=var,
            dist=self.dist,
            shape=self.distribution_shape,
        )


def garch11_parameters(model: GarchForecaster, returns) -> dict[str, Any]:
    """JSON-ready parameters of a fitted GARCH(1,1) with normal errors, for filtering
    new returns later without refitting.

    Parameters
    ----------
    model : GarchForecaster
        Fitted on ``returns`` (kind ``"garch"``, dist ``"normal"``).
    returns : array_like, shape (n,)
        The percent log returns it was fit on.

    Returns
    -------
    dict
        ``model``, ``dist``, ``mu`` (percent), ``omega`` (%^2), ``alpha``, ``beta``,
        ``backcast`` (%^2: arch's ``GARCH().backcast`` of the demeaned returns, an
        exponentially weighted mean of the first 75 squared residuals) and
        ``converged``.
    """
    from arch.univariate import GARCH

    p = model.params_
    mu = float(p["mu"])
    r = np.asarray(returns, dtype="float64")
    return {
        "model": "GARCH(1,1)",
        "dist": "normal",
        "mu": mu,
        "omega": float(p["omega"]),
        "alpha": float(p["alpha[1]"]),
        "beta": float(p["beta[1]"]),
        "backcast": float(GARCH().backcast(r - mu)),
        "converged": bool(model.converged_),
    }


def make_forecaster(name: str, *, seed=0) -> VolForecaster:
    """A fresh, unfitted forecaster by baseline name (see ``BASELINES``).

    Also accepts ``rolling<w>`` for any window ``w`` (e.g. ``rolling66``).

    Raises
    ------
    ValueError
        Unknown name.
    """
    if name in ("ewma",):
        return EWMAForecaster()
    if name == "har":
        return HARForecaster()
    if name == "constant":
        return ConstantForecaster()
    if name.startswith("rolling") and name[7:].isdigit():
        return RollingForecaster(int(name[7:]))
    kind, _, dist = name.partition("_")
    if kind in _ARCH_SPECS and dist in ("normal", "t"):
        return GarchForecaster(kind, dist, seed=seed)
    raise ValueError(f"unknown volatility baseline {name!r}: use {', '.join(BASELINES)}")


def forecast_baselines(
    returns,
    train_last: int,
    origins,
    horizon: int = 1,
    names: Sequence[str] | None = None,
    *,
    seed=0,
) -> dict[str, VolForecast]:
    """Fit each baseline on training returns and forecast the given origins.

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    train_last : int
        Index of the last return the fits may use.
    origins : array_like, shape (m,), int
        Forecast origins (each ``>= 21`` when HAR or rolling22 is included).
    horizon : int, default 1
    names : sequence of str, optional
        Baselines to run; default ``BASELINES``.
    seed : int, default 0
        Seed of the EGARCH simulation forecasts (h > 1 only).

    Returns
    -------
    dict
        name -> :class:`VolForecast`, in the order of ``names``.

    Raises
    ------
    ValueError
        As the forecasters' ``fit`` / ``predict``.
    """
    out: dict[str, VolForecast] = {}
    o = np.asarray(origins)
    for name in BASELINES if names is None else names:
        model = make_forecaster(name, seed=seed)
        t0 = time.perf_counter()
        model.fit(returns, train_last, horizon)
        t1 = time.perf_counter()
        f = model.predict(returns, o)
        t2 = time.perf_counter()
        out[name] = VolForecast(
            name=name,
            horizon=int(horizon),
            origins=o.astype(np.int64),
            variance=f,
            params=dict(model.params_ or {}),
            converged=bool(model.converged_),
            notes=tuple(model.notes_),
            fit_seconds=round(t1 - t0, 4),
            predict_seconds=round(t2 - t1, 4),
        )
    return out


def garch_variance_feature(
    returns, train_last: int, *, kind: str = "garch", dist: str = "normal"
) -> np.ndarray:
    """GARCH one-step variance forecast at every close, as a network input, %^2.

    Parameters are fit on ``returns[: train_last + 1]`` only and held fixed; the
    conditional variance is then filtered over the whole series. Element ``t`` is
    ``sigma2_{t+1|t}``, known at the close of ``t`` (reads ``returns[: t + 1]`` and arch's
    backcast from the first 75 training residuals). The LSTM-GARCH hybrid feeds such
    GARCH outputs to the network (Kim & Won 2018, "Forecasting the volatility of stock
    price index: A hybrid model integrating LSTM with multiple GARCH-type models",
    Expert Systems with Applications 103, 25-37).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    train_last : int
    kind : {"garch", "gjr", "egarch"}, default "garch"
    dist : {"normal", "t"}, default "normal"

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :meth:`GarchForecaster.fit`.
    """
    model = GarchForecaster(kind, dist).fit(returns, train_last)
    return model.path(returns).one_step


# ---------------------------------------------------------------------------
# loss functions and evaluation
# ---------------------------------------------------------------------------


def _proxy_forecast(proxy, forecast) -> tuple[np.ndarray, np.ndarray]:
    p, f = _pair("proxy", proxy, "forecast", forecast)
    if np.any(f <= 0):
        raise ValueError(f"forecast must be > 0 (position {int(np.flatnonzero(f <= 0)[0])})")
    if np.any(p < 0):
        raise ValueError(f"proxy must be >= 0 (position {int(np.flatnonzero(p < 0)[0])})")
    return p, f


def qlike_losses(proxy, forecast) -> np.ndarray:
    """Per-date QLIKE loss ``log f + proxy / f``.

    Robust to noise in a conditionally unbiased variance proxy (Patton 2011, "Volatility
    forecast comparison using imperfect volatility proxies", J. Econometrics 160(1)
    246-256, eq. 24 up to an additive term that does not depend on the forecast).

    Parameters
    ----------
    proxy : array_like, shape (n,)
        Realised variance proxy, %^2, >= 0.
    forecast : array_like, shape (n,)
        Variance forecast, %^2, > 0.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        Length mismatch, non-finite values, ``forecast <= 0`` or ``proxy < 0``.
    """
    p, f = _proxy_forecast(proxy, forecast)
    return np.log(f) + p / f


def mse_losses(proxy, forecast) -> np.ndarray:
    """Per-date squared error on variance ``(proxy - f)**2``, %^4 (Patton 2011, MSE)."""
    p, f = _proxy_forecast(proxy, forecast)
    return (p - f) ** 2


def qlike(proxy, forecast) -> float:
    """Mean QLIKE, ``mean(log f + proxy / f)`` (see :func:`qlike_losses`)."""
    return float(np.mean(qlike_losses(proxy, forecast)))


def mse(proxy, forecast) -> float:
    """Mean squared error on variance, %^4 (see :func:`mse_losses`)."""
    return float(np.mean(mse_losses(proxy, forecast)))


def mae_vol(proxy, forecast) -> float:
    """Mean absolute error on volatility ``mean(|sqrt(proxy) - sqrt(f)|)``, percent."""
    p, f = _proxy_forecast(proxy, forecast)
    return float(np.mean(np.abs(np.sqrt(p) - np.sqrt(f))))


def mincer_zarnowitz(proxy, forecast, *, horizon: int = 1, hac_lags: int | None = None):
    """Mincer-Zarnowitz regression ``proxy = a + b f + e`` with HAC standard errors.

    OLS by statsmodels; Newey-West (Bartlett kernel) covariance with ``hac_lags`` lags,
    default ``max(h - 1, floor(4 (n/100)^(2/9)))`` (Newey & West 1994, REStud 61(4)
    rule of thumb; at least the h - 1 overlap lags), no small-sample correction. Joint
    Wald test of ``a = 0, b = 1`` against chi^2(2) (Mincer & Zarnowitz 1969, "The
    evaluation of economic forecasts", NBER; Patton & Sheppard 2009, Handbook of
    Financial Time Series, "Evaluating volatility and correlation forecasts").

    Parameters
    ----------
    proxy, forecast : array_like, shape (n,)
        %^2; ``n >= 3``.
    horizon : int, default 1
    hac_lags : int, optional

    Returns
    -------
    dict
        ``intercept``, ``slope``, ``se_intercept``, ``se_slope`` (HAC), ``r2``,
        ``wald_stat``, ``wald_p_value``, ``hac_lags``, ``n``, ``note``. JSON-ready:
        when the forecast is (nearly) constant -- range below 1e-6 of its mean, e.g. a
        GARCH fit with ``alpha ~ 0`` -- the slope is not identified, every estimate is
        ``None`` and ``note`` says why.

    Raises
    ------
    ValueError
        As :func:`qlike_losses`, fewer than 3 values.
    """
    import statsmodels.api as sm

    p, f = _proxy_forecast(proxy, forecast)
    n = p.size
    if n < 3:
        raise ValueError(f"Mincer-Zarnowitz regression needs at least 3 values, got {n}")
    h = _horizon(horizon)
    lags = (
        max(h - 1, int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))))
        if hac_lags is None
        else int(hac_lags)
    )
    out: dict[str, Any] = {"hac_lags": lags, "n": int(n)}
    if np.ptp(f) <= _MZ_MIN_SPREAD * float(np.mean(f)):
        out.update(
            intercept=None, slope=None, se_intercept=None, se_slope=None, r2=None,
            wald_stat=None, wald_p_value=None,
            note="forecast (nearly) constant: the slope is not identified",
        )  # fmt: skip
        return out
    x = sm.add_constant(f, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-finite values become None below
        res = sm.OLS(p, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        wald = res.wald_test((np.eye(2), np.array([0.0, 1.0])), use_f=False, scalar=True)
    out.update(
        intercept=_json_float(res.params[0]),
        slope=_json_float(res.params[1]),
        se_intercept=_json_float(res.bse[0]),
        se_slope=_json_float(res.bse[1]),
        r2=_json_float(res.rsquared),
        wald_stat=_json_float(wald.statistic),
        wald_p_value=_json_float(wald.pvalue),
        note=None,
    )
    return out


def volatility_metrics(proxy, forecast, *, horizon: int = 1) -> dict[str, Any]:
    """QLIKE, MSE (variance), MAE (volatility) and Mincer-Zarnowitz for one model.

    Parameters
    ----------
    proxy, forecast : array_like, shape (n,)
        %^2.
    horizon : int, default 1

    Returns
    -------
    dict
        ``qlike``, ``mse`` (%^4), ``mae_vol`` (percent), ``mincer_zarnowitz`` (dict),
        ``n``.
    """
    return {
        "qlike": qlike(proxy, forecast),
        "mse": mse(proxy, forecast),
        "mae_vol": mae_vol(proxy, forecast),
        "mincer_zarnowitz": mincer_zarnowitz(proxy, forecast, horizon=horizon),
        "n": int(np.asarray(proxy).size),
    }


def dm_on_losses(
    loss_model,
    loss_bench,
    horizon: int = 1,
    *,
    alpha: float = 0.05,
    benchmark: str = "garch_normal",
    loss: str = "qlike",
):
    """Diebold-Mariano test (HLN correction) on per-date losses, e.g. QLIKE.

    ``d = loss_model - loss_bench``, passed to
    :func:`lstmfc.stats.skill.diebold_mariano_differential` (Diebold & Mariano 1995; Harvey,
    Leybourne & Newbold 1997). With QLIKE on a conditionally unbiased proxy the ranking
    is the one of the true variance (Patton 2011).

    Parameters
    ----------
    loss_model, loss_bench : array_like, shape (n,)
        Per-date losses (:func:`qlike_losses`, :func:`mse_losses`).
    horizon : int, default 1
    alpha : float, default 0.05
    benchmark : str, default "garch_normal"
        Benchmark name for the verdict.
    loss : str, default "qlike"
        Loss name recorded in ``details``.

    Returns
    -------
    lstmfc.stats.skill.SkillTest
        ``p_value`` one-sided for "the model has lower loss than the benchmark".

    Raises
    ------
    ValueError
        Length mismatch, non-finite values, too few dates for the correction.
    """
    from lstmfc.stats.skill import diebold_mariano_differential

    a, b = _pair("loss_model", loss_model, "loss_bench", loss_bench)
    return diebold_mariano_differential(
        a - b, horizon=horizon, alpha=alpha, benchmark=benchmark, loss=loss
    )


def model_confidence_set(
    losses: Mapping[str, Any],
    *,
    size: float = 0.10,
    reps: int = 1000,
    block_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Model Confidence Set (Hansen, Lunde & Nason 2011, Econometrica 79(2) 453-497).

    Runs ``arch.bootstrap.MCS(losses, size, reps, block_size, method="R",
    bootstrap="stationary", seed=seed).compute()`` (arch docs, "Model Confidence Set";
    the range statistic T_R with the stationary bootstrap of Politis & Romano 1994).

    Parameters
    ----------
    losses : mapping of str -> array_like, shape (n,)
        Per-date losses of at least 2 models, same dates in the same order.
    size : float, default 0.10
        MCS size (models with MCS p-value >= size are included: a 90 % set).
    reps : int, default 1000
        Bootstrap replications.
    block_size : int, optional
        Mean block length; arch's default ``sqrt(n)`` when ``None``.
    seed : int, default 0

    Returns
    -------
    dict
        ``included`` and ``excluded`` (lists of names, in ``losses`` order),
        ``p_values`` (name -> MCS p-value), ``size``, ``method``, ``bootstrap``,
        ``reps``, ``block_size``, ``seed``, ``n``. JSON-ready.

    Raises
    ------
    ValueError
        Fewer than 2 models, length mismatch, non-finite losses, ``size`` outside (0, 1).
    """
    import pandas as pd
    from arch.bootstrap import MCS

    if len(losses) < 2:
        raise ValueError(f"the Model Confidence Set needs at least 2 models, got {len(losses)}")
    if not 0.0 < size < 1.0:
        raise ValueError(f"size must lie in (0, 1), got {size}")
    names = [str(k) for k in losses]
    cols = [_vector(f"losses[{k!r}]", v, min_size=2) for k, v in losses.items()]
    if len({c.size for c in cols}) > 1:
        desc = ", ".join(f"{k}={c.size}" for k, c in zip(names, cols, strict=True))
        raise ValueError(f"length mismatch: {desc}")
    frame = pd.DataFrame(dict(zip(names, cols, strict=True)))
    mcs = MCS(
        frame,
        size=size,
        reps=int(reps),
        block_size=block_size,
        method="R",
        bootstrap="stationary",
        seed=seed,
    )
    mcs.compute()
    pv = mcs.pvalues.iloc[:, 0]
    included = set(mcs.included)
    return {
        "included": [k for k in names if k in included],
        "excluded": [k for k in names if k not in included],
        "p_values": {k: float(pv[k]) for k in names},
        "size": float(size),
        "method": "R",
        "bootstrap": "stationary",
        "reps": int(reps),
        "block_size": int(mcs.block_size),
        "seed": seed,
        "n": int(cols[0].size),
    }


def evaluate_forecasts(
    forecasts: Mapping[str, Any],
    proxy,
    *,
    horizon: int = 1,
    benchmark: str | None = "garch_normal",
    mcs_loss: str = "qlike",
    mcs_size: float = 0.10,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Score several variance forecasts on one proxy: metrics, DM vs a benchmark, MCS.

    Parameters
    ----------
    forecasts : mapping of str -> array_like shape (m,) or VolForecast
        Variance forecasts, %^2, aligned with ``proxy``.
    proxy : array_like, shape (m,)
        Realised variance proxy, %^2.
    horizon : int, default 1
    benchmark : str or None, default "garch_normal"
        Model every other is tested against (Diebold-Mariano on QLIKE differentials);
        ``None`` or a name not in ``forecasts`` skips the DM tests.
    mcs_loss : {"qlike", "mse"}, default "qlike"
    mcs_size : float, default 0.10
    seed : int, default 0
        MCS bootstrap seed.
    alpha : float, default 0.05
        DM verdict level.

    Returns
    -------
    dict
        ``models``: name -> :func:`volatility_metrics` (+ ``dm_qlike_vs_benchmark`` as a
        SkillTest dict); ``mcs``: :func:`model_confidence_set` on ``mcs_loss``;
        ``benchmark``, ``horizon``, ``n``. JSON-ready.
    """
    if mcs_loss not in ("qlike", "mse"):
        raise ValueError(f"unknown mcs_loss {mcs_loss!r}: use 'qlike' or 'mse'")
    h = _horizon(horizon)
    arrays = {k: (v.variance if isinstance(v, VolForecast) else v) for k, v in forecasts.items()}
    ql = {k: qlike_losses(proxy, v) for k, v in arrays.items()}
    models: dict[str, Any] = {}
    for k, v in arrays.items():
        entry = volatility_metrics(proxy, v, horizon=h)
        if benchmark in arrays and k != benchmark:
            entry["dm_qlike_vs_benchmark"] = dm_on_losses(
                ql[k], ql[benchmark], h, alpha=alpha, benchmark=benchmark
            ).to_dict()
        models[k] = entry
    mcs = None
    if len(arrays) >= 2:
        lossd = ql if mcs_loss == "qlike" else {k: mse_losses(proxy, v) for k, v in arrays.items()}
        mcs = model_confidence_set(lossd, size=mcs_size, seed=seed)
        mcs["loss"] = mcs_loss
    return {
        "models": models,
        "mcs": mcs,
        "benchmark": benchmark if benchmark in arrays else None,
        "horizon": h,
        "n": int(np.asarray(proxy).size),
    }


# ---------------------------------------------------------------------------
# network features
# ---------------------------------------------------------------------------


def volatility_features(series: VolSeries, names: Sequence[str] | None = None):
    """Causal volatility features at each session, aligned with ``series.returns``.

    * ``log_return``: ``r_t``, percent log return;
    * ``abs_return``: ``|r_t|``, percent;
    * ``squared_return``: ``r_t**2``, %^2;
    * ``log_range``: ``100 * ln(H_t / L_t)``, percent (needs high/low);
    * ``rv5``, ``rv22``: ``mean(r_{t-w+1..t}**2)`` over 5 / 22 sessions, %^2 (NaN for
      the first ``w - 1`` sessions: not enough history).

    Element ``t`` reads sessions ``<= t`` only.

    Parameters
    ----------
    series : VolSeries
    names : sequence of str, optional
        Subset of ``VOL_FEATURES`` (default all; range features need high/low).

    Returns
    -------
    dict
        name -> numpy.ndarray of shape (n,).

    Raises
    ------
    DataError
        A range feature is asked for but ``series.high`` / ``series.low`` is missing (the
        message names the column).
    ValueError
        Unknown feature name.
    """
    wanted = list(VOL_FEATURES if names is None else names)
    unknown = [x for x in wanted if x not in VOL_FEATURES]
    if unknown:
        raise ValueError(
            f"unknown volatility feature {unknown[0]!r}: use {', '.join(VOL_FEATURES)}"
        )
    r = series.returns
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        if name == "log_return":
            out[name] = r.copy()
        elif name == "abs_return":
            out[name] = np.abs(r)
        elif name == "squared_return":
            out[name] = r * r
        elif name == "log_range":
            _need_range(series.high, series.low, f"volatility feature '{name}'")
            out[name] = 100.0 * np.log(series.high / series.low)
        else:
            out[name] = _trailing_mean(r * r, int(name[2:]))
    return out
