"""Price baselines: forecasts of ``close[t+h]`` in currency.

:class:`NaiveForecaster` (the random walk, every price model's benchmark),
:class:`DriftForecaster` (random walk with the training drift), :class:`SMAForecaster`,
:class:`EMAForecaster` and :class:`OLSForecaster` (least squares on the window's log
returns), behind the protocol of :mod:`lstmfc.forecasters.base`: ``fit`` on training
rows, ``forecast(closes, rows) -> (n_windows,)`` in currency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.forecasters.base import (
    Forecaster,
    _DriftFit,
    log_return_features,
    logret_targets,
)

# ---------------------------------------------------------------------------
# input checks and shared helpers
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# price forecasters (currency)
# ---------------------------------------------------------------------------


class NaiveForecaster(Forecaster):
    """Random-walk (naive) forecast: ``close[t+h]`` is forecast as ``close[t]``.

    The benchmark every price model must beat (Diebold-Mariano and Theil's U are taken
    against it); for a martingale price it is the optimal squared-error forecast.
    """

    name = "naive"

    def forecast(self, closes, rows) -> np.ndarray:
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
        c, rows = self._prepare(closes, rows)
        return c[rows].copy()


class DriftForecaster(_DriftFit, Forecaster):
    """Random walk with drift: ``close[t+h]`` forecast as ``close[t] * exp(h * mu)``.

    ``mu`` is the mean daily log return of the training span (:func:`training_drift`),
    fit on training rows only and then held fixed. With a drifting series it is the
    optimal squared-error forecast among random walks, so a network that "beats
    naive" only by learning the drift does not beat it (Hyndman & Athanasopoulos,
    *Forecasting: Principles and Practice*, 3rd ed., section 5.2, "Drift method",
    which estimates the drift from the first and last observations the same way).
    """

    name = "drift"

    def forecast(self, closes, rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.forecast`)."""
        c, rows = self._prepare(closes, rows)
        return c[rows] * np.exp(self.horizon_ * self.mu_)


class SMAForecaster(Forecaster):
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

    def forecast(self, closes, rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.forecast`)."""
        c, rows = self._prepare(closes, rows)
        csum = np.concatenate([[0.0], np.cumsum(c)])
        return (csum[rows + 1] - csum[rows + 1 - self.k]) / self.k


class EMAForecaster(Forecaster):
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

    def forecast(self, closes, rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.forecast`)."""
        import pandas as pd

        c, rows = self._prepare(closes, rows)
        c = c[: int(rows.max()) + 1]
        ema = pd.Series(c).ewm(span=self.span, adjust=False).mean().to_numpy()
        return ema[rows]


class OLSForecaster(Forecaster):
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

    def predict_logret(self, closes, rows) -> np.ndarray:
        """Predicted ``log(close[t+h] / close[t])``, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, rows)
        return self.model_.predict(log_return_features(c, rows, self.lookback))

    def forecast(self, closes, rows) -> np.ndarray:
        """Forecast ``close[t+h]`` for each end row (see :meth:`NaiveForecaster.forecast`)."""
        c, rows = self._prepare(closes, rows)
        return c[rows] * np.exp(self.predict_logret(c, rows))


# ---------------------------------------------------------------------------
# direction classifiers
# ---------------------------------------------------------------------------


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
