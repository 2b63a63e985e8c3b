"""Scoring variance forecasts against a proxy: losses, Mincer-Zarnowitz, Diebold-Mariano on
per-date losses, and the Model Confidence Set.

* :func:`qlike_losses`, :func:`qlike` (QLIKE ``log f + proxy / f``), :func:`mse_losses`,
  :func:`mse` (squared error on the variance, %^4), :func:`mae_vol` (absolute error on the
  volatility, percent): with a conditionally unbiased proxy, QLIKE and MSE rank forecasts
  as the true variance would (Patton 2011, "Volatility forecast comparison using
  imperfect volatility proxies", J. Econometrics 160(1) 246-256);
* :func:`mincer_zarnowitz`: ``proxy = a + b f + e`` with HAC standard errors and the Wald
  test of ``a = 0, b = 1`` (Mincer & Zarnowitz 1969; Newey & West 1987, 1994);
* :func:`volatility_metrics`: all of the above for one model;
* :func:`dm_on_losses`: Diebold-Mariano with the Harvey-Leybourne-Newbold correction on a
  loss differential (:func:`lstmfc.stats.metrics.diebold_mariano_differential`);
* :func:`model_confidence_set`: Hansen, Lunde & Nason (2011) with ``arch.bootstrap.MCS``.

Proxies and forecasts are variances of percent returns (%^2), shape ``(n,)``, aligned by
date. ``statsmodels`` and ``arch`` are imported inside the functions that use them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from lstmfc.stats.checks import check_horizon, pair, vector
from lstmfc.stats.skill import diebold_mariano_differential

#: Mincer-Zarnowitz treats a forecast whose range is below this fraction of its mean as
#: constant (slope not identified; the regression would be numerically meaningless).
_MZ_MIN_SPREAD = 1e-6

#: The estimates :func:`mincer_zarnowitz` reports (``None`` when the slope is not identified).
_MZ_ESTIMATES = (
    "intercept",
    "slope",
    "se_intercept",
    "se_slope",
    "r2",
    "wald_stat",
    "wald_p_value",
)


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _proxy_forecast(proxy, forecast) -> tuple[np.ndarray, np.ndarray]:
    p, f = pair("proxy", proxy, "forecast", forecast)
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
    h = check_horizon(horizon)
    lags = (
        max(h - 1, int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))))
        if hac_lags is None
        else int(hac_lags)
    )
    out: dict[str, Any] = {"hac_lags": lags, "n": int(n)}
    if np.ptp(f) <= _MZ_MIN_SPREAD * float(np.mean(f)):
        out.update(dict.fromkeys(_MZ_ESTIMATES))
        out["note"] = "forecast (nearly) constant: the slope is not identified"
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
    :func:`lstmfc.stats.metrics.diebold_mariano_differential` (Diebold & Mariano 1995; Harvey,
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
    lstmfc.stats.metrics.SkillTest
        ``p_value`` one-sided for "the model has lower loss than the benchmark".

    Raises
    ------
    ValueError
        Length mismatch, non-finite values, too few dates for the correction.
    """
    a, b = pair("loss_model", loss_model, "loss_bench", loss_bench)
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
    cols = [vector(f"losses[{k!r}]", v, min_size=2) for k, v in losses.items()]
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
