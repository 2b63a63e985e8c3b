"""Forecast metrics, skill tests and a long/flat trading view (numpy, scipy, sklearn).

No TensorFlow here; scikit-learn, scipy and statsmodels are imported inside the
functions that use them, so importing this module stays cheap.

Conventions
-----------
* Price forecasts are in **currency** (real units, never scaled values): ``y_true`` is the
  realised close ``close[t+h]``, ``y_pred`` the forecast of it, ``last_close`` the close
  ``close[t]`` at the end of the lookback window the forecast was made from.
* Direction targets are ``1`` when ``close[t+h] > close[t]`` and ``0`` otherwise (a
  zero change counts as "not up"), the same rule as the prepared ``target_direction``.
* Realised returns are **log returns** ``log(close[t+h] / close[t])``.
* Every function raises ``ValueError`` (one line) on empty input, length mismatch,
  wrong shape or non-finite values; callers wrap it into ``lstmfc.core.errors.DataError``.
* Values that are undefined for the data at hand (ROC AUC on a one-class test set, a
  Sharpe ratio with zero volatility ...) are ``None`` with a reason, never ``nan``, so
  the result is valid JSON.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lstmfc.stats.checks import binary, probabilities, vectors

# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# price metrics (currency)
# ---------------------------------------------------------------------------


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in the unit of the inputs (currency for prices).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Realised values and forecasts.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred)**2))``.

    Raises
    ------
    ValueError
        Empty input, length mismatch, not 1-D, or non-finite values.
    """
    y, f = vectors(y_true=y_true, y_pred=y_pred)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error, in the unit of the inputs (currency for prices).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)

    Returns
    -------
    float
        ``mean(|y_true - y_pred|)``.

    Raises
    ------
    ValueError
        Empty input, length mismatch, not 1-D, or non-finite values.
    """
    y, f = vectors(y_true=y_true, y_pred=y_pred)
    return float(np.mean(np.abs(y - f)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, in **percent** (``2.5`` means 2.5 %).

    ``100 * mean(|y_true - y_pred| / |y_true|)`` (Hyndman & Koehler 2006, "Another look
    at measures of forecast accuracy", IJF 22(4), eq. for MAPE).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Realised prices (must be non-zero) and forecasts, currency.

    Returns
    -------
    float
        Percentage value.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values, or a zero in ``y_true``.
    """
    y, f = vectors(y_true=y_true, y_pred=y_pred)
    if np.any(y == 0):
        raise ValueError(
            f"MAPE undefined: y_true is 0 at position {int(np.flatnonzero(y == 0)[0])}"
        )
    return float(100.0 * np.mean(np.abs((y - f) / y)))


def directional_accuracy(y_true, y_pred, last_close) -> float:
    """Share of forecasts whose direction of change from ``close[t]`` was right.

    The realised direction is "up" when ``y_true > last_close`` (a zero change is "not
    up", like ``target_direction``). The forecast direction is "up" when
    ``y_pred > last_close`` and "not up" when ``y_pred < last_close``. A forecast of
    **no change** (``y_pred == last_close``, e.g. the naive random walk) makes no call
    and scores **0.5** (a coin flip), so the naive baseline sits at exactly 0.5 instead
    of inheriting the share of down days.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised ``close[t+h]``, currency.
    y_pred : array_like, shape (n,)
        Forecast of ``close[t+h]``, currency.
    last_close : array_like, shape (n,)
        ``close[t]``, the last close the forecast could see, currency.

    Returns
    -------
    float
        Fraction in [0, 1].

    Raises
    ------
    ValueError
        Empty input, length mismatch, or non-finite values.
    """
    y, f, c = vectors(y_true=y_true, y_pred=y_pred, last_close=last_close)
    realised_up = y > c
    forecast_up = f > c
    score = np.where(f == c, 0.5, (realised_up == forecast_up).astype(np.float64))
    return float(np.mean(score))


def theils_u(y_true, y_pred, y_naive) -> float:
    """Theil's U (U2 form): RMSE of the forecast relative to the naive forecast's RMSE.

    ``U = RMSE(y_pred) / RMSE(y_naive)`` on the same targets (Theil 1966, "Applied
    Economic Forecasting"; Hyndman & Koehler 2006 call it a relative RMSE). ``U < 1``
    beats the random walk, ``U = 1`` ties it, ``U > 1`` is worse.

    Parameters
    ----------
    y_true, y_pred, y_naive : array_like, shape (n,)
        Realised prices, model forecasts and naive forecasts (``close[t]``), currency.

    Returns
    -------
    float
        Dimensionless ratio.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values, or a naive RMSE of 0.
    """
    y, f, n = vectors(y_true=y_true, y_pred=y_pred, y_naive=y_naive)
    denom = rmse(y, n)
    if denom == 0:
        raise ValueError("Theil's U undefined: the naive forecast has zero RMSE")
    return rmse(y, f) / denom


def price_metrics(y_true, y_pred, last_close, y_naive=None) -> dict[str, float | None]:
    """All price-head metrics in real units for one forecaster.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised ``close[t+h]``, currency.
    y_pred : array_like, shape (n,)
        Forecasts of ``close[t+h]``, currency.
    last_close : array_like, shape (n,)
        ``close[t]``, currency.
    y_naive : array_like, shape (n,), optional
        Naive forecasts for Theil's U; defaults to ``last_close`` (the random walk).

    Returns
    -------
    dict
        ``rmse`` and ``mae`` (currency), ``mape`` (percent), ``directional_accuracy``
        (fraction, see :func:`directional_accuracy`), ``theils_u`` (ratio; ``None`` when
        the naive RMSE is 0).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values, or a zero realised price.
    """
    y, f, c = vectors(y_true=y_true, y_pred=y_pred, last_close=last_close)
    naive = c if y_naive is None else vectors(y_true=y, y_naive=y_naive)[1]
    try:
        u: float | None = theils_u(y, f, naive)
    except ValueError:
        u = None
    return {
        "rmse": rmse(y, f),
        "mae": mae(y, f),
        "mape": mape(y, f),
        "directional_accuracy": directional_accuracy(y, f, c),
        "theils_u": u,
    }


def mase(y_true, y_pred, scale: float) -> float | None:
    """Mean absolute scaled error: ``mean(|y_true - y_pred|) / scale``.

    Hyndman & Koehler (2006), "Another look at measures of forecast accuracy", IJF
    22(4), eq. for MASE: ``scale`` is the in-sample (training) MAE of the naive
    forecast at the same horizon, so MASE < 1 beats the random walk's typical error in
    the training period and values are comparable across series and steps.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Realised values and forecasts (currency for prices).
    scale : float
        Training-period MAE of the naive forecast, same units.

    Returns
    -------
    float or None
        Dimensionless ratio; ``None`` when ``scale`` is not positive.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values.
    """
    err = mae(y_true, y_pred)
    return err / float(scale) if scale and scale > 0 else None


# ---------------------------------------------------------------------------
# direction metrics
# ---------------------------------------------------------------------------


def roc_auc(y_true, proba) -> tuple[float | None, str | None]:
    """ROC AUC of up-probabilities, or ``(None, reason)`` when it is undefined.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised direction, 0 or 1.
    proba : array_like, shape (n,)
        Forecast probability of "up", in [0, 1].

    Returns
    -------
    (float or None, str or None)
        ``sklearn.metrics.roc_auc_score`` and ``None``; or ``None`` and a one-line reason
        when the test set holds a single class (AUC needs both).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary ``y_true``, probabilities outside [0, 1].
    """
    from sklearn.metrics import roc_auc_score

    y, p = vectors(y_true=y_true, proba=proba)
    y = binary("y_true", y)
    probabilities("proba", p)
    classes = np.unique(y)
    if classes.size < 2:
        word = "up" if classes[0] == 1 else "not-up"
        return None, f"ROC AUC undefined: every test target is {word} (one class only)"
    return float(roc_auc_score(y, p)), None


def direction_metrics(y_true, proba, y_pred=None, threshold: float = 0.5) -> dict[str, Any]:
    """Direction-head metrics for one classifier (scikit-learn implementations).

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised direction, 1 = up (``close[t+h] > close[t]``), 0 = not up.
    proba : array_like, shape (n,)
        Forecast probability of up, in [0, 1].
    y_pred : array_like, shape (n,), optional
        Hard 0/1 calls. Default: ``proba > threshold`` (strict, like scikit-learn's
        ``LogisticRegression.predict``). Pass it for rules whose call is
        not a threshold of their probability.
    threshold : float, default 0.5
        Cut-off turning ``proba`` into calls when ``y_pred`` is not given.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean recall of both classes; Brodersen et
        al. 2010), ``brier`` (mean squared error of ``proba``; Brier 1950), ``log_loss``
        (natural log, probabilities clipped by scikit-learn), ``roc_auc`` (``None`` on a
        one-class test set), ``up_rate`` (share of up targets), and ``note`` (``None`` or
        the reason a value is missing / degenerate).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary targets or calls, probabilities outside
        [0, 1].
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        brier_score_loss,
        log_loss,
    )

    y, p = vectors(y_true=y_true, proba=proba)
    y = binary("y_true", y)
    probabilities("proba", p)
    if y_pred is None:
        calls = (p > threshold).astype(np.int64)
    else:
        calls = binary("y_pred", vectors(y_true=y, y_pred=y_pred)[1])
    auc, note = roc_auc(y, p)
    with warnings.catch_warnings():
        # one-class test sets: sklearn warns, the recall of the present class is returned
        warnings.simplefilter("ignore")
        balanced = float(balanced_accuracy_score(y, calls))
    if note is not None:
        note += "; balanced accuracy is the recall of that class"
    return {
        "accuracy": float(accuracy_score(y, calls)),
        "balanced_accuracy": balanced,
        "brier": float(brier_score_loss(y, p, pos_label=1)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "roc_auc": auc,
        "up_rate": float(np.mean(y)),
        "note": note,
    }


# ---------------------------------------------------------------------------
# skill tests
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# trading view
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------- evaluation of a path
def naive_mae_scale(closes: np.ndarray, rows: np.ndarray, horizon: int) -> float:
    """MASE denominator: the training-period MAE of the naive forecast at ``horizon``,
    ``mean |close[t+h] - close[t]|`` over the (purged) training window ends ``rows``
    (Hyndman & Koehler 2006: in-sample naive errors at the same horizon)."""
    rows = np.asarray(rows)
    return float(np.mean(np.abs(closes[rows + horizon] - closes[rows])))
