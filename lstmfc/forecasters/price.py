"""Baseline forecasters: models too, with the same fit/predict interface (numpy/sklearn).

"Baselines are models too" (darts ``baselines.py``, statsforecast ``Naive``): every
baseline is fitted on the **training** windows only and then predicts the same target
dates as the LSTM, so the evaluation compares like with like.

Interface
---------
All baselines work on the **unscaled** close series and the row index of each window's
last day (``t``):

* ``closes``: ``numpy.ndarray`` of shape ``(n_rows,)``, float, currency, strictly positive,
  in date order (the prepared series the windows were cut from);
* ``end_rows``: ``numpy.ndarray`` of shape ``(n_windows,)``, int, the row ``t`` of each
  window's last close (the forecast is made at the close of ``t``);
* ``horizon``: ``h`` >= 1, the forecast targets ``close[t+h]``.

Price forecasters (``fit(closes, train_end_rows, horizon) -> self``,
``predict(closes, end_rows) -> (n_windows,)`` forecasts of ``close[t+h]`` in currency):
:class:`NaiveForecaster`, :class:`DriftForecaster`, :class:`SMAForecaster`,
:class:`EMAForecaster`, :class:`OLSForecaster`.

Direction classifiers (same ``fit``; ``predict_proba(closes, end_rows) -> (n_windows,)``
probability that ``close[t+h] > close[t]``, ``predict -> (n_windows,)`` 0/1 calls):
:class:`MajorityClassifier`, :class:`DriftSignClassifier`, :class:`LastSignClassifier`,
:class:`LogisticWindowClassifier`.

A prediction at row ``t`` reads ``closes[: t + 1]`` only: changing any later close never
changes it (tests check this), and ``fit`` reads ``closes`` only up to
``max(train_end_rows) + h`` (the training targets).

Methods raise ``ValueError`` with a one-line message on bad input (wrong shape,
non-positive or non-finite closes, rows out of range, too little history); callers
turn it into ``lstmfc.core.errors.DataError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Baseline",
    "DriftForecaster",
    "DriftSignClassifier",
    "EMAForecaster",
    "LastSignClassifier",
    "LogisticWindowClassifier",
    "MajorityClassifier",
    "NaiveForecaster",
    "OLSForecaster",
    "SMAForecaster",
    "direction_baselines",
    "direction_targets",
    "log_return_features",
    "logret_targets",
    "price_baselines",
]


# ---------------------------------------------------------------------------
# input checks and shared helpers
# ---------------------------------------------------------------------------


def _check_closes(closes: Any) -> np.ndarray:
    arr = np.asarray(closes, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"closes must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("closes is empty")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"closes must be finite and > 0 (row {first}: {arr[first]})")
    return arr


def _check_rows(end_rows: Any, n_rows: int, *, first: int = 0, last: int | None = None):
    rows = np.asarray(end_rows)
    if rows.ndim != 1:
        raise ValueError(f"end_rows must be 1-D, got shape {rows.shape}")
    if rows.size == 0:
        raise ValueError("end_rows is empty")
    if not np.issubdtype(rows.dtype, np.integer):
        if not np.all(np.equal(np.mod(rows, 1), 0)):
            raise ValueError("end_rows must be integer row indices")
    rows = rows.astype(np.int64)
    last = n_rows - 1 if last is None else last
    if rows.min() < first:
        raise ValueError(
            f"end row {int(rows.min())} has too little history: the first usable row is {first}"
        )
    if rows.max() > last:
        raise ValueError(f"end row {int(rows.max())} is past the last usable row {last}")
    return rows


def _check_horizon(horizon: Any) -> int:
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    return h


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
    c = _check_closes(closes)
    k = int(lookback)
    if k < 1:
        raise ValueError(f"lookback must be >= 1, got {lookback}")
    rows = _check_rows(end_rows, c.size, first=k)
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
    c = _check_closes(closes)
    h = _check_horizon(horizon)
    rows = _check_rows(end_rows, c.size, last=c.size - 1 - h)
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
    c = _check_closes(closes)
    h = _check_horizon(horizon)
    rows = _check_rows(end_rows, c.size, last=c.size - 1 - h)
    return (c[rows + h] > c[rows]).astype(np.int64)


class Baseline:
    """Base class of the baselines: fit on training window ends only, then predict.

    :meth:`fit` checks the closes and rows and reads closes only up to the last
    training target (``max(train_end_rows) + horizon``); subclasses implement
    ``_fit(closes, rows, h)`` and their prediction method. Other modules' baselines
    (the quantile head's) subclass it to share that rule.
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
        c = _check_closes(closes)
        h = _check_horizon(horizon)
        rows = _check_rows(train_end_rows, c.size, first=self.min_history, last=c.size - 1 - h)
        self.horizon_ = h
        self._fit(c[: int(rows.max()) + h + 1], rows, h)
        return self

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        """Default: nothing to learn."""

    def _prepare(self, closes, end_rows) -> tuple[np.ndarray, np.ndarray]:
        if self.horizon_ is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit() first")
        c = _check_closes(closes)
        return c, _check_rows(end_rows, c.size, first=self.min_history)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (for the evaluation report)."""
        return {}


# ---------------------------------------------------------------------------
# price forecasters (currency)
# ---------------------------------------------------------------------------


class NaiveForecaster(Baseline):
    """Random-walk (naive) forecast: ``close[t+h]`` is forecast as ``close[t]``.

    The benchmark every price model must beat (Diebold-Mariano and Theil's U are taken
    against it); for a martingale price it is the optimal squared-error forecast.
    """

    name = "naive"

    def predict(self, closes, end_rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row.

        Parameters
        ----------
        closes : array_like, shape (n_rows,)
            Unscaled closes, currency.
        end_rows : array_like, shape (n_windows,)
            Window end rows ``t``.

        Returns
        -------
        numpy.ndarray, shape (n_windows,), float64
            Forecasts in currency.

        Raises
        ------
        ValueError
            Not fitted, bad closes or rows.
        """
        c, rows = self._prepare(closes, end_rows)
        return c[rows].copy()


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


class DriftForecaster(_DriftFit, Baseline):
    """Random walk with drift: ``close[t+h]`` forecast as ``close[t] * exp(h * mu)``.

    ``mu`` is the mean daily log return of the training span (:func:`training_drift`),
    fit on training rows only and then held fixed. With a drifting series it is the
    optimal squared-error forecast among random walks, so a network that "beats
    naive" only by learning the drift does not beat it (Hyndman & Athanasopoulos,
    *Forecasting: Principles and Practice*, 3rd ed., section 5.2, "Drift method",
    which estimates the drift from the first and last observations the same way).
    """

    name = "drift"

    def predict(self, closes, end_rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.predict`)."""
        c, rows = self._prepare(closes, end_rows)
        return c[rows] * np.exp(self.horizon_ * self.mu_)


class SMAForecaster(Baseline):
    """Simple moving average: ``close[t+h]`` forecast as the mean of the last ``k`` closes.

    ``mean(close[t-k+1 .. t])``; needs ``t >= k - 1``.

    Parameters
    ----------
    k : int, default 20
        Window length in trading days (20 ~ one trading month).
    """

    name = "sma"

    def __init__(self, k: int = 20) -> None:
        super().__init__()
        if int(k) != k or k < 1:
            raise ValueError(f"SMA window k must be an integer >= 1, got {k}")
        self.k = int(k)
        self.min_history = self.k - 1

    def get_params(self) -> dict[str, Any]:
        return {"k": self.k}

    def predict(self, closes, end_rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.predict`)."""
        c, rows = self._prepare(closes, end_rows)
        csum = np.concatenate([[0.0], np.cumsum(c)])
        return (csum[rows + 1] - csum[rows + 1 - self.k]) / self.k


class EMAForecaster(Baseline):
    """Exponential moving average of closes as the forecast of ``close[t+h]``.

    Recursive form with ``alpha = 2 / (span + 1)``: ``ema[0] = close[0]``,
    ``ema[s] = alpha * close[s] + (1 - alpha) * ema[s-1]``, the same as
    ``pandas.Series.ewm(span=span, adjust=False).mean()``, which computes it. It runs
    causally from the first row of ``closes``, so ``ema[t]`` depends on
    ``closes[: t + 1]`` only, and on where the series starts (negligibly after a few
    spans).

    Parameters
    ----------
    span : int, default 20
        EMA span in trading days.
    """

    name = "ema"

    def __init__(self, span: int = 20) -> None:
        super().__init__()
        if int(span) != span or span < 1:
            raise ValueError(f"EMA span must be an integer >= 1, got {span}")
        self.span = int(span)

    def get_params(self) -> dict[str, Any]:
        return {"span": self.span}

    def predict(self, closes, end_rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.predict`)."""
        import pandas as pd

        c, rows = self._prepare(closes, end_rows)
        c = c[: int(rows.max()) + 1]
        ema = pd.Series(c).ewm(span=self.span, adjust=False).mean().to_numpy()
        return ema[rows]


class OLSForecaster(Baseline):
    """Linear regression of the next h-step log return on the window's log returns.

    Features: the last ``lookback`` daily log returns up to ``t``
    (:func:`log_return_features`); target: ``log(close[t+h] / close[t])``; model:
    ``sklearn.linear_model.LinearRegression`` (ordinary least squares with intercept),
    fitted on the training windows only. Forecast price:
    ``close[t] * exp(predicted log return)`` (currency).

    Why log returns and not price levels: prices are non-stationary and leave the
    training range in the test period, so a regression on levels extrapolates;
    log returns are scale-free and roughly stationary, and mapping back through
    ``close[t]`` keeps the forecast anchored at the last price like the random walk.

    Parameters
    ----------
    lookback : int, default 60
        Number of past log returns (use the model's lookback window).
    """

    name = "ols"

    def __init__(self, lookback: int = 60) -> None:
        super().__init__()
        if int(lookback) != lookback or lookback < 1:
            raise ValueError(f"lookback must be an integer >= 1, got {lookback}")
        self.lookback = int(lookback)
        self.min_history = self.lookback
        self.model_ = None

    def get_params(self) -> dict[str, Any]:
        return {"lookback": self.lookback}

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        from sklearn.linear_model import LinearRegression

        x = log_return_features(closes, rows, self.lookback)
        y = logret_targets(closes, rows, h)
        self.model_ = LinearRegression().fit(x, y)

    @property
    def coef_(self) -> np.ndarray:
        """Fitted slopes, shape ``(lookback,)`` (oldest return first)."""
        if self.model_ is None:
            raise ValueError("OLSForecaster is not fitted: call fit() first")
        return self.model_.coef_

    @property
    def intercept_(self) -> float:
        """Fitted intercept (log return per h steps)."""
        if self.model_ is None:
            raise ValueError("OLSForecaster is not fitted: call fit() first")
        return float(self.model_.intercept_)

    def predict_logret(self, closes, end_rows) -> np.ndarray:
        """Predicted ``log(close[t+h] / close[t])``, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, end_rows)
        return self.model_.predict(log_return_features(c, rows, self.lookback))

    def predict(self, closes, end_rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.predict`)."""
        c, rows = self._prepare(closes, end_rows)
        return c[rows] * np.exp(self.predict_logret(c, rows))


# ---------------------------------------------------------------------------
# direction classifiers
# ---------------------------------------------------------------------------


class _Classifier(Baseline):
    def predict(self, closes, end_rows) -> np.ndarray:
        """0/1 calls (1 = up) for each end row: ``predict_proba > 0.5`` (strict).

        Parameters
        ----------
        closes : array_like, shape (n_rows,)
        end_rows : array_like, shape (n_windows,)

        Returns
        -------
        numpy.ndarray, shape (n_windows,), int64

        Raises
        ------
        ValueError
            Not fitted, bad closes or rows.
        """
        return (self.predict_proba(closes, end_rows) > 0.5).astype(np.int64)

    def predict_proba(self, closes, end_rows) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class MajorityClassifier(_Classifier):
    """The majority class of the training targets ("always up" in most markets).

    ``predict_proba`` is the training share of up targets (a constant, calibrated on
    training data); ``predict`` is 1 when that share is above 0.5.
    """

    name = "majority"

    def __init__(self) -> None:
        super().__init__()
        self.up_rate_: float | None = None

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        self.up_rate_ = float(np.mean(direction_targets(closes, rows, h)))

    def predict_proba(self, closes, end_rows) -> np.ndarray:
        """Probability of up (constant) for each end row, shape ``(n_windows,)``."""
        _, rows = self._prepare(closes, end_rows)
        return np.full(rows.size, self.up_rate_, dtype=np.float64)


class DriftSignClassifier(_DriftFit, _Classifier):
    """Always the sign of the training drift: up every session when ``mu > 0``.

    The direction forecast of the random walk with drift (:class:`DriftForecaster`,
    same ``mu`` and ``sigma`` from :func:`training_drift`). Its probability of up is
    that model's, with Gaussian daily log returns: ``P(r_h > 0) = Phi(h mu /
    (sigma sqrt(h)))`` (a constant), so its calls are up exactly when ``mu > 0``.
    """

    name = "drift"

    def up_probability(self) -> float:
        """``Phi(h mu / (sigma sqrt(h)))``; 0.5 when ``sigma`` is 0 and ``mu`` is 0."""
        from scipy.stats import norm

        h = self.horizon_
        if not self.sigma_:
            return 1.0 if self.mu_ > 0 else (0.0 if self.mu_ < 0 else 0.5)
        return float(norm.cdf(h * self.mu_ / (self.sigma_ * np.sqrt(h))))

    def predict_proba(self, closes, end_rows) -> np.ndarray:
        """Probability of up (constant) for each end row, shape ``(n_windows,)``."""
        _, rows = self._prepare(closes, end_rows)
        return np.full(rows.size, self.up_probability(), dtype=np.float64)


class LastSignClassifier(_Classifier):
    """Persistence of direction: up next when the last daily log return was positive.

    A deterministic rule, nothing is learned: ``predict_proba`` is 1.0 when
    ``close[t] > close[t-1]`` and 0.0 otherwise, so its Brier score equals its error rate
    and its log loss is large by design; compare it on accuracy.
    """

    name = "last_sign"
    min_history = 1

    def predict_proba(self, closes, end_rows) -> np.ndarray:
        """Probability of up (0 or 1) for each end row, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, end_rows)
        return (c[rows] > c[rows - 1]).astype(np.float64)


class LogisticWindowClassifier(_Classifier):
    """Logistic regression of the direction on the window's log returns.

    Features: the last ``lookback`` daily log returns (:func:`log_return_features`),
    standardised with a scaler fitted on the training windows only; model:
    ``sklearn.linear_model.LogisticRegression`` (L2, ``C``, lbfgs), fitted on the
    training windows only.

    Parameters
    ----------
    lookback : int, default 60
        Number of past log returns (use the model's lookback window).
    C : float, default 1.0
        Inverse L2 regularisation strength (scikit-learn's default).
    """

    name = "logistic"

    def __init__(self, lookback: int = 60, C: float = 1.0) -> None:
        super().__init__()
        if int(lookback) != lookback or lookback < 1:
            raise ValueError(f"lookback must be an integer >= 1, got {lookback}")
        if not C > 0:
            raise ValueError(f"C must be > 0, got {C}")
        self.lookback = int(lookback)
        self.C = float(C)
        self.min_history = self.lookback
        self.model_ = None

    def get_params(self) -> dict[str, Any]:
        return {"lookback": self.lookback, "C": self.C}

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = log_return_features(closes, rows, self.lookback)
        y = direction_targets(closes, rows, h)
        if np.unique(y).size < 2:
            raise ValueError(
                "logistic baseline needs both up and not-up training targets, got one class"
            )
        self.model_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=1000)
        ).fit(x, y)

    @property
    def coef_(self) -> np.ndarray:
        """Fitted coefficients on standardised features, shape ``(lookback,)``."""
        if self.model_ is None:
            raise ValueError("LogisticWindowClassifier is not fitted: call fit() first")
        return self.model_[-1].coef_[0]

    def predict_proba(self, closes, end_rows) -> np.ndarray:
        """Probability of up for each end row, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, end_rows)
        x = log_return_features(c, rows, self.lookback)
        return self.model_.predict_proba(x)[:, 1]


# ---------------------------------------------------------------------------
# the standard sets used by evaluate
# ---------------------------------------------------------------------------


def price_baselines(*, lookback: int = 60, sma_k: int = 20, ema_span: int = 20) -> dict:
    """Unfitted price baselines keyed by report name: naive, drift, sma, ema, ols.

    Parameters
    ----------
    lookback : int, default 60
        OLS lookback (use the model's).
    sma_k : int, default 20
        SMA window.
    ema_span : int, default 20
        EMA span.

    Returns
    -------
    dict[str, object]
        ``{"naive": NaiveForecaster(), "drift": DriftForecaster(), "sma":
        SMAForecaster(sma_k), "ema": ..., "ols": OLSForecaster(lookback)}``.
    """
    return {
        "naive": NaiveForecaster(),
        "drift": DriftForecaster(),
        "sma": SMAForecaster(sma_k),
        "ema": EMAForecaster(ema_span),
        "ols": OLSForecaster(lookback),
    }


def direction_baselines(*, lookback: int = 60) -> dict:
    """Unfitted direction baselines keyed by report name: majority, drift, last_sign,
    logistic.

    Parameters
    ----------
    lookback : int, default 60
        Logistic-regression lookback (use the model's).

    Returns
    -------
    dict[str, object]
    """
    return {
        "majority": MajorityClassifier(),
        "drift": DriftSignClassifier(),
        "last_sign": LastSignClassifier(),
        "logistic": LogisticWindowClassifier(lookback),
    }
