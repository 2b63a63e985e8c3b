"""Variance proxies: the realised counterpart of each variance forecast, %^2.

A forecast made at origin ``t`` for horizon ``h`` (conventions of
:mod:`lstmfc.volatility.series`) is scored against a proxy built from the target sessions
``t+1 .. t+h`` only:

* :func:`squared_return`, :func:`squared_return_proxy`: the squared percent return over the
  target window (the main proxy; the vol head's target), or the sum of the daily squared
  returns (the daily realised variance; Andersen & Bollerslev 1998);
* :func:`parkinson_variance`, :func:`parkinson_proxy`: Parkinson's (1980) range variance
  from the session high and low, summed over the target sessions (the secondary proxy).

A proxy that is conditionally unbiased for the variance ranks forecasts under QLIKE and
MSE as the true variance would (Patton 2011, "Volatility forecast comparison using
imperfect volatility proxies", J. Econometrics 160(1) 246-256).
"""

from __future__ import annotations

import math

import numpy as np

from lstmfc.core.errors import DataError
from lstmfc.stats.checks import check_horizon, pair, vector
from lstmfc.volatility.series import _origins, _window_sum


def squared_return(returns) -> np.ndarray:
    """Squared percent returns ``R**2``, %^2: the squared-return proxy of each forecast
    whose target window has the percent log return ``R``.

    For a one-session window ``R = r_{t+1}``; for an h-session window ``R = r_{t+1} +
    ... + r_{t+h} = 100 ln(close_{t+h} / close_t)`` (the vol head's target, whose
    prepared column ``target_logret`` is ``R / 100``). Values are not checked, so a
    non-finite return gives a non-finite proxy for the caller to report.

    Parameters
    ----------
    returns : array_like, shape (m,)
        Percent log return of each forecast's target window.

    Returns
    -------
    numpy.ndarray, shape (m,), float64
        %^2.
    """
    r = np.asarray(returns, dtype=np.float64)
    return r * r


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
    r = vector("returns", returns)
    h = check_horizon(horizon)
    o = _origins(origins, r.size, horizon=h)
    if aggregate == "sum_of_squares":
        return _window_sum(squared_return(r), o, h)
    if aggregate == "square_of_sum":
        return squared_return(_window_sum(r, o, h))
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
    hi, lo = pair("high", high, "low", low)
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
    h = check_horizon(horizon)
    return _window_sum(pv, _origins(origins, pv.size, horizon=h), h)
