"""OHLCV checks applied to every source before anything is written.

Each failed rule raises :class:`~lstmfc.errors.DataError` with one line naming the
problem and the first offending date or column, e.g.
``SP500: high < low on 2020-03-16 (high 2400.0, low 2450.0)``.

Rules (in this order)
---------------------
1. at least one row;
2. required columns present: open, high, low, close, volume;
3. dates strictly increasing: no duplicate date, no date before its predecessor;
4. prices and volume numeric and finite (no NaN, no inf);
5. prices > 0;
6. volume >= 0 (zero is valid: index series have zero-volume days);
7. high >= low;
8. open and close inside [low, high].

Rules 7-8 allow a relative slack of 1e-9 so that float rounding in a CSV (e.g. an
open written as 99.99999999999 against a low of 100.0) is not a false alarm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmfc.errors import DataError
from lstmfc.store import OHLCV_COLUMNS, OPTIONAL_COLUMNS

PRICE_COLUMNS = ("open", "high", "low", "close")
_SLACK = 1e-9


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_ohlcv(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Check an OHLCV frame and return it in the stored layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        Index: dates (``DatetimeIndex``, tz-naive session dates); columns: at least
        ``open, high, low, close, volume`` (currency; shares), optionally ``adj_close``.
    label : str
        Ticker or file name used in messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``open, high, low, close, volume`` (+ ``adj_close``), float64, index
        named ``date`` (layout of :mod:`lstmfc.store`).

    Raises
    ------
    DataError
        The first rule broken (see the module docstring), one line.
    """
    if frame is None or len(frame) == 0:
        raise DataError(f"{label}: no rows of data")
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{label}: missing required column {missing[0]!r}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{label}: the index is not made of dates")
    if frame.index.hasnans:
        raise DataError(f"{label}: a row has no date (row {_first(frame.index.isna()) + 1})")

    idx = frame.index
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    dates = idx.values
    if len(dates) > 1:
        d = np.diff(dates.astype("datetime64[ns]").astype("int64"))
        if (d == 0).any():
            i = _first(d == 0) + 1
            raise DataError(f"{label}: duplicate date {_day(dates[i])}")
        if (d < 0).any():
            i = _first(d < 0) + 1
            raise DataError(
                f"{label}: dates not in increasing order at {_day(dates[i])} "
                f"(after {_day(dates[i - 1])})"
            )

    cols = [c for c in (*OHLCV_COLUMNS, *OPTIONAL_COLUMNS) if c in frame.columns]
    out = pd.DataFrame(index=pd.DatetimeIndex(idx, name="date"))
    for c in cols:
        raw = frame[c]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            i = _first(bad)
            shown = raw.iloc[i]
            if np.isinf(values[i]):
                what = "not finite"
            elif pd.isna(shown) or str(shown).strip() == "":
                what = "missing (NaN)"
            else:
                what = f"not a number ({str(shown)[:20]!r})"
            raise DataError(f"{label}: {c} is {what} on {_day(dates[i])}")
        out[c] = values

    for c in (*PRICE_COLUMNS, *[c for c in OPTIONAL_COLUMNS if c in out]):
        bad = out[c].to_numpy() <= 0
        if bad.any():
            i = _first(bad)
            raise DataError(f"{label}: {c} <= 0 on {_day(dates[i])} ({out[c].iloc[i]:g})")
    bad = out["volume"].to_numpy() < 0
    if bad.any():
        i = _first(bad)
        raise DataError(f"{label}: negative volume on {_day(dates[i])} ({out['volume'].iloc[i]:g})")

    hi, lo = out["high"].to_numpy(), out["low"].to_numpy()
    tol = _SLACK * np.maximum(np.abs(hi), np.abs(lo))
    bad = hi < lo - tol
    if bad.any():
        i = _first(bad)
        raise DataError(f"{label}: high < low on {_day(dates[i])} (high {hi[i]:g}, low {lo[i]:g})")
    for c in ("open", "close"):
        v = out[c].to_numpy()
        bad = (v < lo - tol) | (v > hi + tol)
        if bad.any():
            i = _first(bad)
            raise DataError(
                f"{label}: {c} outside [low, high] on {_day(dates[i])} "
                f"({c} {v[i]:g}, low {lo[i]:g}, high {hi[i]:g})"
            )
    return out
