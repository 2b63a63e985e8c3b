"""The GARCH(1,1) recursion from stored parameters: no refit, no ``arch`` import.

What ``predict`` and the ``garch`` input feature need once a GARCH(1,1) was fit on the
training returns (:func:`lstmfc.volatility.models.garch11_parameters` stores ``mu``,
``omega``, ``alpha``, ``beta`` and arch's backcast): the one-step variance at every
close (:func:`garch11_one_step`) and the variance of the h-session return
(:func:`garch11_h_step`). Kept apart from the fitting models so that the daily
``predict`` loads only this.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def garch11_one_step(returns, params: dict[str, float]) -> np.ndarray:
    """GARCH(1,1) one-step variance forecasts ``sigma2_{t+1|t}`` at each close from stored
    parameters, %^2 (no refit, no ``arch`` import).

    ``e_t = r_t - mu``; ``sigma2_0 = omega + (alpha + beta) * backcast`` and
    ``sigma2_t = omega + alpha * e_{t-1}**2 + beta * sigma2_{t-1}`` (Bollerslev 1986,
    "Generalized autoregressive conditional heteroskedasticity", J. Econometrics 31(3),
    with arch's start-up: the lagged squared residual and variance of ``t = 0`` are the
    backcast, arch docs ``GARCH.compute_variance``); element ``t`` of the result is
    ``omega + alpha * e_t**2 + beta * sigma2_t``, known at the close of ``t``. With the
    parameters of :func:`garch11_parameters` it equals ``GarchForecaster("garch",
    "normal").path(returns).one_step`` (arch's own recursion; tests compare).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns, the first one ending at the second close of the series.
    params : dict
        ``mu`` (percent), ``omega`` (%^2), ``alpha``, ``beta``, ``backcast`` (%^2), as
        :func:`garch11_parameters` stores them.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Variance of percent returns; element ``t`` reads ``returns[: t + 1]`` only.
    """
    e2 = (np.asarray(returns, dtype="float64") - params["mu"]) ** 2
    omega, alpha, beta = params["omega"], params["alpha"], params["beta"]
    out = np.empty(e2.size)
    s = omega + (alpha + beta) * params["backcast"]
    for t, x in enumerate(e2.tolist()):
        s = omega + alpha * x + beta * s
        out[t] = s
    return out


def garch11_h_step(sigma1: float, params: dict[str, Any], horizon: int) -> float:
    """GARCH(1,1) variance of the h-session return from the one-step variance, %^2.

    ``sum_{k=1..h} s_k`` with ``s_1 = sigma1`` and ``s_{k+1} = omega + (alpha + beta)
    s_k``, i.e. ``vbar + (alpha + beta)**(k-1) * (sigma1 - vbar)`` with ``vbar = omega /
    (1 - alpha - beta)`` (the analytic multi-step forecast, Bollerslev 1986; arch's
    ``GARCH.forecast(method="analytic")``; the recursion also covers ``alpha + beta = 1``).
    """
    a, b, w = float(params["alpha"]), float(params["beta"]), float(params["omega"])
    total, s = 0.0, float(sigma1)
    for _ in range(int(horizon)):
        total += s
        s = w + (a + b) * s
    return total


def garch11_forecast(returns, params: dict[str, Any], horizon: int) -> float:
    """GARCH(1,1) variance of the h-session return after the last of ``returns``, %^2:
    the filtered one-step variance at the last close (:func:`garch11_one_step`), summed
    over ``horizon`` steps (:func:`garch11_h_step`).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns from the first return of the fitted sample to the origin.
    params : dict
        As :func:`garch11_one_step`.
    horizon : int
        Sessions, >= 1.
    """
    return garch11_h_step(float(garch11_one_step(returns, params)[-1]), params, horizon)
