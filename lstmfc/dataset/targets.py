"""Target columns of the prepared dataset: everything that reads rows after ``t``.

Features (:mod:`lstmfc.dataset.features`) read rows up to ``t`` only; the targets of
the window ending at ``t`` are the one place where later rows are read, and they are
only ever targets, never inputs.

* Step 1 (:func:`build_targets`, :func:`target_frame`): the close ``h`` sessions
  ahead, its log return and direction against the close at ``t``, and, when the series
  has high and low, Parkinson's range variance over sessions ``t+1 .. t+h``
  (``target_parkinson``, the volatility head's secondary proxy).
* The forecast path (``--steps K``): the forecast made at the close of ``t`` is the
  path ``t+h, ..., t+h+K-1``; step ``k`` lies ``h + k - 1`` sessions ahead
  (:func:`step_horizon`). The columns of steps ``2 .. K`` (:func:`add_path_targets`)
  are targets only, and the last ``K - 1`` windows of the training and validation
  splits are left out of every fit (:func:`purged_rows`), since their paths reach past
  the next split's first origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import MAX_STEPS
from lstmfc.volatility.proxies import parkinson_variance

#: Columns of the prepared targets of step 1, in order.
TARGET_COLUMNS = ("close", "target_date", "target_price", "target_logret", "target_direction")
#: Target columns present only when the raw series has them (high/low for Parkinson).
OPTIONAL_TARGET_COLUMNS = ("target_parkinson",)


def build_targets(close: pd.Series, horizon: int = 1) -> pd.DataFrame:
    """Targets ``h`` rows ahead of each date ``t``.

    Parameters
    ----------
    close : pandas.Series
        Close prices (currency), indexed by date, increasing.
    horizon : int
        ``h >= 1``: rows (trading days) ahead.

    Returns
    -------
    pandas.DataFrame
        Index ``date`` (= ``t``), one row per input row, columns

        * ``target_date``: date of row ``t + h``,
        * ``target_price``: ``close[t+h]`` (currency),
        * ``target_logret``: ``log(close[t+h] / close[t])`` (log return),
        * ``target_direction``: 1 if ``close[t+h] > close[t]`` else 0 (pandas
          nullable ``Int8``; a flat close counts as 0).

        The last ``h`` rows have no future: ``NaT`` / ``NaN`` / ``<NA>``. They are never
        window targets.

    Raises
    ------
    UsageError
        If ``horizon < 1``.
    """
    if int(horizon) != horizon or horizon < 1:
        raise UsageError(f"horizon must be an integer >= 1, got {horizon}")
    h = int(horizon)
    c = close.to_numpy(dtype="float64")
    n = len(c)
    future = np.full(n, np.nan)
    future[: max(n - h, 0)] = c[h:]
    idx = close.index
    tdate = pd.Series(idx, index=idx).shift(-h)
    with np.errstate(invalid="ignore", divide="ignore"):
        logret = np.log(future / c)
    direction = pd.array((future > c).astype("int8"), dtype="Int8")
    direction[np.isnan(future)] = pd.NA
    out = pd.DataFrame(
        {
            "target_date": tdate.to_numpy(),
            "target_price": future,
            "target_logret": logret,
            "target_direction": direction,
        },
        index=idx,
    )
    out.index.name = "date"
    return out


def target_frame(close, horizon: int, high=None, low=None):
    """The prepared target rows of a close series: ``close`` plus :func:`build_targets`.

    Parameters
    ----------
    close : pandas.Series
        Closes (currency) indexed by date, increasing.
    horizon : int
    high, low : array_like, shape (n_rows,), optional
        Session highs and lows aligned with ``close`` (currency). When given, the
        column ``target_parkinson`` is added (:func:`parkinson_target`): Parkinson's
        range variance ``(100 ln(high/low))**2 / (4 ln 2)`` summed over rows
        ``t+1 .. t+h``, variance of percent returns (Parkinson 1980, "The extreme value
        method for estimating the variance of the rate of return", J. Business 53(1));
        the secondary proxy of the volatility head. Like every target it reads rows
        after ``t`` and is only ever a target.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TARGET_COLUMNS` (plus ``target_parkinson``), one row per input
        row (the last ``horizon`` rows have no target).

    Raises
    ------
    UsageError
        ``horizon < 1``.
    DataError
        As :func:`parkinson_target`.
    """
    targets = build_targets(close, horizon)
    targets.insert(0, "close", close.to_numpy(dtype="float64"))
    if high is not None and low is not None:
        targets["target_parkinson"] = parkinson_target(high, low, horizon)
    return targets


def parkinson_target(high, low, horizon: int) -> np.ndarray:
    """Parkinson's range variance summed over rows ``t+1 .. t+h`` at each row ``t``, %^2.

    The per-session variance is :func:`lstmfc.volatility.models.parkinson_variance`,
    ``(100 ln(high/low))**2 / (4 ln 2)`` (Parkinson 1980). The validation of the raw
    series admits a high below the low by a relative 1e-9 (float rounding in a CSV,
    :mod:`lstmfc.data.validate`); such a session counts as a zero range. The sums are
    differences of one cumulative sum (they differ from exact per-window sums, as in
    :func:`lstmfc.volatility.models.parkinson_proxy`, by float rounding only: up to
    4e-11 relative on the bundled samples).

    Parameters
    ----------
    high, low : array_like, shape (n_rows,)
        Session highs and lows (currency).
    horizon : int
        ``h >= 1``.

    Returns
    -------
    numpy.ndarray, shape (n_rows,)
        Variance of percent returns; NaN in the last ``h`` rows (no future).

    Raises
    ------
    DataError
        A high or low that is not finite or not positive (the message names it).
    """
    hi, lo = np.asarray(high, "float64"), np.asarray(low, "float64")
    try:
        pv = parkinson_variance(np.maximum(hi, lo), lo)
    except ValueError as exc:
        raise DataError(f"target_parkinson: {exc}") from None
    h, n = int(horizon), len(pv)
    summed = np.full(n, np.nan)
    if n > h:
        csum = np.concatenate([[0.0], np.cumsum(pv)])
        summed[: n - h] = csum[1 + h : n + 1] - csum[1 : n - h + 1]
    return summed


def step_horizon(horizon: int, k: int) -> int:
    """Sessions between the origin and step ``k`` (1-based) of the path: ``h + k - 1``."""
    return int(horizon) + int(k) - 1


def path_columns(k: int) -> tuple[str, ...]:
    """Target columns of step ``k >= 2`` in the prepared targets (step 1: the base ones):
    ``target_date_k``, ``target_price_k``, ``target_logret_k``, ``target_direction_k``."""
    return tuple(f"{name}_{k}" for name in TARGET_COLUMNS[1:])


def add_path_targets(targets, horizon: int, steps: int) -> None:
    """Add the columns of steps ``2 .. K`` to a prepared target frame, in place.

    Step ``k`` of the window ending at row ``t`` is row ``t + h + k - 1``: its date,
    close (``target_price_k``, currency), ``log(close[t+h+k-1] / close[t])`` and
    direction (1 if above ``close[t]``), i.e. :func:`build_targets` at horizon
    ``h + k - 1``. Rows without a full path hold NaN / ``<NA>`` there (they end no
    window). Like every target these read rows after ``t`` and are only ever targets.
    """
    for k in range(2, int(steps) + 1):
        step = build_targets(targets["close"], step_horizon(horizon, k))
        for base, name in zip(TARGET_COLUMNS[1:], path_columns(k), strict=True):
            targets[name] = step[base].array


def step_frame(targets, k: int):
    """Target rows for step ``k`` under the base column names (step 1: unchanged), so
    that a one-step head scores step ``k`` as it scores a single forecast."""
    if k == 1:
        return targets
    d, p, r, u = path_columns(k)
    out = targets[["close", d, p, r, u]].copy()
    out.columns = list(TARGET_COLUMNS)
    out["target_direction"] = out["target_direction"].astype("int8")
    return out


def purged_rows(rows: np.ndarray, steps: int) -> np.ndarray:
    """``rows`` without the last ``steps - 1`` (their paths reach into the next split)."""
    rows = np.asarray(rows)
    cut = int(steps) - 1
    return rows[: len(rows) - cut] if cut > 0 else rows


def check_steps(steps: Any) -> int:
    """``steps`` if it is an integer from 1 to :data:`lstmfc.core.limits.MAX_STEPS`.

    Raises
    ------
    UsageError
        One line naming ``--steps`` and its range.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    return steps
