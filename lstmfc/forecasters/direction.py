"""Direction baselines: the probability that ``close[t+h] > close[t]``.

:class:`MajorityClassifier` (the training majority class, the direction head's
benchmark), :class:`DriftSignClassifier`, :class:`LastSignClassifier` and
:class:`LogisticWindowClassifier`, behind the protocol of :mod:`lstmfc.forecasters.base`:
``forecast(closes, rows) -> (n_windows,)`` is P(up); ``calls`` are the 0/1 calls
``forecast > 0.5``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.forecasters.base import (
    Forecaster,
    _DriftFit,
    direction_targets,
    log_return_features,
)


class _Classifier(Forecaster):
    def calls(self, closes, rows) -> np.ndarray:
        """0/1 calls (1 = up) for each end row: ``forecast > 0.5`` (strict).

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
        return (self.forecast(closes, rows) > 0.5).astype(np.int64)

    def forecast(self, closes, rows) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class MajorityClassifier(_Classifier):
    """The majority class of the training targets ("always up" in most markets).

    ``forecast`` is the training share of up targets (a constant, calibrated on
    training data); ``calls`` is 1 when that share is above 0.5.
    """

    name = "majority"

    def __init__(self) -> None:
        super().__init__()
        self.up_rate_: float | None = None

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        self.up_rate_ = float(np.mean(direction_targets(closes, rows, h)))

    def forecast(self, closes, rows) -> np.ndarray:
        """Probability of up (constant) for each end row, shape ``(n_windows,)``."""
        _, rows = self._prepare(closes, rows)
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

    def forecast(self, closes, rows) -> np.ndarray:
        """Probability of up (constant) for each end row, shape ``(n_windows,)``."""
        _, rows = self._prepare(closes, rows)
        return np.full(rows.size, self.up_probability(), dtype=np.float64)


class LastSignClassifier(_Classifier):
    """Persistence of direction: up next when the last daily log return was positive.

    A deterministic rule, nothing is learned: ``forecast`` is 1.0 when
    ``close[t] > close[t-1]`` and 0.0 otherwise, so its Brier score equals its error rate
    and its log loss is large by design; compare it on accuracy.
    """

    name = "last_sign"
    min_history = 1

    def forecast(self, closes, rows) -> np.ndarray:
        """Probability of up (0 or 1) for each end row, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, rows)
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

    def forecast(self, closes, rows) -> np.ndarray:
        """Probability of up for each end row, shape ``(n_windows,)``."""
        c, rows = self._prepare(closes, rows)
        x = log_return_features(c, rows, self.lookback)
        return self.model_.predict_proba(x)[:, 1]


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
