"""The trading view of a forecast: long/flat on its signal against buy-and-hold.

A forecast's direction becomes a position (long when it expects a rise, flat otherwise;
:func:`price_to_signal`), held for the horizon, with a cost per position change
(:func:`long_flat_backtest`); buy-and-hold is the reference (:func:`buy_and_hold`).
Returns are log returns; annualised figures use :data:`TRADING_DAYS_PER_YEAR`
sessions (Sharpe ratio: mean over standard deviation of the daily strategy returns,
times the square root of that number; Sharpe 1994, "The Sharpe ratio", JPM 21(1)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmfc.stats.checks import binary, finite_or_none, vector, vectors

#: Trading days per year used to annualise daily figures (NYSE convention).
TRADING_DAYS_PER_YEAR = 252


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
    f, c = vectors(y_pred=y_pred, last_close=last_close)
    return (f > c).astype(np.int64)


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
    s, r = vectors(signal=signal, realised_logret=realised_logret)
    pos = binary("signal", s)[::h].astype(np.float64)
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
        "annualised_return": finite_or_none(math.expm1(per_year * float(np.mean(strat)))),
        "annualised_volatility": finite_or_none(vol * math.sqrt(per_year)) if n > 1 else None,
        "sharpe": finite_or_none(sharpe),
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
    r = vector("realised_logret", realised_logret)
    return long_flat_backtest(
        np.ones(r.size),
        r,
        horizon=horizon,
        cost_bps=cost_bps,
        periods_per_year=periods_per_year,
    )
