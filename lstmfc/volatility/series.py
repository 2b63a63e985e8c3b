"""Return series and forecast origins: the conventions every volatility module shares.

Conventions (read these first)
------------------------------
* **Returns.** ``r_t = 100 * log(close_t / close_{t-1})``, **percent log returns**
  (:func:`percent_log_returns`). A return series ``returns`` has shape ``(n,)``;
  ``returns[t]`` is the return that ends at session ``t``. :func:`series_from_frame`
  builds it from an OHLC frame: row ``i`` of the frame becomes session ``i - 1`` (the
  first row has no return and is dropped), and ``high[t]`` / ``low[t]`` / ``dates[t]``
  belong to the same session as ``returns[t]``.
* **Units.** Variances are **variance of percent returns** (%^2); volatilities are
  percent. A daily variance of 1.0 means a 1 % daily standard deviation.
* **Origins and horizon.** A forecast made at the close of session ``t`` (its *origin*)
  for horizon ``h`` is the variance of the h-session return ``r_{t+1} + ... + r_{t+h}``.
  ``origins`` is an int array of shape ``(m,)`` of such ``t``; every function returns one
  value per origin, in the order given (:func:`origins_for_target_dates` picks them by
  the date of the first target session, :func:`last_index_on_or_before` the last
  training return).
* **Errors.** Pure numeric helpers raise ``ValueError`` with a one-line message (bad
  shape, non-finite values, origin out of range, too little history); callers wrap it
  into :class:`lstmfc.core.errors.DataError`. Functions that need the high/low columns
  raise ``DataError`` naming the missing column.

The private checks (``vector``, ``pair``, ``check_horizon``, ``_origins``, ``_train_last``)
and window sums (``_window_sum``, ``trailing_mean``) are shared by
:mod:`lstmfc.volatility.proxies`, :mod:`lstmfc.volatility.models` and
:mod:`lstmfc.volatility.scoring`. Numpy at import; pandas inside the functions that use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmfc.core.errors import DataError
from lstmfc.stats.checks import check_horizon, vector

# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _origins(origins: Any, n: int, *, horizon: int = 0, low: int = 0) -> np.ndarray:
    """Check origins: 1-D ints in ``[low, n - 1 - horizon]`` (horizon 0: no target needed)."""
    arr = np.asarray(origins)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"origins must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        if not np.array_equal(as_int, arr):
            raise ValueError("origins must be integer indices")
        arr = as_int
    arr = arr.astype(np.int64)
    hi = n - 1 - horizon
    bad = np.flatnonzero((arr < low) | (arr > hi))
    if bad.size:
        o = int(arr[bad[0]])
        if o < low:
            why = f"below {low} (too little history)" if low > 0 else "negative"
        else:
            why = f"past {hi}, the last index with {horizon} later returns"
            if not horizon:
                why = f"past the last return index {n - 1}"
        raise ValueError(f"origin {o} at position {int(bad[0])} is {why}")
    return arr


def _train_last(train_last: Any, n: int, min_obs: int) -> int:
    tl = int(train_last)
    if tl != train_last:
        raise ValueError(f"train_last must be an integer index, got {train_last}")
    if not 0 <= tl < n:
        raise ValueError(f"train_last {tl} outside the return series (0..{n - 1})")
    if tl + 1 < min_obs:
        raise ValueError(f"too few training returns: {tl + 1} (need at least {min_obs})")
    return tl


# ---------------------------------------------------------------------------
# series, dates and origins
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VolSeries:
    """Percent log returns with their sessions' dates, high, low and close, aligned.

    Attributes
    ----------
    dates : numpy.ndarray, shape (n,), datetime64[ns]
        Session each return ends at.
    returns : numpy.ndarray, shape (n,)
        ``100 * log(close_t / close_{t-1})``, percent log returns.
    close : numpy.ndarray, shape (n,)
        Close of session t, currency.
    high, low : numpy.ndarray, shape (n,), or None
        High and low of session t, currency; ``None`` when the source frame lacks them.
    """

    dates: np.ndarray
    returns: np.ndarray
    close: np.ndarray
    high: np.ndarray | None = None
    low: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of returns."""
        return int(self.returns.size)


def percent_log_returns(close) -> np.ndarray:
    """Percent log returns ``100 * log(close[1:] / close[:-1])``.

    Parameters
    ----------
    close : array_like, shape (N,)
        Closes in date order, currency, strictly positive.

    Returns
    -------
    numpy.ndarray, shape (N - 1,)
        Percent log returns; element ``i`` ends at ``close[i + 1]``.

    Raises
    ------
    ValueError
        Fewer than 2 closes, non-finite or non-positive closes.
    """
    c = vector("close", close, min_size=2)
    if np.any(c <= 0):
        raise ValueError(f"close must be > 0 (position {int(np.flatnonzero(c <= 0)[0])})")
    return 100.0 * np.diff(np.log(c))


def series_from_frame(frame) -> VolSeries:
    """Build the aligned :class:`VolSeries` from an OHLC(V) frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``close`` (required), ``high`` and ``low`` (optional), a date index in
        ascending order (as returned by ``lstmfc.data.sources.sample.read_sample``).

    Returns
    -------
    VolSeries
        ``n = len(frame) - 1`` returns; the first row only supplies ``close_{-1}``.

    Raises
    ------
    DataError
        No ``close`` column, fewer than 2 rows, non-finite or non-positive prices (the
        message names the column and first bad date), ``high < low``, or only one of
        ``high``/``low`` present.
    """
    import pandas as pd

    if "close" not in frame.columns:
        raise DataError("volatility needs column 'close', which the data lacks")
    if len(frame) < 2:
        raise DataError(f"volatility needs at least 2 rows, got {len(frame)}")
    has = [c for c in ("high", "low") if c in frame.columns]
    if len(has) == 1:
        missing = "low" if has == ["high"] else "high"
        raise DataError(f"volatility needs column '{missing}' together with '{has[0]}'")
    index = pd.DatetimeIndex(frame.index)
    cols = ["close", *has]
    arrays = {}
    for col in cols:
        arr = frame[col].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if bad.size:
            when = index[bad[0]].date()
            raise DataError(f"column '{col}' is missing or not positive on {when}")
        arrays[col] = arr
    if has:
        bad = np.flatnonzero(arrays["high"] < arrays["low"])
        if bad.size:
            raise DataError(f"high below low on {index[bad[0]].date()}")
    return VolSeries(
        dates=index.to_numpy()[1:],
        returns=100.0 * np.diff(np.log(arrays["close"])),
        close=arrays["close"][1:],
        high=arrays["high"][1:] if has else None,
        low=arrays["low"][1:] if has else None,
    )


def last_index_on_or_before(dates, date) -> int:
    """Index of the last session dated on or before ``date`` (e.g. ``train_last``).

    Parameters
    ----------
    dates : array_like, shape (n,)
        Ascending session dates (``VolSeries.dates``).
    date : str or datetime-like

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``date`` is before the first session.
    """
    d = np.asarray(dates, dtype="datetime64[ns]")
    pos = int(np.searchsorted(d, np.datetime64(_to_ns(date)), side="right")) - 1
    if pos < 0:
        raise ValueError(f"no session on or before {date}")
    return pos


def _to_ns(date) -> np.datetime64:
    import pandas as pd

    return pd.Timestamp(date).to_datetime64()


def origins_for_target_dates(dates, first, last, horizon: int = 1) -> np.ndarray:
    """Origins ``t`` whose first target session ``t + 1`` is dated in ``[first, last]``.

    Origins whose h-session window would run past the last return are dropped.

    Parameters
    ----------
    dates : array_like, shape (n,)
        Ascending session dates (``VolSeries.dates``).
    first, last : str or datetime-like
        Inclusive bounds on the date of session ``t + 1``.
    horizon : int, default 1

    Returns
    -------
    numpy.ndarray, shape (m,), int64
        Ascending origins, each with ``t + horizon <= n - 1``.

    Raises
    ------
    ValueError
        No origin falls in the range.
    """
    h = check_horizon(horizon)
    d = np.asarray(dates, dtype="datetime64[ns]")
    t = np.arange(d.size - h, dtype=np.int64)
    target = d[t + 1]
    keep = (target >= _to_ns(first)) & (target <= _to_ns(last))
    if not keep.any():
        raise ValueError(f"no forecast origin with a target session in {first} .. {last}")
    return t[keep]


# ---------------------------------------------------------------------------
# sums and means over windows of sessions
# ---------------------------------------------------------------------------


def _window_sum(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``sum(values[t+1 : t+1+h])`` per origin (exact, no cumulative sums)."""
    idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    return values[idx].sum(axis=1)


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """``mean(values[t-w+1 : t+1])`` at each t, shape ``(n,)``; NaN for ``t < w - 1``
    and where any value of the window is NaN (causal: row ``t`` reads rows ``<= t``)."""
    out = np.full(values.size, np.nan)
    if values.size >= window:
        from numpy.lib.stride_tricks import sliding_window_view

        out[window - 1 :] = sliding_window_view(values, window).mean(axis=1)
    return out
