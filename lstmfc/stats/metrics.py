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

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SkillTest",
    "binomial_test",
    "buy_and_hold",
    "diebold_mariano",
    "diebold_mariano_differential",
    "direction_metrics",
    "directional_accuracy",
    "long_flat_backtest",
    "mae",
    "mape",
    "mase",
    "pesaran_timmermann",
    "price_metrics",
    "price_to_signal",
    "rmse",
    "roc_auc",
    "theils_u",
    "adjust_p_values",
]

#: Trading days per year used to annualise daily figures (NYSE convention).
TRADING_DAYS_PER_YEAR = 252


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _vector(name: str, values: Any, *, finite: bool = True) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if finite and not np.all(np.isfinite(arr)):
        first = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value at position {first}")
    return arr


def _vectors(**named: Any) -> list[np.ndarray]:
    arrays = [_vector(name, values) for name, values in named.items()]
    lengths = {name: arr.size for name, arr in zip(named, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"length mismatch: {desc}")
    return arrays


def _binary(name: str, arr: np.ndarray) -> np.ndarray:
    if not np.all((arr == 0) | (arr == 1)):
        first = int(np.flatnonzero((arr != 0) & (arr != 1))[0])
        raise ValueError(f"{name} must contain only 0 and 1 (position {first}: {arr[first]})")
    return arr.astype(np.int64)


def _probabilities(name: str, arr: np.ndarray) -> np.ndarray:
    if np.any((arr < 0) | (arr > 1)):
        first = int(np.flatnonzero((arr < 0) | (arr > 1))[0])
        raise ValueError(f"{name} must lie in [0, 1] (position {first}: {arr[first]})")
    return arr


def _clean(value: float) -> float | None:
    """A float for JSON: ``None`` for nan/inf."""
    value = float(value)
    return value if math.isfinite(value) else None


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
    y, f = _vectors(y_true=y_true, y_pred=y_pred)
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
    y, f = _vectors(y_true=y_true, y_pred=y_pred)
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
    y, f = _vectors(y_true=y_true, y_pred=y_pred)
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
    y, f, c = _vectors(y_true=y_true, y_pred=y_pred, last_close=last_close)
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
    y, f, n = _vectors(y_true=y_true, y_pred=y_pred, y_naive=y_naive)
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
    y, f, c = _vectors(y_true=y_true, y_pred=y_pred, last_close=last_close)
    naive = c if y_naive is None else _vectors(y_true=y, y_naive=y_naive)[1]
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


def price_to_signal(y_pred, last_close) -> np.ndarray:
    """Long/flat signal from a price forecast: 1 when ``y_pred > last_close``, else 0.

    Parameters
    ----------
    y_pred, last_close : array_like, shape (n,)
        Forecast of ``close[t+h]`` and ``close[t]``, currency.

    Returns
    -------
    numpy.ndarray, shape (n,), int64
        1 = long, 0 = flat. A no-change forecast (naive) is flat.

    Raises
    ------
    ValueError
        Empty input, length mismatch, or non-finite values.
    """
    f, c = _vectors(y_pred=y_pred, last_close=last_close)
    return (f > c).astype(np.int64)


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

    y, p = _vectors(y_true=y_true, proba=proba)
    y = _binary("y_true", y)
    _probabilities("proba", p)
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

    y, p = _vectors(y_true=y_true, proba=proba)
    y = _binary("y_true", y)
    _probabilities("proba", p)
    if y_pred is None:
        calls = (p > threshold).astype(np.int64)
    else:
        calls = _binary("y_pred", _vectors(y_true=y, y_pred=y_pred)[1])
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


@dataclass(frozen=True)
class SkillTest:
    """Result of a forecast skill test, ready for JSON via :meth:`to_dict`.

    Attributes
    ----------
    test : str
        Test name, e.g. ``"diebold-mariano"``.
    statistic : float or None
        Test statistic; ``None`` when undefined (see ``note``).
    p_value : float or None
        One-sided p-value for "the model is better than the benchmark".
    p_value_two_sided : float or None
        Two-sided p-value for "the model differs from the benchmark".
    n : int
        Number of forecasts tested.
    verdict : str
        Plain words: ``"no skill over naive"``, ``"beats naive (p=0.012)"`` or
        ``"worse than naive (p=0.003)"`` (benchmark name varies by test).
    note : str or None
        Why a value is missing, or which fallback was used.
    details : dict
        Test-specific numbers (loss, horizon, degrees of freedom ...).
    """

    test: str
    statistic: float | None
    p_value: float | None
    p_value_two_sided: float | None
    n: int
    verdict: str
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)


def _verdict(p_better: float | None, p_worse: float | None, benchmark: str, alpha: float) -> str:
    if p_better is not None and p_better < alpha:
        return f"beats {benchmark} (p={p_better:.3g})"
    if p_worse is not None and p_worse < alpha:
        return f"worse than {benchmark} (p={p_worse:.3g})"
    return f"no skill over {benchmark}"


_LOSSES = {
    "squared": lambda e: e**2,
    "absolute": np.abs,
}


def diebold_mariano(
    y_true,
    y_pred,
    y_benchmark,
    *,
    horizon: int = 1,
    loss: str = "squared",
    alpha: float = 0.05,
    benchmark: str = "naive",
) -> SkillTest:
    """Diebold-Mariano test with the Harvey-Leybourne-Newbold small-sample correction.

    Loss differential ``d_t = L(y_t - y_pred_t) - L(y_t - y_benchmark_t)`` with
    ``L(e) = e**2`` (``loss="squared"``) or ``|e|`` (``"absolute"``). With ``n``
    forecasts, ``d_bar = mean(d)`` and autocovariances
    ``gamma_k = (1/n) * sum_{t>k} (d_t - d_bar)(d_{t-k} - d_bar)`` for ``k = 0..h-1``
    (h-step errors are at most MA(h-1)):

        DM = d_bar / sqrt((gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k) / n)
        DM* = DM * sqrt((n + 1 - 2h + h(h-1)/n) / n)

    and ``DM*`` is compared with Student's t with ``n - 1`` degrees of freedom
    (Diebold & Mariano 1995, JBES 13(3) 253-263; Harvey, Leybourne & Newbold 1997, IJF
    13(2) 281-291). This is the computation of R ``forecast::dm.test`` (default
    ``varestimator = "acf"``). For ``h = 1`` it equals statsmodels
    ``diebold_mariano_test(..., lags=0, harvey_adj=True)``; for ``h > 1`` statsmodels only
    offers Bartlett weights, which under-weight the MA(h-1) autocovariances, so the
    truncated (equal-weight) estimator above is computed here. When it is not positive
    (possible for ``h > 1``) the Bartlett weights ``1 - k/h`` are used instead (always
    non-negative; R's ``varestimator = "bartlett"``) and ``note`` says so.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised values, e.g. ``close[t+h]`` in currency.
    y_pred : array_like, shape (n,)
        The model's forecasts.
    y_benchmark : array_like, shape (n,)
        The benchmark's forecasts, usually the naive ``close[t]``.
    horizon : int, default 1
        Forecast horizon h in steps.
    loss : {"squared", "absolute"}, default "squared"
    alpha : float, default 0.05
        Significance level of the verdict (each one-sided test).
    benchmark : str, default "naive"
        Benchmark name used in the verdict.

    Returns
    -------
    SkillTest
        ``statistic`` = DM*; ``p_value`` = one-sided P(T <= DM*) for "model has lower
        loss"; ``p_value_two_sided``; ``details`` holds ``p_value_worse`` (one-sided, model
        has higher loss), ``loss``, ``horizon``, ``df``, ``mean_loss_differential``,
        ``hln_factor`` and ``variance_estimator`` (``"acf"`` or ``"bartlett"``). Verdict:
        ``"beats naive (p=...)"`` when ``p_value < alpha``, ``"worse than naive (p=...)"``
        when ``p_value_worse < alpha``, else ``"no skill over naive"``. When the loss
        differential has zero variance (e.g. identical forecasts) the statistic and
        p-values are ``None``, the verdict is "no skill over ..." and ``note`` says why.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values, unknown ``loss``, ``horizon < 1``,
        or fewer forecasts than the correction needs (``n + 1 - 2h + h(h-1)/n <= 0`` or
        ``n < 2``); also when a loss overflows to infinity.
    """
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use 'squared' or 'absolute'")
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    y, f, b = _vectors(y_true=y_true, y_pred=y_pred, y_benchmark=y_benchmark)
    lossf = _LOSSES[loss]
    d = lossf(y - f) - lossf(y - b)
    return diebold_mariano_differential(d, horizon=h, alpha=alpha, benchmark=benchmark, loss=loss)


def diebold_mariano_differential(
    d,
    *,
    horizon: int = 1,
    alpha: float = 0.05,
    benchmark: str = "naive",
    loss: str = "squared",
) -> SkillTest:
    """Diebold-Mariano test (HLN-corrected) on a given loss-differential series.

    The core of :func:`diebold_mariano`, for losses it does not compute itself (QLIKE on
    variance forecasts, pinball loss ...). ``d_t = L_model,t - L_benchmark,t``; with
    ``n`` values, ``d_bar = mean(d)`` and ``gamma_k`` the autocovariances of ``d`` for
    ``k = 0..h-1``, ``DM = d_bar / sqrt((gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k) / n)``
    times the Harvey-Leybourne-Newbold factor ``sqrt((n + 1 - 2h + h(h-1)/n) / n)``,
    compared with Student's t with ``n - 1`` degrees of freedom; Bartlett weights
    ``1 - k/h`` when the truncated variance is not positive (Diebold & Mariano 1995,
    JBES 13(3) 253-263; Harvey, Leybourne & Newbold 1997, IJF 13(2) 281-291; R
    ``forecast::dm.test``). See :func:`diebold_mariano` for the full description.

    Parameters
    ----------
    d : array_like, shape (n,)
        Loss differential, model loss minus benchmark loss, per forecast date (negative
        means the model did better that date).
    horizon : int, default 1
        Forecast horizon h in steps (sets the number of autocovariances, h - 1).
    alpha : float, default 0.05
        Significance level of the verdict (each one-sided test).
    benchmark : str, default "naive"
        Benchmark name used in the verdict.
    loss : str, default "squared"
        Name of the loss, recorded in ``details["loss"]`` only (any label, e.g.
        ``"qlike"``).

    Returns
    -------
    SkillTest
        As :func:`diebold_mariano`.

    Raises
    ------
    ValueError
        Empty input, not 1-D, non-finite values, ``horizon < 1``, or fewer values than
        the correction needs (``n + 1 - 2h + h(h-1)/n <= 0`` or ``n < 2``).
    """
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    d = _vector("d", d)
    n = d.size
    factor_sq = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if n < 2 or factor_sq <= 0:
        raise ValueError(f"too few forecasts ({n}) for a Diebold-Mariano test at horizon {h}")
    from scipy import stats

    d_bar = float(np.mean(d))
    dev = d - d_bar
    gamma = np.array([np.dot(dev[k:], dev[: n - k]) / n for k in range(min(h, n))])
    variance = (gamma[0] + 2.0 * gamma[1:].sum()) / n
    estimator = "acf"
    note = None
    if variance <= 0 and h > 1 and gamma[0] > 0:
        weights = 1.0 - np.arange(1, gamma.size) / h
        variance = (gamma[0] + 2.0 * np.dot(weights, gamma[1:])) / n
        estimator = "bartlett"
        note = "truncated autocovariance variance was not positive; Bartlett weights used"
    hln = math.sqrt(factor_sq)
    details: dict[str, Any] = {
        "loss": loss,
        "horizon": h,
        "df": n - 1,
        "mean_loss_differential": d_bar,
        "hln_factor": hln,
        "variance_estimator": estimator,
        "alpha": alpha,
        "p_value_worse": None,
    }
    if not variance > 0:
        return SkillTest(
            test="diebold-mariano",
            statistic=None,
            p_value=None,
            p_value_two_sided=None,
            n=n,
            verdict=_verdict(None, None, benchmark, alpha),
            note="loss differential has zero variance (identical losses every period); "
            "DM statistic undefined",
            details=details,
        )
    stat = hln * d_bar / math.sqrt(variance)
    p_better = float(stats.t.cdf(stat, df=n - 1))
    p_worse = float(stats.t.sf(stat, df=n - 1))
    p_two = float(min(1.0, 2.0 * stats.t.sf(abs(stat), df=n - 1)))
    details["p_value_worse"] = p_worse
    return SkillTest(
        test="diebold-mariano",
        statistic=float(stat),
        p_value=p_better,
        p_value_two_sided=p_two,
        n=n,
        verdict=_verdict(p_better, p_worse, benchmark, alpha),
        note=note,
        details=details,
    )


def pesaran_timmermann(y_true, y_pred, *, alpha: float = 0.05) -> SkillTest:
    """Pesaran-Timmermann (1992) test of directional forecast skill.

    Tests whether predicted and realised directions are independent. With ``P`` the
    hit rate, ``py``/``pz`` the shares of realised/predicted ups,
    ``P* = py*pz + (1-py)(1-pz)``:

        S = (P - P*) / sqrt(var(P) - var(P*)),  asymptotically N(0, 1)

    (Pesaran & Timmermann 1992, "A simple nonparametric test of predictive
    performance", JBES 10(4) 461-465, eq. 4-6). Computed by statsmodels
    ``statsmodels.stats.diagnostic.pesaran_timmermann``.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised direction, 1 = up, 0 = not up.
    y_pred : array_like, shape (n,)
        Predicted direction, 1 = up, 0 = not up.
    alpha : float, default 0.05
        Significance level of the verdict (one-sided).

    Returns
    -------
    SkillTest
        ``p_value`` one-sided (hits above what independence implies). When every
        prediction (or every outcome) is the same class the test is undefined (zero
        variance): statistic and p-values ``None``, verdict "no skill over chance", with a
        ``note``. ``details``: ``hit_rate``, ``hit_rate_if_independent``,
        ``p_value_worse``.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary values, or fewer than 2 forecasts.
    """
    from scipy import stats
    from statsmodels.stats.diagnostic import pesaran_timmermann as sm_pt

    y, p = _vectors(y_true=y_true, y_pred=y_pred)
    y = _binary("y_true", y)
    p = _binary("y_pred", p)
    n = y.size
    if n < 2:
        raise ValueError("Pesaran-Timmermann test needs at least 2 forecasts")
    py, pz = float(y.mean()), float(p.mean())
    details: dict[str, Any] = {
        "hit_rate": float(np.mean(y == p)),
        "hit_rate_if_independent": py * pz + (1 - py) * (1 - pz),
        "alpha": alpha,
        "p_value_worse": None,
    }
    try:
        res = sm_pt(2.0 * y - 1.0, 2.0 * p - 1.0, alternative="larger")
    except ValueError:
        what = "predictions" if pz in (0.0, 1.0) else "outcomes"
        return SkillTest(
            test="pesaran-timmermann",
            statistic=None,
            p_value=None,
            p_value_two_sided=None,
            n=n,
            verdict="no skill over chance",
            note=f"test undefined: all {what} are the same class",
            details=details,
        )
    stat = float(res.statistic)
    p_better = float(res.pvalue)
    p_worse = float(stats.norm.cdf(stat))
    details["p_value_worse"] = p_worse
    return SkillTest(
        test="pesaran-timmermann",
        statistic=stat,
        p_value=p_better,
        p_value_two_sided=float(min(1.0, 2.0 * stats.norm.sf(abs(stat)))),
        n=n,
        verdict=_verdict(p_better, p_worse, "chance", alpha),
        details=details,
    )


MULTIPLE_TESTING_METHOD = "holm"
"""Adjustment of p-values over a universe of tickers: Holm (1979), "A simple sequentially
rejective multiple test procedure", Scand. J. Statist. 6(2) 65-70. It controls the
family-wise error rate under any dependence between the tickers' tests (the same market
moves them together), which Benjamini-Hochberg's false discovery rate does not without
positive dependence."""


def adjust_p_values(p_values, method: str = MULTIPLE_TESTING_METHOD) -> list[float | None]:
    """Multiple-testing adjusted p-values (``statsmodels.stats.multitest.multipletests``).

    Parameters
    ----------
    p_values : sequence of float or None
        One p-value per ticker; ``None`` (an undefined test) stays ``None`` and is left
        out of the family.
    method : str, default "holm"
        Any ``multipletests`` method (``"holm"``, ``"fdr_bh"`` ...).

    Returns
    -------
    list of float or None
        Adjusted p-values in the input order.

    Raises
    ------
    ValueError
        Unknown method, or a p-value outside [0, 1].
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not idx:  # nothing to adjust: skip importing statsmodels (0.5 s)
        return out
    from statsmodels.stats.multitest import multipletests

    vals = np.array([float(p_values[i]) for i in idx])
    if np.any((vals < 0) | (vals > 1)) or not np.all(np.isfinite(vals)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = multipletests(vals, method=method)[1]
    for i, a in zip(idx, adjusted, strict=True):
        out[i] = float(a)
    return out


def binomial_test(
    y_true,
    y_pred,
    *,
    p0: float = 0.5,
    alpha: float = 0.05,
    benchmark: str = "chance",
) -> SkillTest:
    """Exact binomial test of directional accuracy against a fixed rate ``p0``.

    ``k`` correct calls out of ``n`` against ``H0: accuracy = p0``, one-sided
    ``H1: accuracy > p0`` (``scipy.stats.binomtest``). Use ``p0 = 0.5`` against a coin
    flip, or the majority-class baseline's accuracy (``benchmark="majority"``) against
    "always up". Treats outcomes as independent; overlapping h-step targets (h > 1) make
    it optimistic.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Realised and predicted direction, 0/1.
    p0 : float, default 0.5
        Accuracy under the null, in (0, 1).
    alpha : float, default 0.05
        Significance level of the verdict (one-sided).
    benchmark : str, default "chance"
        Benchmark name used in the verdict.

    Returns
    -------
    SkillTest
        ``statistic`` = observed accuracy ``k/n``; ``details``: ``k``, ``p0``,
        ``p_value_worse`` (one-sided, accuracy below ``p0``).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary values, ``p0`` outside (0, 1).
    """
    from scipy.stats import binomtest

    if not 0.0 < p0 < 1.0:
        raise ValueError(f"p0 must lie in (0, 1), got {p0}")
    y, p = _vectors(y_true=y_true, y_pred=y_pred)
    y = _binary("y_true", y)
    p = _binary("y_pred", p)
    n = y.size
    k = int(np.sum(y == p))
    p_better = float(binomtest(k, n, p0, alternative="greater").pvalue)
    p_worse = float(binomtest(k, n, p0, alternative="less").pvalue)
    p_two = float(binomtest(k, n, p0, alternative="two-sided").pvalue)
    return SkillTest(
        test="binomial",
        statistic=k / n,
        p_value=p_better,
        p_value_two_sided=p_two,
        n=n,
        verdict=_verdict(p_better, p_worse, benchmark, alpha),
        details={"k": k, "p0": float(p0), "alpha": alpha, "p_value_worse": p_worse},
    )


# ---------------------------------------------------------------------------
# trading view
# ---------------------------------------------------------------------------


def long_flat_backtest(
    signal,
    realised_logret,
    *,
    horizon: int = 1,
    cost_bps: float = 0.0,
    periods_per_year: float = TRADING_DAYS_PER_YEAR,
) -> dict[str, Any]:
    """Long/flat strategy from a direction signal, on realised log returns.

    At each decision time ``t`` the strategy is long (signal 1) or flat (signal 0) over
    the next ``h`` trading days and earns ``signal * log(close[t+h]/close[t])``. For
    ``h > 1`` only every h-th decision is used (rows ``0, h, 2h, ...``) so holding
    periods do not overlap, and annualisation uses ``periods_per_year / h`` periods.
    A proportional transaction cost ``c = cost_bps / 10_000`` is charged on each
    position change (flat -> long or long -> flat; the start is flat, so the first long
    entry pays), as the log return ``log(1 - c)``; an open position at the end is not
    charged an exit.

    Figures (``r`` = per-period log returns net of cost, ``R = exp(r) - 1``,
    ``P`` = periods per year, ``W`` = wealth path starting at 1):

    * ``total_return`` = ``W_end - 1``;
    * ``annualised_return`` = ``exp(P * mean(r)) - 1`` (geometric, CAGR);
    * ``annualised_volatility`` = ``std(R, ddof=1) * sqrt(P)``;
    * ``sharpe`` = ``mean(R) / std(R, ddof=1) * sqrt(P)`` with a risk-free rate of 0
      (Sharpe 1994, "The Sharpe Ratio", JPM 21(1); sqrt-of-time annualisation assumes
      i.i.d. returns, Lo 2002, FAJ 58(4)); ``None`` when volatility is 0 (never long);
    * ``max_drawdown`` = ``max_t (1 - W_t / max_{s<=t} W_s)``, a fraction (0.25 = -25 %);
    * ``hit_rate`` = share of long periods whose realised return was positive (before
      cost); ``None`` when never long;
    * ``n_trades`` = number of position changes; ``exposure`` = share of periods long.

    Parameters
    ----------
    signal : array_like, shape (n,)
        1 = long, 0 = flat, decided at ``t`` from information up to ``t``.
    realised_logret : array_like, shape (n,)
        ``log(close[t+h] / close[t])`` aligned with ``signal``.
    horizon : int, default 1
        h, trading days per holding period.
    cost_bps : float, default 0
        Cost per position change in basis points (1 bp = 0.01 %), in [0, 10000).
    periods_per_year : float, default 252
        Trading days per year.

    Returns
    -------
    dict
        The figures above plus ``n_periods``, ``horizon``, ``cost_bps`` and
        ``periods_per_year`` (per holding period).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite returns, non-binary signal,
        ``horizon < 1``, ``cost_bps`` outside [0, 10000), ``periods_per_year <= 0``.
    """
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not 0.0 <= cost_bps < 10_000.0:
        raise ValueError(f"cost_bps must lie in [0, 10000), got {cost_bps}")
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    s, r = _vectors(signal=signal, realised_logret=realised_logret)
    pos = _binary("signal", s)[::h].astype(np.float64)
    ret = r[::h]
    per_year = periods_per_year / h
    n = ret.size
    turnover = np.abs(np.diff(pos, prepend=0.0))
    strat = pos * ret + turnover * math.log1p(-cost_bps / 10_000.0)
    wealth = np.exp(np.cumsum(strat))
    simple = np.expm1(strat)
    vol = float(np.std(simple, ddof=1)) if n > 1 else float("nan")
    sharpe = float(np.mean(simple)) / vol * math.sqrt(per_year) if vol > 0 else float("nan")
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))
    drawdown = 1.0 - np.concatenate([[1.0], wealth]) / peak
    long = pos == 1
    return {
        "total_return": float(wealth[-1] - 1.0),
        "annualised_return": _clean(math.expm1(per_year * float(np.mean(strat)))),
        "annualised_volatility": _clean(vol * math.sqrt(per_year)) if n > 1 else None,
        "sharpe": _clean(sharpe),
        "max_drawdown": float(drawdown.max()),
        "hit_rate": float(np.mean(ret[long] > 0)) if long.any() else None,
        "n_trades": int(np.count_nonzero(turnover)),
        "exposure": float(np.mean(pos)),
        "n_periods": int(n),
        "horizon": h,
        "cost_bps": float(cost_bps),
        "periods_per_year": float(per_year),
    }


def buy_and_hold(
    realised_logret,
    *,
    horizon: int = 1,
    cost_bps: float = 0.0,
    periods_per_year: float = TRADING_DAYS_PER_YEAR,
) -> dict[str, Any]:
    """Buy-and-hold on the same periods: :func:`long_flat_backtest` always long.

    One entry cost is charged; see :func:`long_flat_backtest` for every figure.

    Parameters
    ----------
    realised_logret : array_like, shape (n,)
        ``log(close[t+h] / close[t])`` per decision time.
    horizon, cost_bps, periods_per_year
        As in :func:`long_flat_backtest`.

    Returns
    -------
    dict
        Same keys as :func:`long_flat_backtest`.

    Raises
    ------
    ValueError
        As :func:`long_flat_backtest`.
    """
    r = _vector("realised_logret", realised_logret)
    return long_flat_backtest(
        np.ones(r.size),
        r,
        horizon=horizon,
        cost_bps=cost_bps,
        periods_per_year=periods_per_year,
    )
